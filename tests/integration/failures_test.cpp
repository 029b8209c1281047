// Runs that fail: a non-finite loss, a corrupt or foreign checkpoint.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <thread>
#include <vector>

#include <mip/core/checkpoint.hpp>
#include <mip/core/worker.hpp>

#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace failures_test {

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
// --- configuration and command-line input (issue 11) ------------------------
// Each input below crashed, hung, or was accepted silently before.

/// The fixture regression (64 samples) with `training` YAML added under
/// training: and `top` at the top level.
std::string fixture_config(const TempDir& d,
                           const std::string& training = "",
                           const std::string& top = "") {
  return d.write("fixture.yaml",
                 "training:\n  problem: {name: FixtureProblem, batch_size: 8}\n"
                 "  optimizer: {name: SGD, lr: 0.01}\n"
                 "  terminal_conditions: {episode_limit: 4}\n" +
                     training +
                     "validation:\n  partial_validation_interval: 2\n"
                     "  problem: {name: FixtureProblem, batch_size: 8}\n"
                     "model: {name: FixtureModel}\n" +
                     top);
}

/// Runs the online trainer on the fixture plugin with `args`.
RunResult fixture_run(const TempDir& d, const std::string& args) {
  return run(kOnline + " --expdir " + d.str() + "/exp --plugin-path " +
             fs::path(MIP_FIXTURE_GOOD).parent_path().string() + " " + args);
}

/// Whether `d`/exp holds any experiment folder.
bool any_experiment(const TempDir& d) {
  return fs::exists(d.path() / "exp") &&
         fs::recursive_directory_iterator(d.path() / "exp") !=
             fs::recursive_directory_iterator();
}

TEST(ConfigInput, RecursiveAliasIsAnErrorNotACrash) {
  TempDir d;
  const std::string cfg = fixture_config(d, "", "problem: &p {self: *p}\n");
  const RunResult r = fixture_run(d, "--config " + cfg);
  EXPECT_EQ(r.code, kExitConfig) << r.output;
  EXPECT_HAS(r.output, cfg +
                           ":9: [problem.self] refers back to [problem], "
                           "which holds it (recursive YAML");
}

TEST(ConfigInput, ThreadsAboveTheCoresAreLoweredWithAWarning) {
  // 100000 threads stalled the machine; the run now ends in seconds.
  TempDir d;
  const auto begin = std::chrono::steady_clock::now();
  const RunResult r =
      fixture_run(d, "--config " + fixture_config(d) + " --threads 100000");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "--threads 100000 is more than the " +
                           std::to_string(usable_cores()) +
                           " cores this process may use; using " +
                           std::to_string(usable_cores()));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(60));
}

TEST(ConfigInput, SchedulerOrSamplerWithoutNameIsAnError) {
  TempDir d;
  std::string cfg =
      fixture_config(d, "  scheduler: {name:ReduceLROnPlateau,patience:2}\n");
  RunResult r = fixture_run(d, "--config " + cfg);
  EXPECT_EQ(r.code, kExitConfig) << r.output;
  EXPECT_HAS(r.output, "[training.scheduler] (" + cfg +
                           ":5) sets "
                           "name:ReduceLROnPlateau, patience:2 but no name");
  EXPECT_HAS(r.output, "put a space after the colon");
  cfg = fixture_config(d, "  sampler: {shuffle: false}\n");
  r = fixture_run(d, "--config " + cfg);
  EXPECT_EQ(r.code, kExitConfig) << r.output;
  EXPECT_HAS(r.output, "[training.sampler] (" + cfg +
                           ":5) sets shuffle but "
                           "no name, so no sampler would be used");
  EXPECT_FALSE(any_experiment(d));
}

TEST(ConfigInput, NonFiniteNumbersAreRefusedAtStartNamingTheKey) {
  TempDir d;
  const std::string cfg = fixture_config(d);
  for (const auto& [set, key] :
       std::vector<std::pair<std::string, std::string>>{
           {"training.optimizer.lr=.inf", "training.optimizer.lr"},
           {"training.optimizer.momentum=.nan", "training.optimizer.momentum"},
           {"training.terminal_conditions.loss_stop=.nan",
            "training.terminal_conditions.loss_stop"},
           {"training.gradient_clipping=-.inf", "training.gradient_clipping"},
           {"'training.gradient_clipping={norm: .inf}'",
            "training.gradient_clipping.norm"},
           {"'training.scheduler={name: StepLR, step_size: 1, gamma: .nan}'",
            "training.scheduler.gamma"}}) {
    const RunResult r = fixture_run(d, "--config " + cfg + " --set " + set);
    EXPECT_EQ(r.code, kExitConfig) << set << "\n" << r.output;
    EXPECT_HAS(r.output, "parameter [" + key + "] = ");
    EXPECT_HAS(r.output, "(--set): expected a finite number");
  }
  EXPECT_FALSE(any_experiment(d));
}

TEST(ConfigInput, DuplicateKeyIsAnErrorWithBothLines) {
  TempDir d;
  const std::string cfg =
      fixture_config(d, "  optimizer: {name: SGD, lr: 0.5}\n");
  const RunResult r = fixture_run(d, "--config " + cfg);
  EXPECT_EQ(r.code, kExitConfig) << r.output;
  EXPECT_HAS(r.output, cfg +
                           ":5: key [training.optimizer] is given twice in "
                           "one map (lines 3 and 5)");
}

