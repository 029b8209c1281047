// Offline trainer, tester, exact resume, interruption, NaN and corrupt
// checkpoints: the real workers on real files (small IDX data written here).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include <mip/core/checkpoint.hpp>

#include "common/test_util.hpp"

namespace fs = std::filesystem;

namespace mip {
namespace {

using test::lines;
using test::only_experiment;
using test::read;
using test::run;
using test::RunResult;
using test::TempDir;

const std::string kBin = fs::path(MIP_ONLINE_TRAINER).parent_path().string();
const std::string kOnline = kBin + "/mip-online-trainer";
const std::string kOffline = kBin + "/mip-offline-trainer";
const std::string kTester = kBin + "/mip-tester";
const std::string kSource = MIP_SOURCE_DIR;
const std::string kSerialRecall = kSource + "/configs/serial_recall/lstm.yaml";

void put_u32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i)
    s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/// Writes an MNIST-style IDX pair: class c draws a bright 6x6 square at a
/// place of its own, plus noise, so that a small model learns it.
void write_idx(const TempDir& d,
               const std::string& prefix,
               int n,
               uint32_t seed) {
  std::mt19937 rng(seed);
  std::string images, labels;
  put_u32(images, 0x00000803);
  put_u32(images, static_cast<uint32_t>(n));
  put_u32(images, 28);
  put_u32(images, 28);
  put_u32(labels, 0x00000801);
  put_u32(labels, static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) {
    const int c = static_cast<int>(rng() % 10);
    labels.push_back(static_cast<char>(c));
    const int r0 = 2 + (c / 5) * 12, c0 = 2 + (c % 5) * 5;
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const bool on = y >= r0 && y < r0 + 6 && x >= c0 && x < c0 + 5;
        images.push_back(static_cast<char>(on ? 200 + rng() % 56 : rng() % 60));
      }
  }
  d.write("mnist/" + prefix + "-images-idx3-ubyte", images);
  d.write("mnist/" + prefix + "-labels-idx1-ubyte", labels);
}

/// A small MNIST experiment on files written by the test.
std::string mnist_config(const TempDir& d, const std::string& extra = "") {
  write_idx(d, "train", 600, 1);
  write_idx(d, "t10k", 200, 2);
  return d.write(
      "mnist.yaml",
      "training:\n"
      "  seed_torch: 3\n  seed_numpy: 3\n"
      "  problem: {name: MNIST, batch_size: 32, data_folder: " +
          d.str() +
          "/mnist, padding: [2, 2, 2, 2]}\n"
          "  sampler: {name: SubsetRandomSampler, indices: [0, 500]}\n"
          "  optimizer: {name: Adam, lr: 0.002}\n"
          "  terminal_conditions: {epoch_limit: 4}\n" +
          extra +
          "validation:\n"
          "  problem: {name: MNIST, batch_size: 50, data_folder: " +
          d.str() +
          "/mnist, padding: [2, 2, 2, 2]}\n"
          "  sampler: {name: SubsetRandomSampler, indices: " +
          d.str() +
          "/valid_indices.txt}\n"
          "testing:\n"
          "  problem: {name: MNIST, batch_size: 50, use_train_data: false, "
          "data_folder: " +
          d.str() +
          "/mnist, padding: [2, 2, 2, 2]}\n"
          "model: {name: LeNet5}\n");
}

std::string valid_indices() {
  std::string s;
  for (int i = 500; i < 600; ++i)
    s += (i > 500 ? "," : "") + std::to_string(i);
  return s + "\n";
}

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

/// Runs `args` twice: once straight through, once killed by SIGKILL right
/// after episode `kill_at` and resumed; the weights must be bit-identical.
void expect_kill_and_resume_identical(const std::string& trainer,
                                      const std::string& args,
                                      int64_t kill_at) {
  TempDir d;
  RunResult r = run(trainer + args + " --expdir " + d.str() + "/straight");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run("MIP_FAULT_KILL_AT_EPISODE=" + std::to_string(kill_at) + " " +
          trainer + args + " --expdir " + d.str() + "/killed");
  ASSERT_EQ(r.code, 128 + SIGKILL) << r.output;
  const fs::path straight =
      only_experiment(d.path() / "straight", "training_configuration.yaml");
  const fs::path killed =
      only_experiment(d.path() / "killed", "training_configuration.yaml");
  EXPECT_NE(read(killed / "status.yaml").find("state: running"),
            std::string::npos);
  r = run(trainer + " --resume " + killed.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Resuming " + fs::canonical(killed).string()),
            std::string::npos);
  EXPECT_EQ(checkpoint_digest((straight / "models/model_last.pt").string()),
            checkpoint_digest((killed / "models/model_last.pt").string()));
  EXPECT_EQ(checkpoint_digest((straight / "models/model_best.pt").string()),
            checkpoint_digest((killed / "models/model_best.pt").string()));
  for (const char* f :
       {"training_statistics.csv", "validation_statistics.csv",
        "training_set_agg_statistics.csv", "validation_set_agg_statistics.csv"})
    EXPECT_EQ(read(straight / f), read(killed / f)) << f;
  EXPECT_NE(read(killed / "status.yaml").find("state: finished"),
            std::string::npos);
}

const std::string kShortOnline =
    " --config " + kSerialRecall +
    " --set training.terminal_conditions.episode_limit=260"
    " --set validation.partial_validation_interval=25"
    " --set 'training.scheduler={name: ReduceLROnPlateau, patience: 1, factor: "
    "0.5}'";

TEST(Resume, OnlineKilledEarlyIsBitIdentical) {
  expect_kill_and_resume_identical(kOnline, kShortOnline, 37);
}

TEST(Resume, OnlineKilledLateIsBitIdentical) {
  expect_kill_and_resume_identical(kOnline, kShortOnline, 213);
}

