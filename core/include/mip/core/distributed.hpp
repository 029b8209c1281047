#pragma once

// Data-parallel training on c10d: where a process stands among the ranks of
// one run (from --nproc's launch, torchrun or srun), the local launcher of
// --nproc, and what wraps the training step: parameters broadcast from rank
// 0, gradients all-reduced in buckets during the backward pass, statistics
// reduced so that every rank records the same values. docs/distributed.md
// describes the behaviour. No LibTorch header here: the c10d types stay in
// core/src/distributed/.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace at {
class Tensor;
}  // namespace at

namespace mip {

class ParamRegistry;
class StatisticsCollector;
struct WorkerOptions;

/// This process's place among the ranks of a run, read from the environment
/// (RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT, torchrun's agent
/// store, or Slurm's SLURM_PROCID/SLURM_STEP_NUM_TASKS/SLURM_LOCALID).
struct RankPlace {
  int rank = 0;
  int world = 1;  ///< 1: a single process (no c10d at all)
  int local_rank = 0;
  std::string master_addr;  ///< where the TCPStore is served
  int master_port = 29500;
  /// torchrun's agent (or --nproc's launcher) serves the store: every rank
  /// is a client, under the prefix below.
  bool agent_store = false;
  std::string store_prefix;
  std::string source;  ///< "torchrun", "srun", "--nproc", "environment"
  bool launched_by_nproc = false;  ///< a child of --nproc

  /// Reads the environment; world 1 when no launcher set it. Throws
  /// ConfigError naming the variable when a value is missing or bad.
  static RankPlace from_environment();
};

/// `distributed` keys of the configuration.
struct DataParallelSettings {
  /// per_rank: each rank gets batch_size samples (the global batch is
  /// batch_size x world); global: batch_size is split among the ranks.
  bool global_batch = false;
  double bucket_mb = 25.0;  ///< gradient bucket size
  static DataParallelSettings from_config(const ParamRegistry& registry);
};

/// One rank of a data-parallel run: the process group (Gloo on CPU, NCCL on
/// CUDA builds with --gpu) and the collectives the trainer needs. Every
/// method is collective: all ranks call it in the same order.
class DataParallel {
 public:
  /// Joins the process group of `place` (world > 1); a collective that
  /// waits longer than `timeout` fails (a rank died or hangs).
  DataParallel(const RankPlace& place,
               std::chrono::milliseconds timeout,
               bool gpu);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const;
  int world() const;
  /// "rank 1 of 2": how messages name this process.
  std::string who() const;

  /// Rank 0's `value` on every rank (a seed rank 0 drew is the seed of all).
  int64_t broadcast_from_rank0(int64_t value);
  /// Copies rank 0's values of `tensors` (parameters, buffers) into every
  /// rank's.
  void broadcast_from_rank0(const std::vector<at::Tensor>& tensors);
  /// Fails on every rank when the ranks disagree on `value` (`what` names
  /// it in the error).
  void check_same(int64_t value, const std::string& what);

  /// Registers the gradient hooks on `params` (buckets in reverse order, as
  /// the backward pass produces them).
  void attach(const std::vector<at::Tensor>& params, double bucket_mb);
  /// Before a backward pass: this rank's gradient counts `weight` (its
  /// samples over the global batch's).
  void begin_step(double weight);
  /// After the backward pass: launches what is left, waits for every
  /// bucket, and sets every parameter's gradient to the all-ranks sum of the
  /// weighted gradients.
  void finish_step();

  /// Reduces the values `col` collected since `before` (its value counts per
  /// key, taken before the evaluation) over the ranks: `batch_size` is
  /// summed, every other key is the mean weighted by `samples`. Also agrees
  /// on a stop signal: agreed_stop() then tells whether any rank got one.
  void reduce_statistics(StatisticsCollector& col,
                         const std::vector<size_t>& before,
                         double samples);
  /// The signal any rank had received at the last reduction (0: none).
  int agreed_stop() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The value counts per key of `col` (what reduce_statistics() needs).
std::vector<size_t> value_counts(const StatisticsCollector& col);

/// --nproc N: runs N ranks of this worker on the loopback (the same command
/// line; RANK... in their environment; this process serves their store),
/// forwards SIGINT/SIGTERM/SIGHUP, and ends them all when one fails.
/// Returns the exit code (rank 0's when it failed, else the first failing
/// rank's).
int launch_local_ranks(const WorkerOptions& options, int nproc);

}  // namespace mip
