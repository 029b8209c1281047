#pragma once

// The training machinery shared by the trainer workers. Includes LibTorch:
// include it only from the few files that run training.

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <functional>
#include <limits>
#include <memory>
#include <string>
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

/// The batches of one problem, each a pure function of (seed, stream, index):
/// index i belongs to epoch i / batches_per_epoch(); data sets are shuffled
/// per epoch. A resumed or re-run experiment sees the same batches.
class BatchStream {
 public:
  BatchStream(std::shared_ptr<sdk::Problem> problem, int64_t batch_size,
              uint64_t seed, uint64_t stream, bool shuffle);
  /// ceil(size / batch_size): episodes per epoch.
  int64_t batches_per_epoch() const;
  /// The batch with the given global index.
  sdk::DataDict batch(int64_t index);
  int64_t size() const { return size_; }

 private:
  uint64_t batch_seed(int64_t index) const;

  std::shared_ptr<sdk::Problem> problem_;
  int64_t batch_size_;
  int64_t size_ = 0;
  uint64_t seed_;
  uint64_t stream_;
  bool shuffle_;
  at::Generator generator_;
  std::vector<int64_t> indices_;
  torch::Tensor perm_;
  int64_t perm_epoch_ = -1;
};

/// Builds a torch optimizer from a section such as `training.optimizer`
/// (`name` plus keyword arguments; unknown arguments are errors).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(
    const sdk::ParamView& section, std::vector<torch::Tensor> params);

/// What every training worker shares: configuration, plugins, components,
/// seeds, device, experiment folder, statistics plumbing.
class TrainingSession {
 public:
  TrainingSession(WorkerOptions options, std::string worker_defaults_yaml);
  virtual ~TrainingSession();
  /// Marks status.yaml (when the folder exists).
  void mark(RunState state, const std::string& cause);
  const std::string& experiment_dir() const { return dir_; }

 protected:
  void configure();
  const Component& problem_component(const std::string& section);
  const Component& model_component();
  void check_keys();
  std::shared_ptr<sdk::Problem> build_problem(const Component& c,
                                              const std::string& section);
  /// Adds the problem's default values (sizes) as defaults of `model`.
  void add_problem_values(const sdk::Problem& problem,
                          const std::string& problem_name);
  std::shared_ptr<sdk::Model> build_model(const Component& c);
  void seed(const std::string& section);
  void setup_device();
  void open_experiment(const std::string& problem_name,
                       const std::string& model_name);
  void log_model_summary(const sdk::Model& model, const std::string& name);
  /// Declares the worker's, the problem's and the model's statistics
  /// (MI-Prometheus's column order: worker, problem, model).
  void declare_statistics(sdk::Problem& problem, StatisticsCollector& col,
                          StatisticsAggregator& agg);
  /// Forward, loss and statistics of one batch; returns the loss value.
  double forward_and_collect(sdk::Problem& problem, const sdk::DataDict& batch,
                             StatisticsCollector& col, int64_t episode,
                             int64_t epoch, torch::Tensor* loss_out);
  void aggregate(const StatisticsCollector& col, StatisticsAggregator& agg,
                 sdk::Problem& problem, int64_t episode);
  sdk::DataDict next_batch(BatchStream& stream, int64_t index,
                           const std::string& what);

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
};

/// mip-online-trainer.
class OnlineTrainer final : public TrainingSession {
 public:
  explicit OnlineTrainer(WorkerOptions options);
  void setup();
  int train();

 private:
  double partial_validation(int64_t episode, int64_t epoch);
  void full_validation(int64_t episode, int64_t epoch);
  CheckpointMeta meta(int64_t episode, int64_t epoch, double loss,
                      const std::string& status) const;
  void save_best_if_better(double loss, int64_t episode, int64_t epoch,
                           const std::string& status);
  void save_last(int64_t episode, int64_t epoch, double loss,
                 const std::string& status);

  std::shared_ptr<sdk::Problem> train_problem_;
  std::shared_ptr<sdk::Problem> valid_problem_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<BatchStream> train_stream_;
  std::unique_ptr<BatchStream> valid_stream_;
  sdk::DataDict validation_batch_;
  double loss_stop_ = 1e-5;
  int64_t episode_limit_ = 0;
  int64_t epoch_limit_ = -1;
  int64_t interval_ = 100;
  double clip_value_ = 0.0;
  double clip_norm_ = 0.0;
  bool curriculum_done_ = true;
  bool must_finish_ = false;
  double best_loss_ = std::numeric_limits<double>::infinity();
  int64_t best_episode_ = -1;
  StatisticsCollector train_col_, valid_col_;
  StatisticsAggregator train_agg_, valid_agg_;
  CsvWriter train_csv_, valid_csv_, train_agg_csv_, valid_agg_csv_;
};

/// Runs a worker body, mapping errors to exit codes, logging them and
/// marking the experiment failed (what was written stays).
int run_worker(const std::function<int()>& body, TrainingSession* session,
               const std::string& worker);

}  // namespace mip
