// Stop and continue: a run killed at any moment, or stopped by Ctrl-C,
// resumes to bit-identical weights and statistics.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

#include <mip/core/checkpoint.hpp>

#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace resume_test {

using namespace test;

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

/// Starts a long online run under `d`/exp in the background; its PID.
pid_t start_long_online_run(const TempDir& d) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string expdir = d.str() + "/exp";
    ::execl(kOnline.c_str(), kOnline.c_str(), "--config", kSerialRecall.c_str(),
            "--expdir", expdir.c_str(), "--li", "1", "--set",
            "training.terminal_conditions.episode_limit=100000", "--ll",
            "warning", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

/// Waits up to 30 s for a file `name` under `root` for which `ready` holds;
/// its path ("" when none came).
fs::path wait_for_file(const fs::path& root,
                       const std::string& name,
                       const std::function<bool(const fs::path&)>& ready) {
  for (int i = 0; i < 600; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!fs::exists(root))
      continue;
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.path().filename() == name && ready(e.path()))
        return e.path();
  }
  return {};
}

TEST(Interrupt, SigintSavesMarksInterruptedAndResumes) {
  TempDir d;
  const pid_t pid = start_long_online_run(d);
  ASSERT_GE(pid, 0);
  // Wait until training runs, then Ctrl-C.
  const fs::path csv =
      wait_for_file(d.path() / "exp", "training_statistics.csv",
                    [](const fs::path& p) { return lines(p) > 30; });
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
/// An online run killed (SIGKILL) right after `kill_at`, its folder.
fs::path killed_online_run(const TempDir& d, int64_t kill_at) {
  const RunResult r =
      run("MIP_FAULT_KILL_AT_EPISODE=" + std::to_string(kill_at) + " " +
          kOnline + kShortOnline + " --expdir " + d.str() + "/killed");
  EXPECT_EQ(r.code, 128 + SIGKILL) << r.output;
  return only_experiment(d.path() / "killed", "training_configuration.yaml");
}

/// The straight run of kShortOnline under `d`/straight, its folder.
fs::path straight_online_run(const TempDir& d) {
  const RunResult r =
      run(kOnline + kShortOnline + " --expdir " + d.str() + "/straight");
  EXPECT_EQ(r.code, 0) << r.output;
  return only_experiment(d.path() / "straight", "training_configuration.yaml");
}

void append(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::app | std::ios::binary) << text;
}

/// Flips every bit of the byte in the middle of `p` (inside the weights).
void flip_middle_byte(const fs::path& p) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  const auto size = static_cast<std::streamoff>(fs::file_size(p));
  f.seekg(size / 2);
  const char c = static_cast<char>(f.get());
  f.seekp(size / 2);
  f.put(static_cast<char>(~c));
}

// --- one process per folder

TEST(FolderLock, ASecondProcessIsRefusedWithTheHoldersPid) {
  TempDir d;
  const pid_t pid = start_long_online_run(d);
  ASSERT_GE(pid, 0);
  const fs::path exp = wait_for_file(d.path() / "exp", "model_last.pt",
                                     [](const fs::path&) { return true; })
                           .parent_path()
                           .parent_path();
  ASSERT_FALSE(exp.empty()) << "training did not start";
  const std::string before = read(exp / "training_statistics.csv");
  RunResult r = run(kOnline + " --resume " + exp.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output,
             "is in use by another process (PID " + std::to_string(pid) + ",");
  // The refused process changed nothing: the rows only grew.
  EXPECT_EQ(read(exp / "training_statistics.csv").rfind(before, 0), 0u);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  // The lock file of the killed process is no obstacle.
  ASSERT_TRUE(fs::exists(exp / ".lock"));
  const CheckpointMeta last =
      read_checkpoint_meta((exp / "models/model_last.pt").string());
  r = run(kOnline + " --resume " + exp.string() +
          " --set training.terminal_conditions.episode_limit=" +
          std::to_string(last.episode + 5));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(lines(exp / "training_statistics.csv"),
            static_cast<size_t>(last.episode) + 6);
}

// --- the folder belongs together

