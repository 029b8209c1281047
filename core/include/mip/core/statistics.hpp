#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mip/sdk/statistics.hpp>

namespace mip {

/// Formats `value` with a fmt/Python spec ("{:12.10f}", "{:06d}", "{:d}");
/// integer specs round the value.
std::string format_statistic(const std::string& format, double value);

/// Keys in declaration order with their formats (shared by both tables).
class StatisticsTable {
 public:
  /// Declares a key; the first declaration's format stays.
  void declare(const std::string& key, const std::string& format);
  const std::vector<std::string>& keys() const { return keys_; }
  const std::string& format(const std::string& key) const;
  bool declared(const std::string& key) const { return index_.count(key) != 0; }
  /// "key1,key2,..." (MI-Prometheus's CSV header).
  std::string csv_header() const;

 protected:
  size_t index(const std::string& key) const;

  std::vector<std::string> keys_;
  std::vector<std::string> formats_;
  std::map<std::string, size_t> index_;
};

/// Per-episode values (MI-Prometheus's StatisticsCollector).
class StatisticsCollector final : public sdk::StatisticsCollector,
                                  public StatisticsTable {
 public:
  void add_statistic(const std::string& key,
                     const std::string& format) override;
  void collect(const std::string& key, double value) override;
  const std::vector<double>& values(const std::string& key) const override;
  /// Replaces the last value of `key` (one was collected).
  void set_last(const std::string& key, double value);
  /// Forgets every value (keys stay).
  void reset();
  /// Number of values collected under the first key.
  size_t count() const;
  /// The last value of each key, formatted, comma-joined (CSV row).
  std::string csv_row() const;
  /// "key value; key value; ... [tag]" from the last values.
  std::string line(const std::string& tag) const;

 private:
  std::vector<std::vector<double>> values_;
};

/// Aggregated values (MI-Prometheus's StatisticsAggregator).
class StatisticsAggregator final : public sdk::StatisticsAggregator,
                                   public StatisticsTable {
 public:
  void add_aggregator(const std::string& key,
                      const std::string& format) override;
  void set(const std::string& key, double value) override;
  double get(const std::string& key) const;
  std::string csv_row() const;
  std::string line(const std::string& tag) const;

 private:
  std::vector<double> values_;
};

/// A CSV file written row by row. Rows come as text (write()) or as the last
/// values of a collector (write_last(): formatted later, on a background
/// thread after flush_async(), so that the training loop only copies
/// numbers). flush() returns once everything queued is on disk.
class CsvWriter {
 public:
  CsvWriter() = default;
  ~CsvWriter();
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;
  /// Creates the file with `header`, or appends when `append` and it exists.
  void open(const std::string& path, const std::string& header, bool append);
  /// Writes one formatted row (after every queued one).
  void write(const std::string& row);
  /// Queues the last value of every key of `col` (empty cell for none).
  void write_last(const StatisticsCollector& col);
  /// Hands the queued rows to the background formatter; does not wait.
  /// Throws mip::Error when an earlier background write failed.
  void flush_async();
  /// Formats and writes everything queued; returns when it is on disk.
  /// Throws mip::Error naming the file and the free space when a write
  /// failed (the file is cut back to its last complete row).
  void flush();
  /// flush(), then fsync: the rows survive a power loss (at checkpoints).
  void sync();
  /// Flushes what it can and closes; never throws.
  void close() noexcept;
  bool is_open() const { return file_ != nullptr; }

 private:
  struct Rows {
    std::vector<double> values;
    std::vector<char> present;
  };
  void format_and_write(const Rows& rows);
  void loop();
  void put(const char* data, size_t n);  ///< records the first error
  void commit();  ///< fflush; on error, back to the last complete row
  void check();   ///< throws the recorded error (once)

  std::atomic<int> error_{0};  ///< errno of the first failed write
  bool reported_ = false;      ///< error_ was thrown
  long good_size_ = 0;         ///< bytes on disk up to the last complete row

  std::FILE* file_ = nullptr;
  std::string path_;
  std::vector<std::string> formats_;  ///< of the queued rows' columns
  Rows staged_;                       ///< queued by the training thread
  Rows pending_;                      ///< handed to the formatter
  bool busy_ = false;
  bool stop_ = false;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace mip
