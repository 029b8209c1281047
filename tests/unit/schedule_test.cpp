// The online and offline schedules, driven episode by episode as the loop
// drives them.
#include <gtest/gtest.h>

#include <mip/core/registry.hpp>
#include <mip/core/run.hpp>
#include <mip/core/schedule.hpp>

#include "common/test_util.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace schedule_test {

/// What the loop would do, episode by episode, until the schedule stops it:
/// "P<e>" partial validation, "E<e>" epoch end, "F<e>" full validation,
/// "stop<e>: cause" the reason it stopped before episode e (a limit) or
/// after it (a counted validation). `losses` gives the counted validations'
/// losses in turn (the last one repeats).
std::vector<std::string> drive(const Schedule& s,
                               std::vector<double> losses = {1.0},
                               bool curriculum_done = true) {
  std::vector<std::string> events;
  int64_t epoch = 0, stale = 0, validations = 0;
  double best = 1e300;
  for (int64_t e = 0; e < 10000; ++e) {
    if (std::string c = s.limit_reached(e, epoch); !c.empty()) {
      events.push_back("stop" + std::to_string(e) + ": " + c);
      return events;
    }
    const EpisodePlan plan = s.after_episode(e);
    std::string stop;
    auto counted = [&] {
      const double loss =
          losses[std::min<size_t>(validations++, losses.size() - 1)];
      stale = loss < best - s.improvement_delta() ? 0 : stale + 1;
      best = std::min(best, loss);
      return s.stop_after_validation(loss, plan.full_validation, stale,
                                     curriculum_done);
    };
    if (plan.partial_validation) {
      events.push_back("P" + std::to_string(e));
      if (s.partial_validation_counts())
        stop = counted();
    }
    if (plan.epoch_end) {
      events.push_back("E" + std::to_string(e));
      ++epoch;
      if (plan.full_validation) {
        events.push_back("F" + std::to_string(e));
        stop = counted();
      }
    }
    if (!stop.empty()) {
      events.push_back("stop" + std::to_string(e) + ": " + stop);
      return events;
    }
  }
  return events;
}

using Events = std::vector<std::string>;

ScheduleSettings online_settings() {
  ScheduleSettings s;
  s.loss_stop = 0.1;
  s.episode_limit = 10;
  s.partial_validation_interval = 4;
  return s;
}

TEST(OnlineSchedule, ValidatesEveryNEpisodesAndStopsAtTheEpisodeLimit) {
  OnlineSchedule s(online_settings());
  s.set_epoch_size(6);
  EXPECT_EQ(drive(s), (Events{"P0", "P4", "E5", "P8",
                              "stop10: Not converged: Episode Limit reached"}));
  EXPECT_EQ(s.describe(),
            "Online training: 6 episodes per epoch, episode limit 10, partial "
            "validation every 4 episodes");
}

TEST(OnlineSchedule, ALossBelowLossStopConvergesOnceTheCurriculumIsDone) {
  OnlineSchedule s(online_settings());
  s.set_epoch_size(6);
  const Events converged = {
      "P0", "P4",
      "stop4: Converged (Partial Validation Loss went below Loss Stop "
      "threshold)"};
  EXPECT_EQ(drive(s, {1.0, 0.05}), converged);
  // The curriculum guard: must_finish (the default) keeps training.
  EXPECT_EQ(drive(s, {1.0, 0.05}, /*curriculum_done=*/false),
            (Events{"P0", "P4", "E5", "P8",
                    "stop10: Not converged: Episode Limit reached"}));
  ScheduleSettings settings = online_settings();
  settings.must_finish = false;
  OnlineSchedule not_waiting(settings);
  not_waiting.set_epoch_size(6);
  EXPECT_EQ(drive(not_waiting, {1.0, 0.05}, false), converged);
}

TEST(OnlineSchedule, MakesBatchesAheadToTheEpochEndOrTheLimit) {
  OnlineSchedule s(online_settings());
  s.set_epoch_size(6);
  EXPECT_EQ(s.make_ahead_until(0), 6);
  EXPECT_EQ(s.make_ahead_until(5), 6);
  EXPECT_EQ(s.make_ahead_until(6), 10);  // the episode limit
  EXPECT_TRUE(s.epoch_starts(6));
  EXPECT_FALSE(s.epoch_starts(7));
  const FinalValidation f = s.final_validation(9, -1);
  EXPECT_TRUE(f.partial);
  EXPECT_TRUE(f.full);
  EXPECT_FALSE(f.full_counts);
}

