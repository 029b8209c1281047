#pragma once

// How numbers, statistics lines and the progress line look on the console.
// The CSV files and the log file keep MI-Prometheus's full formats; the
// console gets fewer digits, in aligned columns. No LibTorch here.

#include <cstdint>
#include <map>
#include <string>

namespace mip {

class StatisticsTable;
class StatisticsCollector;
class StatisticsAggregator;

/// A statistic for the console: an integer format ("{:06d}") gives the
/// integer, anything else 4 decimals ("0.6931"), or 3 significant digits in
/// scientific notation outside [0.001, 100000) ("1.235e-05").
std::string short_value(const std::string& format, double value);

/// A duration as "m:ss" or "h:mm:ss" ("--:--" when not finite or negative).
std::string format_duration(double seconds);

/// `word` as one shell word: as is when it holds only characters no shell
/// treats specially, else in single quotes.
std::string shell_quote(const std::string& word);

/// The statistic shown beside the loss: "acc" when declared, else the first
/// statistic after loss, episode and epoch that is not an integer ("" when
/// there is none).
std::string main_statistic(const StatisticsTable& table);

/// Statistics lines for the console, "key value; key value; ... [Tag]" as in
/// the log file but with short values right-aligned in columns that keep
/// their width from line to line (a column only widens).
class ConsoleLines {
 public:
  std::string line(const StatisticsCollector& col, const std::string& tag);
  std::string line(const StatisticsAggregator& agg, const std::string& tag);

 private:
  /// `value` right-aligned in the column of `key` (at least `min` wide).
  std::string cell(const std::string& key, std::string value, size_t min);
  std::map<std::string, size_t> width_;
};

/// What the progress line shows.
struct ProgressView {
  std::string label;   ///< "Training", "Validation", "Test"
  int64_t done = 0;    ///< episodes (batches) done
  int64_t total = -1;  ///< the limit; <= 0: none (no bar, no ETA)
  int64_t epoch = -1;  ///< shown as "epoch E/N" when epochs > 0
  int64_t epochs = -1;
  double loss = 0.0;  ///< smoothed
  bool has_loss = false;
  std::string stat;         ///< the main statistic's name ("" for none)
  double stat_value = 0.0;  ///< smoothed
  bool has_stat = false;
  std::string stat_format;  ///< its format, for short_value
  double rate = 0.0;        ///< episodes per second (0: not known yet)
  std::string rate_unit = "ep/s";
};

/// The progress line, at most `width - 1` characters (it must never wrap):
/// "Training  42% [########..........] 2100/5000  loss 0.4123  acc 0.8125
/// 81.2 ep/s  ETA 0:36". Parts are dropped from the right as space runs out.
std::string render_progress(const ProgressView& view, int width);

}  // namespace mip
