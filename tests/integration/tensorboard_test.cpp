// --tensorboard 0|1|2: event files written by the real workers, decoded and
// checked by an independent reader (tests/tools/read_tensorboard.py, on
// Debian's python3-protobuf and python3-crc32c) against the CSV files of the
// same run.
#include <csignal>
#include <filesystem>
#include <string>

#include "common/full_disk.hpp"
#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace tensorboard_test {

using namespace test;

const std::string kReader =
    "/usr/bin/python3 " + kSource + "/tests/tools/read_tensorboard.py";
const std::string kTrainerRuns =
    "training,training_set_agg,validation,validation_set_agg";

/// Why the reader cannot run here ("" when it can).
std::string reader_missing() {
  const RunResult r =
      run("/usr/bin/python3 -c 'import google.protobuf, crc32c'");
  return r.code == 0 ? ""
                     : "Debian's python3-protobuf and python3-crc32c are "
                       "needed (packaging/install-deps.sh): " +
                           r.output;
}

#define SKIP_WITHOUT_READER()                                 \
  if (const std::string why = reader_missing(); !why.empty()) \
  GTEST_SKIP() << why

/// Runs the reader's checks on `folder`; its report.
std::string expect_valid(const fs::path& folder,
                         const std::string& runs,
                         int li,
                         int level) {
  const RunResult r =
      run(kReader + " check " + folder.string() + " --runs " + runs + " --li " +
          std::to_string(li) + " --level " + std::to_string(level));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "OK");
  return r.output;
}

size_t events_files(const fs::path& run_folder) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(run_folder))
    n += e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  return n;
}

TEST(TensorBoard, OnlineTrainerWritesStatisticsWeightsAndGradients) {
  SKIP_WITHOUT_READER();
  TempDir d;
  const RunResult r = run(kOnline + kShortOnline + " --li 10 --tensorboard 2" +
                          " --expdir " + d.str() + "/exp");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp =
      only_experiment(d.path() / "exp", "training_configuration.yaml");
  const std::string report = expect_valid(exp, kTrainerRuns, 10, 2);
  // 26 points of training, histograms of the LSTM's weights and gradients.
  EXPECT_HAS(report, "training: 1 file(s)");
  EXPECT_HAS(report, "histogram tags");
  for (const char* run :
       {"training", "validation", "training_set_agg", "validation_set_agg"})
    EXPECT_EQ(events_files(exp / run), 1u) << run;
}

TEST(TensorBoard, OfflineTrainerAndTesterWriteTheirSections) {
  SKIP_WITHOUT_READER();
  TempDir d;
  // 3 epochs of 20 episodes, a full validation after each; weights only.
  RunResult r = run(kOffline + " --config " + kSerialRecall +
                    " --set training.problem.size=640"
                    " --set training.terminal_conditions.epoch_limit=3"
                    " --set training.terminal_conditions.episode_limit=-1"
                    " --li 5 --tensorboard 1 --expdir " +
                    d.str() + "/exp");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp =
      only_experiment(d.path() / "exp", "training_configuration.yaml");
  expect_valid(exp, kTrainerRuns, 5, 1);
  EXPECT_EQ(csv_rows(exp / "training_set_agg_statistics.csv").size(), 4u);

  // The tester's sections in its test folder: scalars only, whatever the
  // level.
  r = run(kTester + " --model " + exp.string() + " --li 3 --tensorboard 2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "the tester writes the statistics only");
  const fs::path test = only_experiment(exp, "testing_configuration.yaml");
  const std::string report =
      expect_valid(test, "testing,testing_set_agg", 3, 0);
  EXPECT_HAS(report, "testing_set_agg: 1 file(s)");
}

TEST(TensorBoard, ResumeAppendsToTheSameRunsAndLosesNothing) {
  SKIP_WITHOUT_READER();
  TempDir d;
  const std::string args = kShortOnline + " --li 10 --tensorboard 2";
  RunResult r = run(kOnline + args + " --expdir " + d.str() + "/straight");
  ASSERT_EQ(r.code, 0) << r.output;
  // Killed after episode 137: the last checkpoint is at 125, so the point
  // at 130 was written and is written again by the resumed run.
  r = run("MIP_FAULT_KILL_AT_EPISODE=137 " + kOnline + args + " --expdir " +
          d.str() + "/killed");
  ASSERT_EQ(r.code, 128 + SIGKILL) << r.output;
  const fs::path straight =
      only_experiment(d.path() / "straight", "training_configuration.yaml");
  const fs::path killed =
      only_experiment(d.path() / "killed", "training_configuration.yaml");
  // What the killed run left is whole, up to its last record.
  r = run(kReader + " dump " + killed.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "[130, ");

  r = run(kOnline + " --resume " + killed.string() +
          " --li 10 --tensorboard 2");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* run :
       {"training", "validation", "training_set_agg", "validation_set_agg"})
    EXPECT_EQ(events_files(killed / run), 2u) << run;
  expect_valid(killed, kTrainerRuns, 10, 2);
  // As TensorBoard shows them, the resumed runs are the straight ones.
  const RunResult a = run(kReader + " dump " + straight.string());
  const RunResult b = run(kReader + " dump " + killed.string());
  ASSERT_EQ(a.code, 0) << a.output;
  EXPECT_GT(a.output.size(), 1000u);
  EXPECT_EQ(a.output, b.output);
}

