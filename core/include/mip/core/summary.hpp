#pragma once

// The end of a run in a few lines: how it ended, how far it got, the best
// model and where it is, and the command that continues or tests it. The
// console prints it; status.yaml holds the same under `summary:`.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <mip/core/experiment.hpp>
#include <mip/core/observer.hpp>

namespace YAML {
class Emitter;
}

namespace mip {

/// A statistic's name and value.
using NamedValue = std::pair<std::string, double>;

/// What a run ended with.
struct RunSummary {
  std::string worker;
  bool tester = false;
  RunState state = RunState::kRunning;
  std::string cause;
  std::string folder;
  /// Trainers: episodes trained in all (the last one + 1); tester: tested.
  int64_t episodes = 0;
  int64_t episodes_this_run = 0;     ///< by this process
  double seconds = 0.0;              ///< this process's wall time
  double episodes_per_second = 0.0;  ///< over this process's episodes
  double best_loss = -1.0;           ///< best validation loss (-1: none)
  int64_t best_episode = -1;
  /// The validation statistics model_best.pt was saved on.
  std::vector<NamedValue> best_statistics;
  /// Tester: the aggregates of the (last) test.
  std::vector<NamedValue> results;
  std::string main_statistic;     ///< shown beside the loss ("" for none)
  std::string main_format;        ///< its format
  std::string best_checkpoint;    ///< "" when there is none
  std::string last_checkpoint;    ///< "" when there is none
  std::string tested_checkpoint;  ///< tester
  std::string test_command;       ///< tests the best model ("" for none)
  std::string continue_command;   ///< continues the run ("" for none)
};

/// The console text: a "Summary: <state>, <cause>" line and indented
/// "name  value" lines, each ending in a newline. With `error_shown`, a
/// failure's cause (the error, logged just before) is not repeated: the
/// first line says "see the error above".
std::string summary_text(const RunSummary& s, bool error_shown = false);

/// Writes `s` as one YAML map into `out` (status.yaml's `summary:`).
void emit_summary(YAML::Emitter& out, const RunSummary& s);

/// Gathers a run's RunSummary from its events. An observer that shows the
/// summary holds one and hands it every event it gets.
class SummaryRecorder final : public RunObserver {
 public:
  /// `worker`: the program, for the commands it suggests.
  explicit SummaryRecorder(std::string worker);

  void run_started(const RunStarted& e) override;
  void training_started(const TrainingStarted& e) override;
  void pass_started(const PassStarted& e) override;
  void episode_done(const EpisodeDone& e) override;
  void validation_done(const ValidationDone& e) override;
  void epoch_done(const EpochDone& e) override;
  void checkpoint_written(const CheckpointWritten& e) override;
  void run_ended(const RunEnded& e) override;

  /// Complete once run_ended was heard.
  const RunSummary& summary() const { return s_; }

 private:
  using Clock = std::chrono::steady_clock;
  void finish_best();
  void set_commands();

  RunSummary s_;
  int64_t next_episode_ = 0;  ///< the first episode not trained
  int64_t episode_limit_ = -1, epoch_limit_ = -1, nproc_ = 1;
  std::vector<NamedValue> last_validation_;
  Clock::time_point loop_start_{}, last_episode_{};
  bool looping_ = false;
};

}  // namespace mip