TEST(ConfigInput, BatchLargerThanTheDataSetWarnsWithBothNumbers) {
  TempDir d;
  const std::string cfg = fixture_config(d);
  const RunResult r = fixture_run(
      d, "--config " + cfg + " --set training.problem.batch_size=100");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output,
             "[training.problem.batch_size] (--set) is 100, more "
             "than the 64 samples drawn from");
  EXPECT_EQ(r.output.find("[validation.problem.batch_size]"), std::string::npos)
      << r.output;
}

TEST(ConfigInput, OnlyMinusOneSeedMeansRandom) {
  TempDir d;
  const std::string cfg = fixture_config(d);
  RunResult r = fixture_run(d, "--config " + cfg + " --seed -2");
  EXPECT_EQ(r.code, kExitUsage) << r.output;
  EXPECT_HAS(r.output,
             "--seed must be >= 0, or -1 to draw one at random; "
             "got -2");
  r = fixture_run(d, "--config " + cfg + " --set training.seed_torch=-5");
  EXPECT_EQ(r.code, kExitConfig) << r.output;
  EXPECT_HAS(r.output,
             "[training.seed_torch] (--set) must be >= 0, or -1 to "
             "draw one at random; got -5");
  EXPECT_FALSE(any_experiment(d));
  r = fixture_run(d, "--config " + cfg + " --seed -1");
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(ConfigInput, TildeWithoutHomeIsAnError) {
  TempDir d;
  const std::string cfg = fixture_config(d);
  const std::string plugins = fs::path(MIP_FIXTURE_GOOD).parent_path().string();
  for (const std::string env : {"env HOME=", "env -u HOME"}) {
    const RunResult r = run("cd " + d.str() + " && " + env + " " + kOnline +
                            " --config " + cfg + " --plugin-path " + plugins +
                            " --expdir '~/mip-test-should-not-exist'");
    EXPECT_EQ(r.code, kExitConfig) << env << "\n" << r.output;
    EXPECT_HAS(r.output,
               "[~/mip-test-should-not-exist] starts with ~ but HOME");
    EXPECT_FALSE(fs::exists("/mip-test-should-not-exist"));
    EXPECT_FALSE(fs::exists(d.path() / "~"));
  }
}

TEST(ConfigInput, SavetagThatLeavesItsFolderIsRefused) {
  TempDir d;
  const std::string cfg = fixture_config(d);
  for (const std::string tag :
       {"a/b", "..", "x..y", "../../up", "tab\\there"}) {  // printf: a tab
    const RunResult r = fixture_run(
        d, "--config " + cfg + " --savetag \"$(printf '" + tag + "')\"");
    EXPECT_EQ(r.code, kExitUsage) << tag << "\n" << r.output;
    EXPECT_HAS(r.output,
               "a savetag is part of one folder name; it may not "
               "hold '/', '..' or control characters");
  }
  EXPECT_FALSE(any_experiment(d));
  const RunResult r = run(kTester + " --model " + d.str() + " --savetag a/b");
  EXPECT_EQ(r.code, kExitUsage) << r.output;
}

TEST(ConfigInput, SetKeysAreReportedFromSetAndEmptyPartsAreRefused) {
  TempDir d;
  const std::string cfg = fixture_config(d);
  RunResult r =
      fixture_run(d, "--config " + cfg + " --set training.colour.deep=1");
  EXPECT_EQ(r.code, kExitConfig) << r.output;
  EXPECT_HAS(r.output, "--set: unknown key [training.colour]");
  for (const std::string bad :
       {".training.problem.batch_size=4", "training..problem.batch_size=4",
        "training.problem.=4"}) {
    r = fixture_run(d, "--config " + cfg + " --set " + bad);
    EXPECT_EQ(r.code, kExitConfig) << bad << "\n" << r.output;
    EXPECT_HAS(r.output, "--set [" + bad + "]: the key path [");
    EXPECT_HAS(r.output, "has an empty part");
  }
  EXPECT_FALSE(any_experiment(d));
}

TEST(ConfigInput, ConfigThatIsADirectoryOrADeviceSaysWhatItIs) {
  TempDir d;
  const std::string fifo = d.str() + "/pipe.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& [path, kind] :
       std::vector<std::pair<std::string, std::string>>{
           {d.str(), "a directory"},
           {"/dev/null", "a character device"},
           {"/dev/zero", "a character device"},
           {fifo, "a FIFO (named pipe)"}}) {
    const RunResult r = fixture_run(d, "--config " + path);  // never blocks
    EXPECT_EQ(r.code, kExitConfig) << path << "\n" << r.output;
    EXPECT_HAS(r.output, path + " is " + kind + ", not a YAML file");
  }
  const std::string cfg =
      fixture_config(d, "", "default_configs: " + d.str() + "\n");
  const RunResult r = fixture_run(d, "--config " + cfg);
  EXPECT_EQ(r.code, kExitConfig) << r.output;
  EXPECT_HAS(r.output, "(named in " + cfg + ":9): " + d.str() +
                           " is a directory, not a YAML file");
}

}  // namespace failures_test
}  // namespace mip
