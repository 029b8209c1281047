// status.yaml: the run's state, counters, best validation and timing,
// written at start, at every last-state checkpoint and at the end (then with
// the run's summary under `summary:`).
#include <chrono>

#include <filesystem>

#include <mip/core/files.hpp>
#include <mip/core/observer.hpp>
#include <mip/core/run.hpp>
#include <mip/core/signals.hpp>
#include <mip/core/summary.hpp>

namespace mip {

namespace {

/// Episodes left out of the timing in status.yaml (allocator, caches).
constexpr int64_t kWarmupEpisodes = 5;

double unix_now() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class StatusObserver final : public RunObserver {
 public:
  explicit StatusObserver(const Run& run) : summary_(run.options().worker) {
    status_.worker = run.options().worker;
  }

  void run_started(const RunStarted& e) override {
    summary_.run_started(e);
    dir_ = e.dir;
    status_.started = now_string();
    status_.episode = e.first_episode;
    status_.epoch = e.epoch;
    if (e.resumed) {
      status_.best_validation_loss = e.best_loss;
      status_.best_episode = e.best_episode;
    }
    first_ = e.first_episode;
    write();
  }
  void training_started(const TrainingStarted& e) override {
    summary_.training_started(e);
    first_ = e.first_episode;
    status_.first_episode_unix = unix_now();
  }
  void pass_started(const PassStarted& e) override { summary_.pass_started(e); }
  void episode_done(const EpisodeDone& e) override {
    summary_.episode_done(e);
    if (e.episode == first_ + kWarmupEpisodes - 1 && e.section == "training")
      warm_ = Clock::now();
  }
  void validation_done(const ValidationDone& e) override {
    summary_.validation_done(e);
  }
  void epoch_done(const EpochDone& e) override { summary_.epoch_done(e); }
  void checkpoint_written(const CheckpointWritten& e) override {
    summary_.checkpoint_written(e);
    if (e.best_episode >= 0) {
      status_.best_validation_loss = e.best_loss;
      status_.best_episode = e.best_episode;
    }
    if (e.best)
      return;
    status_.episode = e.episode;
    status_.epoch = e.epoch;
    write();
  }
  void training_stopped(const TrainingStopped& e) override {
    const int64_t warm_mark = first_ + kWarmupEpisodes - 1;
    if (e.last_episode <= warm_mark)
      return;
    status_.timed_episodes = e.last_episode - warm_mark;
    status_.timed_seconds =
        std::chrono::duration<double>(Clock::now() - warm_).count();
  }
  void run_ended(const RunEnded& e) override {
    clear_killed_status();  // a later signal finds the run's own end
    status_.state = e.state;
    status_.terminal_cause = e.cause;
    if (e.episodes >= 0)
      status_.episode = e.episodes;
    summary_.run_ended(e);
    try {
      write_status(dir_, status_, &summary_.summary());
    } catch (const Error&) {
      // A full disk: no room for the temporary file, but status.yaml's own
      // blocks still hold the (short) final status, without the summary.
      const std::string path =
          (std::filesystem::path(dir_) / "status.yaml").string();
      if (!std::filesystem::exists(path))
        throw;
      overwrite_file_in_place(path, status_text(status_));
    }
  }

 private:
  /// Writes status.yaml, and renders what a killing signal will write
  /// instead (the handler cannot format).
  void write() {
    write_status(dir_, status_);
    RunStatus killed = status_;
    killed.state = RunState::kKilled;
    killed.terminal_cause =
        std::string("Killed by ") + kSignalMark +
        " (stopped at once without saving; --resume continues from the last "
        "checkpoint)";
    const std::string text = status_text(killed);
    const size_t at = text.find(kSignalMark);
    if (at == std::string::npos)
      return;
    set_killed_status((std::filesystem::path(dir_) / "status.yaml").string(),
                      text.substr(0, at),
                      text.substr(at + std::string(kSignalMark).size()));
  }

  static constexpr const char* kSignalMark = "MIP_SIGNAL_NAME";
  using Clock = std::chrono::steady_clock;
  RunStatus status_;
  SummaryRecorder summary_;
  std::string dir_;
  int64_t first_ = 0;
  Clock::time_point warm_ = Clock::now();
};

const ObserverRegistration kStatus{
    30, "status", [](const Run& run, Observers&) {
      return std::make_unique<StatusObserver>(run);
    }};

}  // namespace

}  // namespace mip