TEST(Identity, ACheckpointOfAnotherRunIsRefused) {
  TempDir a, b;
  const fs::path exp_a = short_serial_recall_run(a);
  const fs::path exp_b = short_serial_recall_run(b);
  ASSERT_FALSE(exp_a.empty() || exp_b.empty());
  fs::copy_file(exp_a / "models/model_last.pt", exp_b / "models/model_last.pt",
                fs::copy_options::overwrite_existing);
  const RunResult r = run(kOnline + " --resume " + exp_b.string());
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output,
             "belongs to run " +
                 read_checkpoint_meta((exp_a / "models/model_last.pt").string())
                     .run_id);
  EXPECT_HAS(r.output, "copied from another experiment");
  // --force does not accept another run's checkpoint.
  EXPECT_EQ(run(kOnline + " --resume " + exp_b.string() + " --force").code, 3);
}

TEST(Identity, AnEditedConfigurationIsRefusedUnlessForced) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  const fs::path config = exp / "training_configuration.yaml";
  std::string text = read(config);
  const auto at = text.find("lr: 0.01");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 8, "lr: 0.02");
  std::ofstream(config) << text;
  RunResult r = run(kOnline + " --resume " + exp.string());
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output, "training_configuration.yaml was edited since");
  EXPECT_HAS(r.output, "--force");
  r = run(kOnline + " --resume " + exp.string() +
          " --force --set training.terminal_conditions.episode_limit=30");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "--force: training_configuration.yaml was edited");
  EXPECT_HAS(read(exp / "training.log"), "--force: training_configuration");
  // The checkpoints written since carry the edited configuration's digest.
  r = run(kOnline + " --resume " + exp.string());
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(Identity, ResumingWithTheOtherTrainerIsRefused) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  const RunResult r = run(kOffline + " --resume " + exp.string());
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output,
             "trained by mip-online-trainer, not mip-offline-trainer");
}

// --- statistics files

TEST(ResumeCsv, ARowCutInHalfAndRowsPastTheCheckpointAreRemoved) {
  TempDir d;
  const fs::path straight = straight_online_run(d);
  const fs::path killed = killed_online_run(d, 37);
  ASSERT_FALSE(straight.empty() || killed.empty());
  append(killed / "training_statistics.csv", "0.69,00003");  // cut by a kill
  append(killed / "validation_statistics.csv", "0.6");
  const RunResult r = run(kOnline + " --resume " + killed.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output,
             "training_statistics.csv: a row cut in half and 12 "
             "rows after episode 25");
  EXPECT_EQ(run_outputs(straight), run_outputs(killed));
}

TEST(ResumeCsv, RowsMissingBeforeTheCheckpointAreAnError) {
  TempDir d;
  const fs::path killed = killed_online_run(d, 37);
  ASSERT_FALSE(killed.empty());
  const fs::path csv = killed / "training_statistics.csv";
  std::string text = read(csv), out;
  std::istringstream in(text);
  std::string line;
  for (int i = 0; std::getline(in, line); ++i)
    if (i < 6 || i > 8)  // drops episodes 5 to 7
      out += line + "\n";
  std::ofstream(csv) << out;
  const RunResult r = run(kOnline + " --resume " + killed.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output, csv.string() + "] lacks rows");
  EXPECT_HAS(r.output, "no row for episode 5");
  EXPECT_EQ(read(csv), out);  // left as it was
}

// --- checkpoint bytes

TEST(Checksum, FlippedBytesAreRefusedOnEveryLoad) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  const fs::path best = exp / "models/model_best.pt";
  const fs::path last = exp / "models/model_last.pt";
  flip_middle_byte(best);
  flip_middle_byte(last);
  RunResult r = run(kTester + " --model " + best.string() + " --expdir " +
                    d.str() + "/test");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output, "checkpoint [" + best.string() + "] is damaged");
  r = run(kOnline + " --resume " + exp.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output, "checkpoint [" + last.string() + "] is damaged");
  r = run(kOnline + " --config " + kSerialRecall + " --model " + best.string() +
          " --expdir " + d.str() + "/warm");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output, "checkpoint [" + best.string() + "] is damaged");
  r = run(kOnline + " --config " + kSerialRecall + " --set model.load=" +
          best.string() + " --expdir " + d.str() + "/warm2");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output, "is damaged");
}

