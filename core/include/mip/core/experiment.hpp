#pragma once

#include <cstdint>
#include <string>

namespace mip {

/// The state of a run, as status.yaml records it.
/// kKilled: ended at once by a signal (a second Ctrl-C, SIGQUIT).
enum class RunState { kRunning, kFinished, kFailed, kInterrupted, kKilled };

/// status.yaml: written atomically at start, at every checkpoint and at the
/// end.
struct RunStatus {
  RunState state = RunState::kRunning;
  std::string terminal_cause;  ///< MI-Prometheus's status string or the error
  int64_t episode = 0;
  int64_t epoch = 0;
  double best_validation_loss = -1.0;
  int64_t best_episode = -1;
  std::string started;  ///< ISO time
  std::string worker;   ///< mip-online-trainer, ...
  // Timing of this process's training (written when measured):
  double first_episode_unix = 0.0;  ///< wall clock at the first episode's start
  int64_t timed_episodes = 0;       ///< episodes after the warm-up
  double timed_seconds = 0.0;       ///< their wall time (validations included)
};

const char* to_string(RunState state);

/// Creates `<root>/<problem>/<model>/<YYYYMMDD_HHMMSS>[_<tag>]/` and its
/// models/ folder; retries with the next second when the name is taken.
std::string create_experiment_dir(const std::string& root,
                                  const std::string& problem,
                                  const std::string& model,
                                  const std::string& savetag);

/// Refuses a savetag that would leave its folder or make a strange name: a
/// '/', "..", or a control character (mip::ConfigError).
void check_savetag(const std::string& savetag);

/// Creates `<parent>/<prefix><YYYYMMDD_HHMMSS>[_<tag>]/` (a new name each
/// time: waits for the next second when taken).
std::string create_timestamped_dir(const std::string& parent,
                                   const std::string& prefix,
                                   const std::string& savetag);

struct RunSummary;

/// Writes `<dir>/status.yaml` atomically; with `summary` (at the end of a
/// run) under the key `summary:`, after the other keys.
void write_status(const std::string& dir,
                  const RunStatus& status,
                  const RunSummary* summary = nullptr);
/// The text write_status() writes.
std::string status_text(const RunStatus& status,
                        const RunSummary* summary = nullptr);

/// Local time now, "2026-11-24 19:04:05".
std::string now_string();

}  // namespace mip
