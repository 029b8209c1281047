// status.yaml: the run's state, counters, best validation and timing,
// written at start, at every last-state checkpoint and at the end.
#include <chrono>

#include <mip/core/observer.hpp>
#include <mip/core/run.hpp>

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
  explicit StatusObserver(const Run& run) {
    status_.worker = run.options().worker;
  }

  void run_started(const RunStarted& e) override {
    dir_ = e.dir;
    status_.started = now_string();
    status_.episode = e.first_episode;
    status_.epoch = e.epoch;
    if (e.resumed) {
      status_.best_validation_loss = e.best_loss;
      status_.best_episode = e.best_episode;
    }
    first_ = e.first_episode;
    write_status(dir_, status_);
  }
  void training_started(const TrainingStarted& e) override {
    first_ = e.first_episode;
    status_.first_episode_unix = unix_now();
  }
  void episode_done(const EpisodeDone& e) override {
    if (e.episode == first_ + kWarmupEpisodes - 1 && e.section == "training")
      warm_ = Clock::now();
  }
  void checkpoint_written(const CheckpointWritten& e) override {
    if (e.best_episode >= 0) {
      status_.best_validation_loss = e.best_loss;
      status_.best_episode = e.best_episode;
    }
    if (e.best)
      return;
    status_.episode = e.episode;
    status_.epoch = e.epoch;
    write_status(dir_, status_);
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
    status_.state = e.state;
    status_.terminal_cause = e.cause;
    if (e.episodes >= 0)
      status_.episode = e.episodes;
    write_status(dir_, status_);
  }

 private:
  using Clock = std::chrono::steady_clock;
  RunStatus status_;
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
