#pragma once

// The training machinery shared by the workers. Includes LibTorch: include it
// only from the few files that run training.

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <array>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <mip/core/checkpoint.hpp>
#include <mip/core/experiment.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/plugin_loader.hpp>
#include <mip/core/registry.hpp>
#include <mip/core/statistics.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/data.hpp>
#include <mip/sdk/error.hpp>

namespace mip::sdk {
class Problem;
class Model;
}  // namespace mip::sdk

namespace mip {

/// --gpu without CUDA.
class NoCudaError : public Error {
 public:
  using Error::Error;
};

/// Training cannot go on (NaN loss, ...).
class TrainingFailed : public Error {
 public:
  using Error::Error;
};

/// SIGINT/SIGTERM set a flag the loop polls; stop_requested() returns it.
void install_stop_handlers();
int stop_requested();

/// Which samples an epoch visits and in which order (MI-Prometheus's
/// `sampler` and `dataloader.shuffle` keys of a section).
struct SamplerSpec {
  std::string name;              ///< "" when none is configured
  std::vector<int64_t> indices;  ///< SubsetRandomSampler's subset (empty: all)
  bool shuffle = true;           ///< new order every epoch
  static SamplerSpec from_config(const ParamRegistry& registry,
                                 const std::string& section);
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

 private:
  uint64_t batch_seed(int64_t index) const;

  std::shared_ptr<sdk::Problem> problem_;
  int64_t batch_size_;
  int64_t size_ = 0;
  uint64_t seed_;
  uint64_t stream_;
  SamplerSpec sampler_;
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
/// up to `depth` batches ahead and never past the end set by plan() (an epoch
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
  void plan(int64_t end);
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

/// The path of the BLAS library LibTorch runs on, and a warning when it is
/// the slow reference BLAS or OpenBLAS's pthread build ("" when fine).
std::string blas_warning();

/// Builds a torch optimizer from a section such as `training.optimizer`
/// (`name` plus keyword arguments; unknown arguments are errors).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(
    const sdk::ParamView& section, std::vector<torch::Tensor> params);

/// A learning-rate schedule, stepped at epoch ends and validations.
class LrScheduler {
 public:
  virtual ~LrScheduler() = default;
  virtual void epoch_end(int64_t epochs_done) = 0;
  virtual void validation(double loss) = 0;
  /// State to checkpoint, and its restoration on resume.
  virtual std::vector<double> state() const = 0;
  virtual void restore(const std::vector<double>& state,
                       int64_t epochs_done) = 0;
};

/// Builds a scheduler from `training.scheduler` (StepLR, MultiStepLR,
/// ExponentialLR, CosineAnnealingLR, ReduceLROnPlateau).
std::unique_ptr<LrScheduler> make_scheduler(const sdk::ParamView& section,
                                            torch::optim::Optimizer& optimizer);

/// Statistics of one stream of episodes (training, validation or testing):
/// collector, aggregator and their two CSV files.
struct StatisticsSet {
  StatisticsCollector col;
  StatisticsAggregator agg;
  CsvWriter episodes;    ///< one row per episode (or validation)
  CsvWriter aggregates;  ///< one row per aggregation
};

/// What every worker shares: configuration, plugins, components, seeds,
/// device, experiment folder, statistics plumbing.
class Session {
 public:
  Session(WorkerOptions options, std::string worker_defaults_yaml);
  virtual ~Session();
  /// Marks status.yaml (once this run has started writing its folder).
  void mark(RunState state, const std::string& cause);

 protected:
  void configure(const std::vector<std::string>& files);
  const Component& problem_component(const std::string& section);
  const Component& model_component();
  /// Unknown keys are errors (warnings with --lenient); model keys are only
  /// checked once `model_known`.
  void check_keys(bool model_known);
  void log_plugin_warnings();
  std::shared_ptr<sdk::Problem> build_problem(const Component& c,
                                              const std::string& section);
  /// Adds the problem's default values (sizes) as defaults of `model`.
  void add_problem_values(const sdk::Problem& problem,
                          const std::string& problem_name);
  std::shared_ptr<sdk::Model> build_model(const Component& c);
  void check_fit(const sdk::Problem& problem, const std::string& section);
  void seed(const std::string& section);
  void setup_device();
  void log_model_summary();
  /// Declares the worker's, the problem's and the model's statistics.
  void declare_statistics(sdk::Problem& problem,
                          StatisticsSet& stats,
                          bool with_epoch);
  /// Forward, loss and statistics of one batch; returns the loss value.
  double forward_and_collect(sdk::Problem& problem,
                             const sdk::DataDict& batch,
                             StatisticsCollector& col,
                             int64_t episode,
                             int64_t epoch,
                             torch::Tensor* loss_out);
  void aggregate(const StatisticsCollector& col,
                 StatisticsAggregator& agg,
                 sdk::Problem& problem,
                 int64_t episode);
  /// Batch `index` of a section (`what`: "training", "validation", ...), on
  /// the device; errors name the problem and the batch.
  sdk::DataDict next_batch(BatchPrefetcher& batches,
                           int64_t index,
                           const std::string& what);
  /// Runs plugin code, naming the component when it throws. `who` is a
  /// string, or a callable making one (built only on error: the hot path
  /// formats nothing).
  template <typename W, typename F>
  auto guarded(W&& who, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (...) {
      if constexpr (std::is_invocable_v<W>)
        rethrow_with_context(who());
      else
        rethrow_with_context(who);
    }
  }

