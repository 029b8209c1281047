#pragma once

// What watches a run (console lines, CSV files, status.yaml, ...) receives
// its events through one small interface. The loops name no observer: each
// is registered once (ObserverRegistration) and built for every run.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <mip/core/experiment.hpp>

namespace mip::sdk {
class DataDict;
}  // namespace mip::sdk

namespace mip {

class Run;
class StatisticsCollector;
class StatisticsAggregator;

/// A section's statistics, as the observers see them.
struct SectionStatistics {
  std::string name;  ///< "training", "validation", "testing"
  const StatisticsCollector* col = nullptr;
  const StatisticsAggregator* agg = nullptr;
};

/// The run's folder is ready (status.yaml may be written, files opened).
struct RunStarted {
  std::string dir;
  bool resumed = false;
  int64_t first_episode = 0;  ///< the episode this process starts at
  int64_t epoch = 0;
  double best_loss = -1.0;  ///< after a resume
  int64_t best_episode = -1;
  std::vector<SectionStatistics> sections;
  std::string checkpoint;  ///< the tester: the checkpoint it tests
};

/// The loop is about to run its first episode.
struct TrainingStarted {
  int64_t first_episode;
  int64_t episode_limit = -1;  ///< training stops before it (<= 0: none)
  int64_t epoch_limit = -1;    ///< training stops after it (<= 0: none)
  int64_t epoch_size = 0;      ///< episodes per epoch
  int64_t nproc = 1;  ///< ranks launched by this machine's --nproc (1: none)
};

/// A pass over a whole set starts: a full validation (section "validation")
/// or a test ("testing") of `batches` batches.
struct PassStarted {
  const std::string& section;
  int64_t batches;
};

/// One batch of a full validation was evaluated; its statistics are the last
/// values of `col` (no CSV row is written for it).
struct ValidationBatchDone {
  int64_t batch;
  const StatisticsCollector& col;
};

/// One episode's statistics are in `col` (training: after the step).
struct EpisodeDone {
  const std::string& section;
  const char* label;  ///< "Training", "Test"
  int64_t episode;
  const StatisticsCollector& col;
};

/// A training step is done: the parameters hold the weights after the
/// optimizer step, their gradients those of `episode` (after clipping).
struct StepDone {
  const std::string& section;
  int64_t episode;
};

/// A validation ended: partial (one batch, in `col`) or full (the whole
/// set, aggregated in `agg`).
struct ValidationDone {
  bool full;
  int64_t episode;
  double loss;
  const StatisticsCollector& col;
  const StatisticsAggregator& agg;
};

/// An epoch (or a whole test) ended; its aggregates are in `agg`.
struct EpochDone {
  const std::string& section;
  std::string label;  ///< "Epoch 3", "Full Training", "Full Test"
  int64_t episode;
  const StatisticsAggregator& agg;
};

/// A checkpoint is on disk.
struct CheckpointWritten {
  std::string path;
  bool best;  ///< model_best.pt; else model_last.pt (or an intermediate)
  int64_t episode;
  int64_t epoch;
  double best_loss;
  int64_t best_episode;
};

/// A batch about to go through the model (or just through it).
struct BatchInfo {
  const std::string& section;  ///< "training", "validation", "testing"
  int64_t episode;  ///< the training episode (the tester: its test episode)
  int64_t index;    ///< the batch's index in a full validation (else 0)
  bool full;        ///< part of a full validation, or of a test
  bool final;       ///< in the validation after the training loop
};

/// The model has mapped a batch to `predictions` (forward and loss done).
struct BatchEvaluated {
  const BatchInfo& info;
  const sdk::DataDict& batch;
  const sdk::DataDict& predictions;
};

/// The loop stopped after `last_episode` (final validations may follow).
struct TrainingStopped {
  int64_t last_episode;
  std::string cause;
};

/// The run ended (also on failure: then `state` is kFailed).
struct RunEnded {
  RunState state;
  std::string cause;
  int64_t episodes = -1;  ///< episodes to record (-1: as checkpointed)
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void run_started(const RunStarted&) {}
  virtual void training_started(const TrainingStarted&) {}
  virtual void pass_started(const PassStarted&) {}
  virtual void validation_batch_done(const ValidationBatchDone&) {}
  virtual void episode_done(const EpisodeDone&) {}
  virtual void step_done(const StepDone&) {}
  virtual void validation_done(const ValidationDone&) {}
  virtual void epoch_done(const EpochDone&) {}
  /// Before and after each forward (--visualize records chosen ones).
  virtual void batch_starting(const BatchInfo&) {}
  virtual void batch_evaluated(const BatchEvaluated&) {}
  virtual void checkpoint_written(const CheckpointWritten&) {}
  virtual void training_stopped(const TrainingStopped&) {}
  virtual void run_ended(const RunEnded&) {}
  /// Everything received so far is on disk when this returns.
  virtual void flush() {}
};

/// The observers of one run, in registration order.
class Observers {
 public:
  /// Builds every registered observer for `run` (each may decline).
  void attach(const Run& run);
  void add(std::unique_ptr<RunObserver> observer);
  void run_started(const RunStarted& e) {
    started_ = true;
    notify(&RunObserver::run_started, e);
  }
  void training_started(const TrainingStarted& e) {
    notify(&RunObserver::training_started, e);
  }
  void pass_started(const PassStarted& e) {
    notify(&RunObserver::pass_started, e);
  }
  void validation_batch_done(const ValidationBatchDone& e) {
    notify(&RunObserver::validation_batch_done, e);
  }
  void episode_done(const EpisodeDone& e) {
    notify(&RunObserver::episode_done, e);
  }
  void step_done(const StepDone& e) { notify(&RunObserver::step_done, e); }
  void validation_done(const ValidationDone& e) {
    notify(&RunObserver::validation_done, e);
  }
  void epoch_done(const EpochDone& e) { notify(&RunObserver::epoch_done, e); }
  void batch_starting(const BatchInfo& e) {
    notify(&RunObserver::batch_starting, e);
  }
  void batch_evaluated(const BatchEvaluated& e) {
    notify(&RunObserver::batch_evaluated, e);
  }
  void checkpoint_written(const CheckpointWritten& e) {
    notify(&RunObserver::checkpoint_written, e);
  }
  void training_stopped(const TrainingStopped& e) {
    notify(&RunObserver::training_stopped, e);
  }
  /// Once per started run: later calls (a failure while ending) and calls
  /// before the run started (nothing written yet) are ignored.
  void run_ended(const RunEnded& e);
  void flush();

 private:
  template <typename Event>
  void notify(void (RunObserver::*event)(const Event&), const Event& e) {
    for (const auto& o : list_)
      (o.get()->*event)(e);
  }

  std::vector<std::unique_ptr<RunObserver>> list_;
  bool started_ = false;
  bool ended_ = false;
};

/// Builds an observer for a run, or nullptr when it does not apply (a flag
/// not given). `all` lets it act on the others (flush).
using ObserverFactory =
    std::function<std::unique_ptr<RunObserver>(const Run& run, Observers& all)>;

/// Registers an observer for every run: one line beside its class,
///   const ObserverRegistration kCsv{20, "csv", make_csv_observer};
/// `order` sets who hears an event first (lower first).
struct ObserverRegistration {
  ObserverRegistration(int order, const char* name, ObserverFactory factory);
};

}  // namespace mip
