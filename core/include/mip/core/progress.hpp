#pragma once

// Where a training run stands: everything a checkpoint restores beside the
// weights and the optimizer, as one value, saved and restored in one place.

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <mip/core/checkpoint.hpp>

namespace mip {

struct TrainingProgress {
  /// The last completed episode (-1: none yet).
  int64_t last_episode = -1;
  /// Completed epochs: the epoch the next episode belongs to.
  int64_t epoch = 0;
  /// The best counted validation loss so far, and its episode.
  double best_loss = std::numeric_limits<double>::infinity();
  int64_t best_episode = -1;
  /// Counted validations in a row without an improvement (early stopping).
  int64_t stale_validations = 0;
  /// The learning-rate scheduler's state (named numbers; empty: none).
  std::map<std::string, double> scheduler;
  /// The training statistics collected so far in the current epoch (the
  /// epoch's aggregates need them after a resume).
  std::map<std::string, std::vector<double>> epoch_statistics;
  /// Data-parallel ranks the run trains on (1: one process).
  int64_t world_size = 1;
  /// LibTorch's CPU generator (dropout, anything a model draws at run time).
  std::vector<uint8_t> torch_cpu_rng;

  /// The episode the loop runs next.
  int64_t next_episode() const { return last_episode + 1; }

  /// Records a counted validation loss of `episode`. A loss below the best
  /// by more than `min_delta` resets the stale count, anything else adds one;
  /// returns true when the loss is a new best (a model_best.pt to write).
  bool record_validation(double loss, int64_t episode, double min_delta);

  /// Takes the state of LibTorch's CPU generator now / puts it back.
  void capture_rng();
  void restore_rng() const;

  /// Writes the counters into `meta` and the rest into `extra`.
  void save(CheckpointMeta& meta, CheckpointExtra& extra) const;
  /// The progress a checkpoint recorded (checkpoints of 0.1.0, with a plain
  /// scheduler list, included).
  static TrainingProgress load(const CheckpointMeta& meta,
                               const CheckpointExtra& extra);
};

}  // namespace mip