  WorkerOptions opts_;
  std::string worker_defaults_;
  Logger& log_;
  ParamRegistry registry_;
  std::unique_ptr<PluginLoader> loader_;
  std::string dir_;
  RunStatus status_;
  uint64_t seed_torch_ = 0;
  uint64_t seed_data_ = 0;
  torch::Device device_{torch::kCPU};
  std::string problem_name_;
  std::string model_name_;
  std::shared_ptr<sdk::Model> model_;
  bool warned_plugins_ = false;
  bool started_ = false;  ///< the run owns dir_ (status.yaml written by it)
};

/// mip-online-trainer and mip-offline-trainer: one loop, two schedules of
/// validation and terminal conditions (MIP-BEHAVIOUR.md section 3.2).
class Trainer final : public Session {
 public:
  enum class Mode { kOnline, kOffline };
  Trainer(WorkerOptions options, Mode mode);
  void setup();
  int train();

 private:
  double partial_validation(int64_t episode, int64_t epoch);
  double full_validation(int64_t episode, int64_t epoch);
  CheckpointMeta meta(int64_t episode,
                      int64_t epoch,
                      double loss,
                      const std::string& status) const;
  void save_best_if_better(double loss,
                           int64_t episode,
                           int64_t epoch,
                           const std::string& status);
  /// After a validation that counts: best model, scheduler, loss_stop
  /// (`kind` is "Partial" or "Full"); true when the run converged.
  bool after_validation(double loss,
                        int64_t episode,
                        int64_t epoch,
                        const std::string& kind,
                        std::string& cause);
  void save_last(int64_t episode,
                 int64_t epoch,
                 double loss,
                 const std::string& status);
  void resume_from_checkpoint();
  void curriculum_at(int64_t episode);
  bool curriculum_enabled() const;
  void open_experiment();

  Mode mode_;
  std::shared_ptr<sdk::Problem> train_problem_;
  std::shared_ptr<sdk::Problem> valid_problem_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<LrScheduler> scheduler_;
  std::unique_ptr<BatchStream> train_stream_;
  std::unique_ptr<BatchStream> valid_stream_;
  PrefetchSpec train_prefetch_;
  std::unique_ptr<BatchPrefetcher> valid_batches_;  ///< after its stream
  sdk::DataDict validation_batch_;
  double loss_stop_ = 1e-5;
  int64_t episode_limit_ = -1;
  int64_t epoch_limit_ = -1;
  int64_t interval_ = -1;
  int64_t early_stop_ = -1;
  double early_stop_delta_ = 0.0;
  double clip_value_ = 0.0;
  double clip_norm_ = 0.0;
  bool curriculum_done_ = true;
  bool must_finish_ = false;
  double best_loss_ = std::numeric_limits<double>::infinity();
  int64_t best_episode_ = -1;
  int64_t stale_validations_ = 0;
  // Where the loop starts (after a resume: the episode after the checkpoint).
  int64_t start_episode_ = 0;
  int64_t start_epoch_ = 0;
  bool resumed_ = false;
  StatisticsSet train_, valid_;
};

/// mip-tester: one pass over the testing section's problem with a trained
/// model; writes a test folder beside the training's.
class Tester final : public Session {
 public:
  explicit Tester(WorkerOptions options);
  void setup();
  int test();

 private:
  /// testing.multi_tests: {leaf: [v1, v2, ...]}, one test per index.
  void read_multi_tests();
  void prepare_test(size_t index);
  /// The testing stream and episode count of the current problem.
  void make_stream();

  std::string checkpoint_;
  const Component* test_component_ = nullptr;
  std::vector<std::pair<std::string, std::vector<std::string>>> multi_tests_;
  std::shared_ptr<sdk::Problem> problem_;
  std::unique_ptr<BatchStream> stream_;
  std::unique_ptr<BatchPrefetcher> batches_;  ///< after its stream
  int64_t episodes_ = 0;
  StatisticsSet stats_;
};

/// Runs a worker body, mapping errors to exit codes, logging them and
/// marking the experiment failed (what was written stays).
int run_worker(const std::function<int()>& body,
               Session* session,
               const std::string& worker);

/// Removes the rows of a statistics CSV whose `episode` column is above
/// `last_episode` (used on resume; rewritten atomically).
void truncate_csv_after(const std::string& path, int64_t last_episode);

}  // namespace mip
