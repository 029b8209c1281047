// TrainingProgress: the validation bookkeeping, and a round trip through a
// real checkpoint file.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <cmath>

#include <mip/core/checkpoint.hpp>
#include <mip/core/progress.hpp>

#include "common/test_util.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace training_progress_test {

TEST(TrainingProgress, RecordsTheBestLossAndCountsStaleValidations) {
  TrainingProgress p;
  EXPECT_TRUE(p.record_validation(1.0, 10, 0.1));
  EXPECT_EQ(p.best_episode, 10);
  EXPECT_EQ(p.stale_validations, 0);
  // Better, but by less than the delta: a new best that does not count as
  // an improvement for early stopping.
  EXPECT_TRUE(p.record_validation(0.95, 20, 0.1));
  EXPECT_EQ(p.best_loss, 0.95);
  EXPECT_EQ(p.stale_validations, 1);
  EXPECT_FALSE(p.record_validation(2.0, 30, 0.1));
  EXPECT_EQ(p.stale_validations, 2);
  EXPECT_FALSE(p.record_validation(std::nan(""), 40, 0.1));
  EXPECT_EQ(p.stale_validations, 3);
  EXPECT_TRUE(p.record_validation(0.5, 50, 0.1));
  EXPECT_EQ(p.stale_validations, 0);
  EXPECT_EQ(p.best_episode, 50);
  EXPECT_EQ(p.next_episode(), 0);
}

TEST(TrainingProgress, RoundTripsThroughACheckpointOnDisk) {
  test::TempDir d;
  TrainingProgress p;
  p.last_episode = 1234;
  p.epoch = 7;
  p.best_loss = 0.125;
  p.best_episode = 1100;
  p.stale_validations = 3;
  p.scheduler = {{"best", 0.5}, {"num_bad_epochs", 2}, {"lr.0", 1e-4}};
  p.epoch_statistics = {{"loss", {0.25, 0.5, 0.75}}, {"episode", {1, 2, 3}}};
  torch::manual_seed(5);
  p.capture_rng();
  const at::Tensor drawn = torch::rand({4});

  torch::nn::Linear model(3, 2);
  CheckpointMeta meta;
  meta.model_name = "Linear";
  CheckpointExtra extra;
  p.save(meta, extra);
  const std::string path = (d.path() / "model_last.pt").string();
  save_checkpoint(path, *model, nullptr, meta, &extra);

  torch::nn::Linear other(3, 2);
  CheckpointExtra read;
  const CheckpointMeta m = load_checkpoint(path, *other, nullptr, &read);
  const TrainingProgress q = TrainingProgress::load(m, read);
  EXPECT_EQ(q.last_episode, 1234);
  EXPECT_EQ(q.next_episode(), 1235);
  EXPECT_EQ(q.epoch, 7);
  EXPECT_EQ(q.best_loss, 0.125);
  EXPECT_EQ(q.best_episode, 1100);
  EXPECT_EQ(q.stale_validations, 3);
  EXPECT_EQ(q.scheduler, p.scheduler);
  EXPECT_EQ(q.epoch_statistics, p.epoch_statistics);
  // The generator continues where it was captured.
  torch::manual_seed(6);
  q.restore_rng();
  EXPECT_TRUE(torch::equal(torch::rand({4}), drawn));
}

TEST(TrainingProgress, ReadsTheSchedulerListOfOlderCheckpoints) {
  CheckpointMeta meta;
  meta.episode = 99;
  CheckpointExtra extra;
  // 0.1.0 stored ReduceLROnPlateau's state as [best, bad, cooldown, lrs...].
  extra["scheduler"] =
      torch::tensor(std::vector<double>{0.3, 4, 1, 0.01, 0.02}, torch::kDouble);
  const TrainingProgress p = TrainingProgress::load(meta, extra);
  EXPECT_EQ(p.scheduler, (std::map<std::string, double>{{"best", 0.3},
                                                        {"num_bad_epochs", 4},
                                                        {"cooldown_counter", 1},
                                                        {"lr.0", 0.01},
                                                        {"lr.1", 0.02}}));
}

}  // namespace training_progress_test
}  // namespace mip