ScheduleSettings offline_settings() {
  ScheduleSettings s;
  s.loss_stop = 0.1;
  s.epoch_limit = 3;
  return s;
}

TEST(OfflineSchedule, ValidatesTheWholeSetAfterEveryEpochUpToTheLimit) {
  OfflineSchedule s(offline_settings());
  s.set_epoch_size(4);
  EXPECT_EQ(drive(s), (Events{"E3", "F3", "E7", "F7", "E11", "F11",
                              "stop12: Not converged: Epoch Limit reached"}));
  EXPECT_EQ(s.describe(),
            "Offline training: 4 episodes per epoch, epoch limit 3");
  // A loss below loss_stop converges on the full validation.
  EXPECT_EQ(drive(s, {1.0, 0.01}),
            (Events{"E3", "F3", "E7", "F7",
                    "stop7: Converged (Full Validation Loss went below Loss "
                    "Stop threshold)"}));
}

TEST(OfflineSchedule, PartialValidationsInformButDoNotCount) {
  ScheduleSettings settings = offline_settings();
  settings.partial_validation_interval = 3;
  settings.epoch_limit = 2;
  OfflineSchedule s(settings);
  s.set_epoch_size(4);
  // Partial validations do not count: losses below loss_stop do not stop
  // an offline run before its full validation.
  const Events events = drive(s, {0.5});
  EXPECT_EQ(events, (Events{"P0", "P3", "E3", "F3", "P6", "E7", "F7",
                            "stop8: Not converged: Epoch Limit reached"}));
}

TEST(OfflineSchedule, StopsEarlyAfterValidationsWithoutImprovement) {
  ScheduleSettings settings = offline_settings();
  settings.epoch_limit = 20;
  settings.early_stop_validations = 2;
  settings.early_stop_delta = 0.1;
  OfflineSchedule s(settings);
  s.set_epoch_size(2);
  // 1.0 (best), 0.95 (better by less than the delta: stale 1), 0.8 (an
  // improvement: 0), 0.9 (stale 1), 0.85 (stale 2): stop.
  EXPECT_EQ(drive(s, {1.0, 0.95, 0.8, 0.9, 0.85}),
            (Events{"E1", "F1", "E3", "F3", "E5", "F5", "E7", "F7", "E9", "F9",
                    "stop9: Not converged: Early Stopping (validation loss "
                    "did not improve for 2 validations)"}));
}

TEST(OfflineSchedule, ValidatesAgainAtTheEndOnlyWhenTheLastEpochDidNot) {
  OfflineSchedule s(offline_settings());
  s.set_epoch_size(4);
  EXPECT_FALSE(s.final_validation(11, 11).full);
  const FinalValidation f = s.final_validation(9, 7);
  EXPECT_FALSE(f.partial);
  EXPECT_TRUE(f.full);
  EXPECT_TRUE(f.full_counts);
}

TEST(Schedule, IsMadeFromTheWorkersDefaultsAndRefusesBadLimits) {
  for (const std::string worker :
       {"mip-online-trainer", "mip-offline-trainer"}) {
    ParamRegistry r;
    r.add_defaults("", worker_defaults(worker), "defaults");
    const auto s = make_schedule(worker, r);
    s->set_epoch_size(100);
    EXPECT_EQ(s->describe(),
              worker == "mip-online-trainer"
                  ? "Online training: 100 episodes per epoch, episode limit "
                    "100000, partial validation every 100 episodes"
                  : "Offline training: 100 episodes per epoch, epoch limit 10");
  }
  ParamRegistry r;
  r.add_defaults("", worker_defaults("mip-online-trainer"), "defaults");
  r.apply_override("training.terminal_conditions.episode_limit=0");
  EXPECT_HAS(test::error_of([&] { make_schedule("mip-online-trainer", r); }),
             "[training.terminal_conditions.episode_limit] must be > 0 for "
             "the online trainer, got 0 (--set)");
}

}  // namespace schedule_test
}  // namespace mip