TEST(Checksum, ATruncatedCheckpointSaysSo) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  const fs::path last = exp / "models/model_last.pt";
  fs::resize_file(last, fs::file_size(last) - 100);
  const RunResult r = run(kOnline + " --resume " + exp.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output, "checkpoint [" + last.string() +
                           "] cannot be read: truncated or bytes appended");
}

TEST(Checksum, ABareArchiveAs010WroteItStillLoadsUnverified) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  // 0.1.0 wrote LibTorch's zip archive alone, without the 24-byte header.
  std::ifstream in(exp / "models/model_best.pt", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.substr(0, 8), "MIPCKPT\n");
  const fs::path old = exp / "models/model_old.pt";
  std::ofstream(old, std::ios::binary) << bytes.substr(24);
  const RunResult r = run(kTester + " --model " + old.string() + " --expdir " +
                          d.str() + "/test");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(checkpoint_digest(old.string()),
            checkpoint_digest((exp / "models/model_best.pt").string()));
}

// --- resume from any moment

TEST(ResumeAnyMoment, OfflineKilledBeforeItsFirstCheckpointStartsAgain) {
  TempDir d;
  d.write("valid_indices.txt", valid_indices());
  const std::string cfg = mnist_config(d);
  RunResult r =
      run(kOffline + " --config " + cfg + " --expdir " + d.str() + "/straight");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run("MIP_FAULT_KILL_AT_EPISODE=5 " + kOffline + " --config " + cfg +
          " --expdir " + d.str() + "/killed");
  ASSERT_EQ(r.code, 128 + SIGKILL) << r.output;
  const fs::path straight =
      only_experiment(d.path() / "straight", "training_configuration.yaml");
  const fs::path killed =
      only_experiment(d.path() / "killed", "training_configuration.yaml");
  ASSERT_FALSE(fs::exists(killed / "models/model_last.pt"));
  append(killed / "training_statistics.csv", "0.5,00");  // a partial row
  // A temporary file of the killed process, and one of a checkpoint write.
  append(killed / "status.yaml.tmp.999999", "state: run");
  append(killed / "models/model_last.pt.tmp.999998", "PK");
  r = run(kOffline + " --resume " + killed.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "no checkpoint yet");
  EXPECT_HAS(r.output, "removed 2 temporary file(s)");
  EXPECT_FALSE(fs::exists(killed / "status.yaml.tmp.999999"));
  EXPECT_FALSE(fs::exists(killed / "models/model_last.pt.tmp.999998"));
  EXPECT_EQ(run_outputs(straight), run_outputs(killed));
  EXPECT_HAS(read(killed / "status.yaml"), "state: finished");
}

TEST(ResumeAnyMoment, KilledInTheMiddleOfACheckpointWriteResumes) {
  TempDir d;
  const fs::path straight = straight_online_run(d);
  // Writes: 1 model_best (episode 0), 2 model_last (0), 3 model_best (25)...
  RunResult r = run("MIP_FAULT_KILL_IN_CHECKPOINT=4 " + kOnline + kShortOnline +
                    " --expdir " + d.str() + "/killed");
  ASSERT_EQ(r.code, 128 + SIGKILL) << r.output;
  const fs::path killed =
      only_experiment(d.path() / "killed", "training_configuration.yaml");
  bool tmp = false;
  for (const auto& e : fs::directory_iterator(killed / "models"))
    tmp |= e.path().filename().string().find(".tmp.") != std::string::npos;
  EXPECT_TRUE(tmp) << "the kill did not hit a checkpoint write";
  r = run(kOnline + " --resume " + killed.string());
  ASSERT_EQ(r.code, 0) << r.output;
  for (const auto& e : fs::directory_iterator(killed / "models"))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos)
        << e.path();
  EXPECT_EQ(run_outputs(straight), run_outputs(killed));
}

}  // namespace resume_test
}  // namespace mip
