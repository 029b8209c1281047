// Runs that fail: a non-finite loss, a corrupt or foreign checkpoint.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <thread>
#include <vector>

#include <mip/core/checkpoint.hpp>

#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
namespace {

using namespace test;

TEST(Failures, NonFiniteLossStopsKeepsCheckpointsAndMarksFailed) {
  // A linear regression (the fixture plugin) with an absurd learning rate:
  // the weights explode and the loss overflows within a few episodes.
  TempDir d;
  const std::string cfg =
      d.write("explode.yaml",
              "training:\n  problem: {name: FixtureProblem, batch_size: 8}\n"
              "  optimizer: {name: SGD, lr: 1.0e+8}\n"
              "  terminal_conditions: {episode_limit: 1000}\n"
              "validation:\n  partial_validation_interval: 1\n"
              "  problem: {name: FixtureProblem, batch_size: 8}\n"
              "model: {name: FixtureModel}\n");
  const RunResult r = run(kOnline + " --config " + cfg + " --expdir " +
                          d.str() + "/exp --plugin-path " +
                          fs::path(MIP_FIXTURE_GOOD).parent_path().string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(r.output.find("loss is inf at episode") != std::string::npos ||
              r.output.find("loss is nan at episode") != std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("The last good checkpoints (models/) are kept"),
            std::string::npos);
  const fs::path exp =
      only_experiment(d.path() / "exp", "training_configuration.yaml");
  EXPECT_NE(read(exp / "status.yaml").find("state: failed"), std::string::npos);
  const CheckpointMeta last =
      read_checkpoint_meta((exp / "models/model_last.pt").string());
  const CheckpointMeta best =
      read_checkpoint_meta((exp / "models/model_best.pt").string());
  EXPECT_TRUE(std::isfinite(last.loss));
  EXPECT_TRUE(std::isfinite(best.loss));
}

TEST(Failures, CorruptOrForeignCheckpointIsNamedAndNothingIsOverwritten) {
  TempDir d;
  RunResult r =
      run(kOnline + " --config " + kSerialRecall + " --expdir " + d.str() +
          "/exp --set training.terminal_conditions.episode_limit=30"
          " --set validation.partial_validation_interval=10");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp =
      only_experiment(d.path() / "exp", "training_configuration.yaml");
  const fs::path last = exp / "models/model_last.pt";
  const std::string good = read(last);
  const std::string status = read(exp / "status.yaml");
  const std::string csv = read(exp / "training_statistics.csv");
  // Truncated.
  std::ofstream(last, std::ios::binary | std::ios::trunc)
      << good.substr(0, good.size() / 2);
  r = run(kOnline + " --resume " + exp.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("checkpoint [" + last.string() + "] cannot be read"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(read(exp / "status.yaml"), status);
  EXPECT_EQ(read(exp / "training_statistics.csv"), csv);
  // Foreign: a valid archive that is not ours, and a text file.
  r = run(kTester + " --model " +
          (exp / "training_configuration.yaml").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("training_configuration.yaml] cannot be read"),
            std::string::npos)
      << r.output;
  // Written atomically: no temporary files are left behind by the runs.
  for (const auto& e : fs::recursive_directory_iterator(exp))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos)
        << e.path();
}
}  // namespace
}  // namespace mip