TEST(TensorBoard, FullDiskKeepsEveryRecordWholeAndResumeCompletes) {
  SKIP_WITHOUT_READER();
  TempDir d;
  if (const std::string why = tmpfs_refused(d); !why.empty())
    GTEST_SKIP() << why;
  // A run with a checkpoint, copied onto a tmpfs with 16 KiB free, resumed
  // with histograms of weights and gradients at every episode: the event
  // files fill the disk within a few episodes.
  const std::string args = " --li 1 --tensorboard 2 --ll warning";
  RunResult r = run(kOnline + kShortOnline + args + " --expdir " + d.str() +
                    "/ref --set training.terminal_conditions.episode_limit=30");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path src =
      only_experiment(d.path() / "ref", "training_configuration.yaml");
  r = in_tmpfs(d, "64m",
               "cp -a " + src.string() + " $MNT/exp\n" + fill_leaving(16384) +
                   kOnline + " --resume $MNT/exp" + args +
                   " --set training.terminal_conditions.episode_limit=100000");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output, "No space left on device");
  EXPECT_HAS(r.output, "/events.out.tfevents.");
  EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  const fs::path exp = d.path() / "out" / "exp";
  EXPECT_HAS(read(exp / "status.yaml"), "state: failed");
  // Every events file holds whole records only (the reader fails on a torn
  // one, and on an empty file), the failed run's files included.
  r = run(kReader + " dump " + exp.string());
  ASSERT_EQ(r.code, 0) << r.output.substr(
      r.output.rfind('\n', r.output.size() - 2) + 1);
  // With room again, --resume goes on from the last checkpoint and the
  // scalars as TensorBoard shows them equal the CSV files.
  r = run(kOnline + " --resume " + exp.string() + args +
          " --set training.terminal_conditions.episode_limit=60");
  ASSERT_EQ(r.code, 0) << r.output;
  expect_valid(exp, kTrainerRuns, 1, 2);
}

TEST(TensorBoard, OffWritesNothingAndABadLevelIsAUsageError) {
  TempDir d;
  RunResult r = run(kOnline + " --config " + kSerialRecall +
                    " --set training.terminal_conditions.episode_limit=3"
                    " --tensorboard 3 --expdir " +
                    d.str() + "/exp");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_HAS(r.output,
             "--tensorboard must be 0 (statistics), 1 (also weight "
             "histograms) or 2 (also gradient histograms); got 3");
  EXPECT_FALSE(fs::exists(d.path() / "exp"));
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  for (const auto& e : fs::recursive_directory_iterator(exp))
    EXPECT_EQ(e.path().filename().string().find("tfevents"), std::string::npos)
        << e.path();
  EXPECT_FALSE(fs::exists(exp / "training"));
}

}  // namespace tensorboard_test
}  // namespace mip
