#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <mip/sdk/context.hpp>
#include <mip/sdk/data.hpp>
#include <mip/sdk/statistics.hpp>

namespace mip::sdk {

/// A data set or data generator plus its loss and statistics (MI-Prometheus's
/// Problem). Batches are DataDicts; every random draw must come from the
/// generator get_batch() receives, so that runs and resumes are reproducible.
/// Example:
///   class Copy : public mip::sdk::Problem {
///    public:
///     explicit Copy(mip::sdk::Context& ctx);
///     DataDefinitions data_definitions() const override;
///     DataDefinitions prediction_definitions() const override;
///     int64_t size() const override { return 1000000; }
///     DataDict get_batch(const std::vector<int64_t>& idx,
///                        at::Generator& gen) override;
///     at::Tensor evaluate_loss(const DataDict& batch,
///                              const DataDict& predictions) override;
///   };
///   MIP_REGISTER_PROBLEM(Copy, "Copy", "copy task");
class Problem {
 public:
  virtual ~Problem() = default;

  /// Every tensor a batch holds: key, shape (-1 = any), dtype.
  virtual DataDefinitions data_definitions() const = 0;
  /// The model outputs evaluate_loss() needs (usually "predictions").
  virtual DataDefinitions prediction_definitions() const = 0;
  /// Values a model sizes itself from (input_item_size, num_classes, ...);
  /// they become defaults of the `model` section.
  virtual std::map<std::string, double> default_values() const { return {}; }

  /// Number of samples in one epoch (a generator's nominal size).
  virtual int64_t size() const = 0;
  /// Builds the batch holding the samples `indices` (a generator may only use
  /// indices.size()). Draw randomness from `gen` alone. May run on a
  /// background thread, concurrently with the other methods.
  virtual DataDict get_batch(const std::vector<int64_t>& indices,
                             at::Generator& gen) = 0;
  /// The loss to minimise (a scalar tensor with grad).
  virtual at::Tensor evaluate_loss(const DataDict& batch,
                                   const DataDict& predictions) = 0;

  /// Declares per-episode statistics.
  virtual void add_statistics(StatisticsCollector& /*col*/) {}
  /// Appends this episode's statistics.
  virtual void collect_statistics(StatisticsCollector& /*col*/,
                                  const DataDict& /*batch*/,
                                  const DataDict& /*predictions*/) {}
  /// Declares aggregated statistics.
  virtual void add_aggregators(StatisticsAggregator& /*agg*/) {}
  /// Computes aggregates from the collected values.
  virtual void aggregate_statistics(const StatisticsCollector& /*col*/,
                                    StatisticsAggregator& /*agg*/) {}

  /// Hooks at the start and the end of each epoch.
  virtual void initialize_epoch(int64_t /*epoch*/) {}
  virtual void finalize_epoch(int64_t /*epoch*/) {}

  /// Reads the `curriculum_learning` section (called only when it exists).
  virtual void curriculum_learning_initialize(const ParamView& /*section*/) {}
  /// Sets the curriculum for the episodes after `episode`; returns true once
  /// the curriculum is complete. Must depend on `episode` alone (resume).
  virtual bool curriculum_learning_update_params(int64_t /*episode*/) {
    return true;
  }
};

}  // namespace mip::sdk
