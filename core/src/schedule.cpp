// The online and offline schedules (MI-Prometheus's two trainers).
#include <algorithm>

#include <mip/core/registry.hpp>
#include <mip/core/schedule.hpp>
#include <mip/sdk/error.hpp>

namespace mip {

std::string Schedule::describe() const {
  std::string line = name() + " training: " + std::to_string(epoch_size_) +
                     " episodes per epoch";
  if (s_.episode_limit > 0)
    line += ", episode limit " + std::to_string(s_.episode_limit);
  if (s_.epoch_limit > 0)
    line += ", epoch limit " + std::to_string(s_.epoch_limit);
  if (s_.partial_validation_interval > 0)
    line += ", partial validation every " +
            std::to_string(s_.partial_validation_interval) + " episodes";
  return line;
}

std::string Schedule::limit_reached(int64_t episode, int64_t epoch) const {
  if (s_.episode_limit > 0 && episode >= s_.episode_limit)
    return "Not converged: Episode Limit reached";
  if (s_.epoch_limit > 0 && epoch >= s_.epoch_limit)
    return "Not converged: Epoch Limit reached";
  return "";
}

int64_t Schedule::make_ahead_until(int64_t episode) const {
  const int64_t end = (episode / epoch_size_ + 1) * epoch_size_;
  return s_.episode_limit > 0 ? std::min(end, s_.episode_limit) : end;
}

EpisodePlan Schedule::after_episode(int64_t episode) const {
  EpisodePlan plan;
  plan.partial_validation = s_.partial_validation_interval > 0 &&
                            episode % s_.partial_validation_interval == 0;
  plan.epoch_end = (episode + 1) % epoch_size_ == 0;
  plan.full_validation = plan.epoch_end && !partial_validation_counts();
  return plan;
}

std::string Schedule::stop_after_validation(double loss,
                                            bool full,
                                            int64_t,
                                            bool curriculum_done) const {
  if (loss < s_.loss_stop && (curriculum_done || !s_.must_finish))
    return std::string("Converged (") + (full ? "Full" : "Partial") +
           " Validation Loss went below Loss Stop threshold)";
  return "";
}

std::string OfflineSchedule::stop_after_validation(double loss,
                                                   bool full,
                                                   int64_t stale_validations,
                                                   bool curriculum_done) const {
  std::string cause = Schedule::stop_after_validation(
      loss, full, stale_validations, curriculum_done);
  if (cause.empty() && s_.early_stop_validations > 0 &&
      stale_validations >= s_.early_stop_validations)
    cause =
        "Not converged: Early Stopping (validation loss did not improve for " +
        std::to_string(s_.early_stop_validations) + " validations)";
  return cause;
}

OnlineSchedule::OnlineSchedule(ScheduleSettings settings)
    : Schedule(settings) {}

OfflineSchedule::OfflineSchedule(ScheduleSettings settings)
    : Schedule(settings) {}

std::unique_ptr<Schedule> make_schedule(const std::string& worker,
                                        const ParamRegistry& registry) {
  const bool online = worker == "mip-online-trainer";
  const auto tc = registry.view("training.terminal_conditions");
  ScheduleSettings s;
  s.loss_stop = tc->get<double>("loss_stop");
  s.episode_limit = tc->get<int64_t>("episode_limit");
  s.epoch_limit = tc->get<int64_t>("epoch_limit");
  s.partial_validation_interval =
      registry.view("validation")->get<int64_t>("partial_validation_interval");
  if (registry.has("training.curriculum_learning.must_finish"))
    s.must_finish =
        registry.view("training.curriculum_learning")->get<bool>("must_finish");
  const auto must_be_positive = [&](const std::string& key, int64_t value) {
    MIP_CHECK(value > 0, ConfigError, "[", key, "] must be > 0 for the ",
              online ? "online" : "offline", " trainer, got ", value, " (",
              registry.origin(key), ")");
  };
  if (online) {
    must_be_positive("training.terminal_conditions.episode_limit",
                     s.episode_limit);
    must_be_positive("validation.partial_validation_interval",
                     s.partial_validation_interval);
    return std::make_unique<OnlineSchedule>(s);
  }
  must_be_positive("training.terminal_conditions.epoch_limit", s.epoch_limit);
  s.early_stop_validations = tc->get<int64_t>("early_stop_validations");
  s.early_stop_delta = tc->get<double>("early_stop_delta");
  return std::make_unique<OfflineSchedule>(s);
}

}  // namespace mip
