// mip-offline-trainer end to end: epochs, full validations, early stopping,
// schedulers and samplers on small MNIST files; then mip-tester.
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
// Named: each test executable is one unity build.
namespace offline_trainer_test {

using namespace test;

TEST(OfflineTrainer, TrainsValidatesEachEpochAndTheTesterTestsAnywhere) {
  TempDir d;
  d.write("valid_indices.txt", valid_indices());
  const std::string cfg = mnist_config(d);
  RunResult r =
      run(kOffline + " --config " + cfg + " --expdir " + d.str() + "/exp");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp =
      only_experiment(d.path() / "exp", "training_configuration.yaml");
  EXPECT_EQ(exp.parent_path(), d.path() / "exp" / "MNIST" / "LeNet5");
  // 500 samples / 32 = 16 episodes per epoch, 4 epochs, a full validation each.
  EXPECT_EQ(lines(exp / "training_statistics.csv"), 1u + 64u);
  EXPECT_EQ(lines(exp / "training_set_agg_statistics.csv"), 1u + 4u);
  EXPECT_EQ(lines(exp / "validation_set_agg_statistics.csv"), 1u + 4u);
  EXPECT_NE(
      read(exp / "status.yaml").find("Not converged: Epoch Limit reached"),
      std::string::npos);
  const CheckpointMeta best =
      read_checkpoint_meta((exp / "models/model_best.pt").string());
  EXPECT_EQ(best.model_name, "LeNet5");
  EXPECT_GE(std::stod(best.validation_stats.at("acc")), 0.9)
      << "the squares are easy";

  // The tester, on a copy of the folder, from another working directory.
  const fs::path copy = d.path() / "elsewhere" / "run";
  fs::create_directories(copy.parent_path());
  fs::copy(exp, copy, fs::copy_options::recursive);
  r = run("cd / && " + kTester + " --model " + copy.string());
  ASSERT_EQ(r.code, 0) << r.output;
  std::vector<fs::path> tests;
  for (const auto& e : fs::directory_iterator(copy))
    if (e.path().filename().string().rfind("test_", 0) == 0)
      tests.push_back(e.path());
  ASSERT_EQ(tests.size(), 1u);
  for (const char* f :
       {"tester.log", "testing_configuration.yaml", "testing_statistics.csv",
        "testing_set_agg_statistics.csv", "status.yaml"})
    EXPECT_TRUE(fs::is_regular_file(tests[0] / f)) << f;
  EXPECT_EQ(lines(tests[0] / "testing_statistics.csv"), 1u + 4u);  // 200 / 50
  const std::string agg = read(tests[0] / "testing_set_agg_statistics.csv");
  EXPECT_EQ(agg.substr(0, agg.find('\n')),
            "episode,episodes_aggregated,loss,loss_min,loss_max,loss_std,acc,"
            "acc_min,acc_max,"
            "acc_std,samples_aggregated");
  EXPECT_NE(agg.find("\n000004,000004,"), std::string::npos) << agg;
  EXPECT_NE(agg.find(",000200\n"), std::string::npos) << agg;

  // --expdir puts the test elsewhere; a checkpoint file works as --model too.
  r = run(kTester + " --model " + (copy / "models/model_last.pt").string() +
          " --expdir " + d.str() + "/tests --savetag last");
  ASSERT_EQ(r.code, 0) << r.output;
  bool found = false;
  for (const auto& e : fs::directory_iterator(d.path() / "tests"))
    found = found ||
            e.path().filename().string().find("_last") != std::string::npos;
  EXPECT_TRUE(found);
}

TEST(OfflineTrainer, EarlyStoppingAndSchedulerAndSamplerErrors) {
  TempDir d;
  d.write("valid_indices.txt", valid_indices());
  // lr 0 never improves: early stopping after 2 stale validations.
  const std::string cfg = mnist_config(
      d, "  scheduler: {name: StepLR, step_size: 1, gamma: 0.5}\n");
  RunResult r =
      run(kOffline + " --config " + cfg + " --expdir " + d.str() + "/exp" +
          " --set training.optimizer.lr=0 --set "
          "training.terminal_conditions.epoch_limit=20"
          " --set training.terminal_conditions.early_stop_validations=2");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp =
      only_experiment(d.path() / "exp", "training_configuration.yaml");
  EXPECT_NE(read(exp / "status.yaml").find("Early Stopping"),
            std::string::npos);
  EXPECT_EQ(lines(exp / "validation_set_agg_statistics.csv"), 1u + 3u);
  r = run(kOffline + " --config " + cfg + " --expdir " + d.str() + "/bad" +
          " --set 'training.sampler.indices=[0,601]'");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(
      r.output.find("sampler index 600 is outside the problem's 600 samples"),
      std::string::npos)
      << r.output;
  r = run(kOffline + " --config " + cfg + " --expdir " + d.str() + "/bad" +
          " --set training.scheduler.name=StepLr");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("did you mean [StepLR]?"), std::string::npos)
      << r.output;
  r = run(kOffline + " --config " + cfg + " --expdir " + d.str() + "/bad" +
          " --set 'training.optimizer.betas=[0.9]'");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("[training.optimizer.betas] needs two numbers"),
            std::string::npos);
  r = run(kOffline + " --config " + cfg + " --expdir " + d.str() + "/bad" +
          " --set training.optimizer.momentun=0.9 --set "
          "training.optimizer.name=SGD");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("did you mean [momentum]?"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(d.path() / "bad"));
}

TEST(OfflineTrainer, MissingDataFileIsNamed) {
  TempDir d;
  d.write("valid_indices.txt", valid_indices());
  const std::string cfg = mnist_config(d);
  fs::remove(d.path() / "mnist" / "t10k-labels-idx1-ubyte");
  fs::remove(d.path() / "mnist" / "train-labels-idx1-ubyte");
  const RunResult r =
      run(kOffline + " --config " + cfg + " --expdir " + d.str() + "/exp");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("train-labels-idx1-ubyte"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("problem [MNIST]"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(d.path() / "exp"));
}
}  // namespace offline_trainer_test
}  // namespace mip
