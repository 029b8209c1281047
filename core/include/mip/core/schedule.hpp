#pragma once

// Schedules: the decisions that tell online and offline training apart,
// over one loop. When an epoch ends, when to validate and on what, which
// validations count (best model, scheduler, checkpoint, loss stop), and when
// to stop.

#include <cstdint>
#include <memory>
#include <string>

namespace mip {

class ParamRegistry;

/// What the loop does after the step of an episode.
struct EpisodePlan {
  bool partial_validation = false;  ///< validate on the fixed batch
  bool epoch_end = false;           ///< the epoch's last episode
  bool full_validation = false;     ///< validate on the whole set (epoch end)
};

/// What the loop validates once training has stopped (not when interrupted).
struct FinalValidation {
  bool partial = false;  ///< on the fixed batch, recorded for the best model
  bool full = false;     ///< on the whole set
  bool full_counts = false;  ///< the full one is recorded for the best model
};

/// The configuration a schedule decides from.
struct ScheduleSettings {
  double loss_stop = 0.0;
  int64_t episode_limit = -1;                ///< <= 0: none
  int64_t epoch_limit = -1;                  ///< <= 0: none
  int64_t partial_validation_interval = -1;  ///< <= 0: none
  int64_t early_stop_validations = -1;       ///< <= 0: none (offline)
  double early_stop_delta = 0.0;             ///< (offline)
  bool must_finish = true;  ///< loss_stop waits for the curriculum's end
};

class Schedule {
 public:
  explicit Schedule(ScheduleSettings settings) : s_(settings) {}
  virtual ~Schedule() = default;

  /// "Online"/"Offline".
  virtual std::string name() const = 0;
  /// Episodes per epoch; set once the training stream exists.
  void set_epoch_size(int64_t episodes) { epoch_size_ = episodes; }
  int64_t epoch_size() const { return epoch_size_; }
  const ScheduleSettings& settings() const { return s_; }
  /// One line for the log: epoch size, limits, validation interval.
  std::string describe() const;

  /// Before an episode: the reason to stop (a limit reached), or "".
  std::string limit_reached(int64_t episode, int64_t epoch) const;
  /// True when `episode` starts an epoch.
  bool epoch_starts(int64_t episode) const {
    return episode % epoch_size_ == 0;
  }
  /// Batches may be made ahead up to (not including) this index: the end of
  /// the epoch of `episode` (the curriculum may change the problem there),
  /// or the episode limit.
  int64_t make_ahead_until(int64_t episode) const;
  /// After the step of `episode`.
  EpisodePlan after_episode(int64_t episode) const;
  /// True when the fixed validation batch is used.
  bool uses_validation_batch() const {
    return partial_validation_counts() || s_.partial_validation_interval > 0;
  }
  /// Whether a partial validation counts: best model, scheduler, checkpoint,
  /// loss stop.
  virtual bool partial_validation_counts() const = 0;
  /// The improvement over the best loss that resets the stale count.
  virtual double improvement_delta() const { return 0.0; }
  /// After a counted validation (`full`: on the whole set): the reason to
  /// stop, or "".
  virtual std::string stop_after_validation(double loss,
                                            bool full,
                                            int64_t stale_validations,
                                            bool curriculum_done) const;
  /// Once training stopped after `last_done`, with the last full validation
  /// after `last_full_validation` (-1: none).
  virtual FinalValidation final_validation(
      int64_t last_done, int64_t last_full_validation) const = 0;

 protected:
  ScheduleSettings s_;
  int64_t epoch_size_ = 1;
};

/// mip-online-trainer: episodes up to a limit, a partial validation every N
/// (each counts), a full validation at the end.
class OnlineSchedule final : public Schedule {
 public:
  explicit OnlineSchedule(ScheduleSettings settings);
  std::string name() const override { return "Online"; }
  bool partial_validation_counts() const override { return true; }
  FinalValidation final_validation(int64_t, int64_t) const override {
    return {true, true, false};
  }
};

/// mip-offline-trainer: epochs up to a limit, a full validation after each
/// (each counts), early stopping; partial validations only inform.
class OfflineSchedule final : public Schedule {
 public:
  explicit OfflineSchedule(ScheduleSettings settings);
  std::string name() const override { return "Offline"; }
  bool partial_validation_counts() const override { return false; }
  double improvement_delta() const override { return s_.early_stop_delta; }
  std::string stop_after_validation(double loss,
                                    bool full,
                                    int64_t stale_validations,
                                    bool curriculum_done) const override;
  FinalValidation final_validation(
      int64_t last_done, int64_t last_full_validation) const override {
    const bool again = last_full_validation != last_done;
    return {false, again, again};
  }
};

/// The schedule of `worker` (mip-online-trainer or mip-offline-trainer) from
/// the configuration; bad values are errors naming the key and its origin.
std::unique_ptr<Schedule> make_schedule(const std::string& worker,
                                        const ParamRegistry& registry);

}  // namespace mip
