#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace mip::sdk {

/// Per-episode statistics: each key holds the values collected so far in the
/// current epoch (or validation). Formats are fmt/Python format specs such as
/// "{:12.10f}" or "{:06d}"; values are formatted only when written.
/// Example:
///   void add_statistics(StatisticsCollector& col) override {
///     col.add_statistic("acc", "{:12.10f}");
///   }
class StatisticsCollector {
 public:
  virtual ~StatisticsCollector() = default;
  /// Declares `key` with its display format (a no-op if already declared).
  virtual void add_statistic(const std::string& key,
                             const std::string& format) = 0;
  /// Appends one value to `key`.
  virtual void collect(const std::string& key, double value) = 0;
  /// All values of `key` collected since the last reset.
  virtual const std::vector<double>& values(const std::string& key) const = 0;
};

/// Aggregated statistics (per epoch or full validation): one value per key.
class StatisticsAggregator {
 public:
  virtual ~StatisticsAggregator() = default;
  /// Declares `key` with its display format (a no-op if already declared).
  virtual void add_aggregator(const std::string& key,
                              const std::string& format) = 0;
  /// Sets the value of `key`.
  virtual void set(const std::string& key, double value) = 0;
};

/// Declares `key`, `key_min`, `key_max` and `key_std` (MI-Prometheus's
/// columns).
inline void add_mean_std_aggregators(StatisticsAggregator& agg,
                                     const std::string& key,
                                     const std::string& format) {
  for (const char* suffix : {"", "_min", "_max", "_std"})
    agg.add_aggregator(key + suffix, format);
}

/// Sets mean, min, max and unbiased std (0 for one value) of `key`'s values.
inline void aggregate_mean_std(const StatisticsCollector& col,
                               StatisticsAggregator& agg,
                               const std::string& key) {
  const std::vector<double>& v = col.values(key);
  if (v.empty())
    return;
  double sum = 0.0;
  for (double x : v)
    sum += x;
  const double mean = sum / static_cast<double>(v.size());
  double sq = 0.0;
  for (double x : v)
    sq += (x - mean) * (x - mean);
  const double std =
      v.size() > 1 ? std::sqrt(sq / static_cast<double>(v.size() - 1)) : 0.0;
  agg.set(key, mean);
  agg.set(key + "_min", *std::min_element(v.begin(), v.end()));
  agg.set(key + "_max", *std::max_element(v.begin(), v.end()));
  agg.set(key + "_std", std);
}

/// Sets `agg_key` to the sum of `key`'s values (e.g. samples_aggregated).
inline void aggregate_sum(const StatisticsCollector& col,
                          StatisticsAggregator& agg,
                          const std::string& key,
                          const std::string& agg_key) {
  double sum = 0.0;
  for (double x : col.values(key))
    sum += x;
  agg.set(agg_key, sum);
}

/// Declares the two per-episode statistics the accuracy aggregates are
/// computed from: acc and batch_size. Call it in add_statistics() (a problem
/// that declares them itself, in its own column order, need not).
inline void add_accuracy_statistics(StatisticsCollector& col) {
  col.add_statistic("acc", "{:12.10f}");
  col.add_statistic("batch_size", "{:06d}");
}

/// MI-Prometheus's aggregates of classification and sequence problems:
/// acc, acc_min, acc_max, acc_std and samples_aggregated (the sum of the
/// collected batch_size). Pair with aggregate_accuracy(); they need the
/// statistics add_accuracy_statistics() declares (an undeclared one is an
/// error naming it and the component).
inline void add_accuracy_aggregators(StatisticsAggregator& agg) {
  add_mean_std_aggregators(agg, "acc", "{:12.10f}");
  agg.add_aggregator("samples_aggregated", "{:06d}");
}

/// Sets the aggregates declared by add_accuracy_aggregators().
inline void aggregate_accuracy(const StatisticsCollector& col,
                               StatisticsAggregator& agg) {
  aggregate_mean_std(col, agg, "acc");
  aggregate_sum(col, agg, "batch_size", "samples_aggregated");
}

}  // namespace mip::sdk
