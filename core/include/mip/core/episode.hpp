#pragma once

// One section of a run (training, validation or testing): its problem, its
// batches and its statistics; and what an episode does with them: forward,
// loss, statistics, aggregates. Includes LibTorch.

#include <cstdint>
#include <memory>
#include <string>

#include <mip/core/batches.hpp>
#include <mip/core/observer.hpp>
#include <mip/core/statistics.hpp>

namespace mip {

class Run;

/// A section's problem, batch stream and statistics.
struct Section {
  std::string name;  ///< "training", "validation" or "testing"
  std::shared_ptr<sdk::Problem> problem;
  std::unique_ptr<BatchStream> stream;
  std::unique_ptr<BatchPrefetcher> batches;  ///< after its stream
  StatisticsCollector col;
  StatisticsAggregator agg;
  /// The first batch of the stream met the problem's data definitions (only
  /// that one is checked: later batches cost nothing more).
  bool batch_checked = false;

  /// (Re)builds the stream of batches from `<name>.problem.batch_size`, the
  /// sampler and dataloader keys; `stream_id` keeps sections' data apart.
  /// With several ranks, each keeps its `shard` of batches of batch_size x
  /// ranks samples (`global_batch`: of batch_size samples).
  void make_stream(const Run& run,
                   uint64_t stream_id,
                   Shard shard = {},
                   bool global_batch = false);
  /// Declares the worker's, the problem's and the model's statistics.
  void declare_statistics(const Run& run, bool with_epoch);
  /// Batch `index`, on the run's device; errors name the problem and batch.
  /// The stream's first batch is checked against the problem's definitions.
  sdk::DataDict batch(const Run& run, int64_t index);
  /// Forward, loss and statistics of one batch; returns the loss value (and
  /// the loss tensor in `loss_out` for a backward pass, the predictions in
  /// `predictions_out`).
  double evaluate(const Run& run,
                  const sdk::DataDict& batch,
                  int64_t episode,
                  int64_t epoch,
                  torch::Tensor* loss_out = nullptr,
                  sdk::DataDict* predictions_out = nullptr);
  /// evaluate(), with `observers` told before and after (batch_starting,
  /// batch_evaluated).
  double evaluate(const Run& run,
                  const sdk::DataDict& batch,
                  const BatchInfo& info,
                  int64_t epoch,
                  Observers& observers,
                  torch::Tensor* loss_out = nullptr);
  /// The aggregates of what `col` collected (nothing when it is empty).
  void aggregate(const Run& run, int64_t episode);
};

}  // namespace mip
