#pragma once

// Batches: which samples an epoch visits (samplers), the deterministic stream
// of batches of one problem, and making them ahead on a background thread.
// Includes LibTorch.

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <array>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mip/sdk/data.hpp>

namespace mip::sdk {
class Problem;
}  // namespace mip::sdk

namespace mip {

class ParamRegistry;

/// Which samples an epoch visits and in which order (MI-Prometheus's
/// `sampler` and `dataloader.shuffle` keys of a section).
struct SamplerSpec {
  std::string name;              ///< "" when none is configured
  std::vector<int64_t> indices;  ///< SubsetRandomSampler's subset (empty: all)
  bool shuffle = true;           ///< new order every epoch
  static SamplerSpec from_config(const ParamRegistry& registry,
                                 const std::string& section);
};

/// This process's share of every batch in data-parallel training: rank r of
/// `world` keeps rows [r*n/world, (r+1)*n/world) of each batch of n samples.
struct Shard {
  int rank = 0;
  int world = 1;
};

/// The batches of one problem, each a pure function of (seed, stream, index):
/// index i belongs to epoch i / batches_per_epoch(); the order of an epoch
/// comes from (seed, epoch). A resumed or re-run experiment sees the same
/// batches.
class BatchStream {
 public:
  BatchStream(std::shared_ptr<sdk::Problem> problem,
              int64_t batch_size,
              uint64_t seed,
              uint64_t stream,
              SamplerSpec sampler);
  /// ceil(samples / batch_size): episodes per epoch.
  int64_t batches_per_epoch() const;
  /// The batch with the given global index.
  sdk::DataDict batch(int64_t index);
  /// Samples one epoch visits.
  int64_t size() const { return size_; }
  /// Keep only this rank's rows of every batch (the whole batch is made,
  /// then cut along dimension 0). Throws ConfigError naming `what` when a
  /// batch would leave a rank without samples.
  void set_shard(Shard shard, const std::string& what);
  /// Samples of batch `index`: this rank's, and the whole batch's.
  std::pair<int64_t, int64_t> shard_rows(int64_t index) const;

 private:
  uint64_t batch_seed(int64_t index) const;
  /// Rows of batch `index` (the last of an epoch may be short).
  int64_t rows(int64_t index) const;

  std::shared_ptr<sdk::Problem> problem_;
  int64_t batch_size_;
  int64_t size_ = 0;
  uint64_t seed_;
  uint64_t stream_;
  SamplerSpec sampler_;
  Shard shard_;
  at::Generator generator_;
  std::vector<int64_t> indices_;
  torch::Tensor perm_;
  int64_t perm_epoch_ = -1;
};

/// How a section's batches are made ahead of training: MI-Prometheus's
/// `dataloader` keys plus two of PyTorch's DataLoader (`prefetch_factor`) and
/// ours (`prefetch: auto | true | false`).
struct PrefetchSpec {
  enum class Mode { kAuto, kOn, kOff };
  Mode mode = Mode::kAuto;
  /// Batches made ahead (`dataloader.prefetch_factor`); 0: from the size of
  /// a batch, as many as fit in kAutoBytes, 2 to 64.
  int depth = 0;
  static PrefetchSpec from_config(const ParamRegistry& registry,
                                  const std::string& section);
};

/// Makes the batches of a stream ahead of training, on one background thread,
/// up to `depth` batches ahead and never past the end set by
/// make_ahead_until() (an epoch
/// end: the curriculum may change the problem there). take() returns exactly
/// what BatchStream::batch(index) would, so runs stay reproducible. In auto
/// mode the first kProbeBatches batches are made in line and timed; when
/// their median costs less than kMinPrefetchMicros, batches stay in line (the
/// hand-off would cost more than it saves) and no thread is started.
class BatchPrefetcher {
 public:
  explicit BatchPrefetcher(BatchStream& stream, PrefetchSpec spec = {});
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;
  /// Batches with indices below `end` may be made ahead. Call it where the
  /// problem may change (epoch starts), before take(): the thread is idle
  /// there, since it never goes past the previous end.
  void make_ahead_until(int64_t end);
  /// Batch `index`: made ahead, or made now.
  sdk::DataDict take(int64_t index);

  static constexpr double kMinPrefetchMicros = 10.0;
  /// The threshold when LibTorch's intra-op threads already use every core:
  /// the batch thread then takes time from them, which pays off only for
  /// costly batches.
  static constexpr double kBusyMinPrefetchMicros = 1000.0;
  static constexpr int kProbeBatches = 8;
  static constexpr int64_t kAutoBytes = int64_t{16} << 20;

 private:
  struct Made {
    int64_t index;
    sdk::DataDict batch;
    std::exception_ptr error;
  };
  void start(int64_t next, const sdk::DataDict& made);
  void loop();
  bool has_work() const;
  sdk::DataDict make_in_line(std::unique_lock<std::mutex>& lock, int64_t index);

  BatchStream& stream_;
  PrefetchSpec spec_;
  size_t depth_ = 1;
  std::mutex mutex_;
  std::condition_variable work_cv_;   ///< the thread waits here for work
  std::condition_variable ready_cv_;  ///< take() waits here for a batch
  std::deque<Made> made_;             ///< batches made ahead, in order
  int64_t next_ = 0;                  ///< the next index the thread makes
  int64_t end_ = 0;                   ///< it makes indices below this
  int64_t making_ = -1;               ///< index being made (-1: idle)
  bool paused_ = false;               ///< take() makes a batch in line
  bool stop_ = false;
  bool enabled_ = false;
  int probes_ = 0;
  std::array<double, kProbeBatches> probe_micros_{};
  std::thread thread_;
};

}  // namespace mip
