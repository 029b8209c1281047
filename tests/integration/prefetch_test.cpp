// Batches made ahead on the background thread give the same runs as
// batches made in line, in every worker.
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
namespace prefetch_test {

using namespace test;

std::string prefetch_set(const std::string& section,
                         const std::string& mode,
                         int depth) {
  return " --set " + section + ".dataloader.prefetch=" + mode + " --set " +
         section + ".dataloader.prefetch_factor=" + std::to_string(depth);
}

TEST(Prefetch, BatchesMadeAheadGiveTheSameRunAsBatchesMadeInLine) {
  // Online: three epochs of 100 episodes with the curriculum changing the
  // problem at each epoch end, partial validations and a full one.
  TempDir d;
  std::vector<std::vector<std::string>> outputs;
  for (const auto& [mode, depth] :
       std::vector<std::pair<std::string, int>>{{"false", 1}, {"true", 3}}) {
    const RunResult r =
        run(kOnline + kShortOnline + prefetch_set("training", mode, depth) +
            prefetch_set("validation", mode, depth) + " --ll debug --expdir " +
            d.str() + "/" + mode);
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output.find("batches ahead on a background thread") !=
                  std::string::npos,
              mode == "true")
        << r.output;
    outputs.push_back(run_outputs(
        only_experiment(d.path() / mode, "training_configuration.yaml")));
  }
  EXPECT_EQ(outputs[0], outputs[1]);
}

TEST(Prefetch, OfflineEpochsValidationsAndTestsAreTheSameMadeAhead) {
  TempDir d;
  d.write("valid_indices.txt", valid_indices());
  const std::string cfg = mnist_config(d);
  std::vector<std::vector<std::string>> outputs;
  for (const std::string mode : {"false", "true"}) {
    RunResult r =
        run(kOffline + " --config " + cfg + prefetch_set("training", mode, 2) +
            prefetch_set("validation", mode, 2) + " --expdir " + d.str() + "/" +
            mode);
    ASSERT_EQ(r.code, 0) << r.output;
    const fs::path exp =
        only_experiment(d.path() / mode, "training_configuration.yaml");
    outputs.push_back(run_outputs(exp));
    r = run(kTester + " --model " + exp.string() +
            prefetch_set("testing", mode, 2) + " --seed 7 --expdir " + d.str() +
            "/test_" + mode);
    ASSERT_EQ(r.code, 0) << r.output;
    for (const auto& e : fs::directory_iterator(d.path() / ("test_" + mode)))
      outputs.back().push_back(read(e.path() / "testing_statistics.csv"));
  }
  EXPECT_EQ(outputs[0].size(), 7u);
  EXPECT_EQ(outputs[0], outputs[1]);
}

TEST(Prefetch, ErrorOnTheBackgroundThreadNamesTheProblemAndTheBatch) {
  // Sample 100 is in batch 12 of the sequential order; the batch is made on
  // the background thread while batch 11 trains.
  TempDir d;
  const std::string cfg =
      d.write("fail.yaml",
              "training:\n"
              "  problem: {name: FixtureProblem, batch_size: 8, size: 800, "
              "fail_at_sample: 100}\n"
              "  sampler: {name: SequentialSampler}\n"
              "  dataloader: {prefetch: true}\n"
              "  optimizer: {name: SGD, lr: 0.01}\n"
              "  terminal_conditions: {episode_limit: 50}\n"
              "validation:\n  problem: {name: FixtureProblem, batch_size: 8}\n"
              "model: {name: FixtureModel}\n");
  const RunResult r = run(kOnline + " --config " + cfg + " --expdir " +
                          d.str() + "/exp --plugin-path " +
                          fs::path(MIP_FIXTURE_GOOD).parent_path().string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("problem [FixtureProblem] training batch 12"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("fixture: sample 100 is unreadable"),
            std::string::npos)
      << r.output;
  const fs::path exp =
      only_experiment(d.path() / "exp", "training_configuration.yaml");
  // Episodes 0-11 trained and were written before the failure.
  EXPECT_EQ(lines(exp / "training_statistics.csv"), 1u + 12u);
  EXPECT_NE(read(exp / "status.yaml").find("state: failed"), std::string::npos);
}

TEST(Prefetch, BadSettingsNameTheKey) {
  TempDir d;
  RunResult r = run(kOnline + " --config " + kSerialRecall +
                    " --set training.dataloader.prefetch=sometimes --expdir " +
                    d.str() + "/exp");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("[training.dataloader.prefetch] (--set): expected "
                          "auto, true or false, got [sometimes]"),
            std::string::npos)
      << r.output;
  r = run(kOnline + " --config " + kSerialRecall +
          " --set validation.dataloader.prefetch_factor=0 --expdir " + d.str() +
          "/exp");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("[validation.dataloader.prefetch_factor]"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("must be 1 to 1024, got 0"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(d.path() / "exp"));
}
}  // namespace prefetch_test
}  // namespace mip
