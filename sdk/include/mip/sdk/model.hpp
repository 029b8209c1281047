#pragma once

#include <torch/nn/module.h>

#include <mip/sdk/context.hpp>
#include <mip/sdk/data.hpp>
#include <mip/sdk/statistics.hpp>

namespace mip::sdk {

/// A network (MI-Prometheus's Model): a torch::nn::Module that maps a batch to
/// named predictions and declares what it reads and writes, so the host can
/// check it against the problem before training.
/// Example:
///   class Mlp : public mip::sdk::Model {
///    public:
///     explicit Mlp(mip::sdk::Context& ctx);
///     DataDefinitions input_definitions() const override;
///     DataDefinitions output_definitions() const override;
///     DataDict forward(const DataDict& batch) override;
///   };
///   MIP_REGISTER_MODEL(Mlp, "Mlp", "two-layer perceptron");
class Model : public torch::nn::Module {
 public:
  /// Tensors the model reads from a batch.
  virtual DataDefinitions input_definitions() const = 0;
  /// Tensors the model writes (e.g. "predictions").
  virtual DataDefinitions output_definitions() const = 0;
  /// Maps a batch to predictions.
  virtual DataDict forward(const DataDict& batch) = 0;

  /// Statistics hooks, as on Problem.
  virtual void add_statistics(StatisticsCollector& /*col*/) {}
  virtual void collect_statistics(StatisticsCollector& /*col*/,
                                  const DataDict& /*batch*/,
                                  const DataDict& /*predictions*/) {}
  virtual void add_aggregators(StatisticsAggregator& /*agg*/) {}
  virtual void aggregate_statistics(const StatisticsCollector& /*col*/,
                                    StatisticsAggregator& /*agg*/) {}
};

}  // namespace mip::sdk