TEST(Resume, OfflineKilledMidEpochIsBitIdentical) {
  TempDir d;
  d.write("valid_indices.txt", valid_indices());
  const std::string cfg =
      mnist_config(d, "  scheduler: {name: CosineAnnealingLR, T_max: 3}\n");
  expect_kill_and_resume_identical(kOffline, " --config " + cfg, 40);
}

/// The four statistics files and the two checkpoints' digests of a run.
std::vector<std::string> run_outputs(const fs::path& exp) {
  std::vector<std::string> out;
  for (const char* f :
       {"training_statistics.csv", "validation_statistics.csv",
        "training_set_agg_statistics.csv", "validation_set_agg_statistics.csv"})
    out.push_back(read(exp / f));
  for (const char* f : {"models/model_last.pt", "models/model_best.pt"})
    out.push_back(checkpoint_digest((exp / f).string()));
  return out;
}

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

TEST(Interrupt, SigintSavesMarksInterruptedAndResumes) {
  TempDir d;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string expdir = d.str() + "/exp";
    ::execl(kOnline.c_str(), kOnline.c_str(), "--config", kSerialRecall.c_str(),
            "--expdir", expdir.c_str(), "--li", "1", "--set",
            "training.terminal_conditions.episode_limit=100000", "--ll",
            "warning", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait until training runs, then Ctrl-C.
  fs::path csv;
  for (int i = 0; i < 600 && csv.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!fs::exists(d.path() / "exp"))
      continue;
    for (const auto& e : fs::recursive_directory_iterator(d.path() / "exp"))
      if (e.path().filename() == "training_statistics.csv" &&
          lines(e.path()) > 30)
        csv = e.path();
  }
  ASSERT_FALSE(csv.empty()) << "training did not start";
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const fs::path exp = csv.parent_path();
  const std::string st = read(exp / "status.yaml");
  EXPECT_NE(st.find("state: interrupted"), std::string::npos) << st;
  EXPECT_NE(st.find("Interrupted by SIGINT"), std::string::npos) << st;
  const CheckpointMeta last =
      read_checkpoint_meta((exp / "models/model_last.pt").string());
  EXPECT_EQ(static_cast<size_t>(last.episode) + 2,
            lines(exp / "training_statistics.csv"));
  const RunResult r = run(kOnline + " --resume " + exp.string() +
                          " --set training.terminal_conditions.episode_limit=" +
                          std::to_string(last.episode + 11));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(lines(exp / "training_statistics.csv"),
            static_cast<size_t>(last.episode) + 12);
  EXPECT_NE(read(exp / "status.yaml").find("state: finished"),
            std::string::npos);
}

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

/// A 20-episode serial-recall training under `d`/exp: its experiment folder
/// (empty, with a test failure, when the run fails).
fs::path short_serial_recall_run(const TempDir& d) {
  const RunResult r =
      run(kOnline + " --config " + kSerialRecall + " --expdir " + d.str() +
          "/exp --set training.terminal_conditions.episode_limit=20");
  EXPECT_EQ(r.code, 0) << r.output;
  if (r.code != 0)
    return {};
  return only_experiment(d.path() / "exp", "training_configuration.yaml");
}

TEST(Tester, MultiTestsRunOneTestPerValue) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  RunResult r;
  const std::string overlay = d.write("multi.yaml",
                                      "testing:\n  problem: {size: 128}\n"
                                      "  multi_tests: {min_sequence_length: "
                                      "[3, 7], max_sequence_length: [3, 7]}\n");
  r = run(kTester + " --model " + exp.string() + " --config " + overlay +
          " --expdir " + d.str() + "/t");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(
      r.output.find("Test 2 of 2: min_sequence_length=7 max_sequence_length=7"),
      std::string::npos)
      << r.output;
  fs::path test_dir;
  for (const auto& e : fs::directory_iterator(d.path() / "t"))
    test_dir = e.path();
  // Two tests of 2 batches each; the second one on sequences of 7 items.
  EXPECT_EQ(lines(test_dir / "testing_set_agg_statistics.csv"), 1u + 2u);
  const std::string rows = read(test_dir / "testing_statistics.csv");
  EXPECT_EQ(lines(test_dir / "testing_statistics.csv"), 1u + 4u);
  EXPECT_NE(rows.find(",3,3,000064\n"), std::string::npos) << rows;
  EXPECT_NE(rows.find(",7,7,000064\n"), std::string::npos) << rows;
  const std::string bad =
      d.write("bad.yaml", "testing:\n  multi_tests: {max_lenght: [1, 2]}\n");
  r = run(kTester + " --model " + exp.string() + " --config " + bad);
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(
      r.output.find(
          "[testing.multi_tests.max_lenght]: no key of the testing section"),
      std::string::npos)
      << r.output;
}

TEST(Tester, SeedMakesAGeneratedTestSetRepeat) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  RunResult r;
  std::vector<std::string> csvs;
  for (const char* tag : {"a", "b", "c"}) {
    const std::string seed = std::string(tag) == "c" ? "4" : "3";
    r = run(kTester + " --model " + exp.string() + " --seed " + seed +
            " --savetag " + tag + " --expdir " + d.str() + "/t" + tag);
    ASSERT_EQ(r.code, 0) << r.output;
    for (const auto& e :
         fs::directory_iterator(d.path() / ("t" + std::string(tag))))
      csvs.push_back(read(e.path() / "testing_statistics.csv"));
  }
  ASSERT_EQ(csvs.size(), 3u);
  EXPECT_EQ(csvs[0], csvs[1]);
  EXPECT_NE(csvs[0], csvs[2]);
  r = run(kTester + " --config " + kSerialRecall);
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("--model is required"), std::string::npos);
}

}  // namespace
}  // namespace mip
