// Full disks and signals, through the real trainers: a real full disk is a
// size-limited tmpfs mounted in a private mount namespace (unshare -m, as
// root); the tests skip where mounting is refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "common/full_disk.hpp"
#include "common/worker_runs.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace faults_test {

using namespace mip::test;

/// Files named *.tmp.* under `dir`.
std::vector<std::string> temporaries(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos)
      found.push_back(e.path().string());
  return found;
}

const std::string kEvery25 =
    " --config " + kSerialRecall +
    " --set validation.partial_validation_interval=25 --ll warning";

/// A full disk ends the run with exit 1 and a message naming the file and
/// the free space, and never with std::terminate.
void expect_full_disk_error(const RunResult& r, const std::string& file) {
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output, "cannot write [");
  EXPECT_HAS(r.output, file);
  EXPECT_HAS(r.output, "No space left on device; ");
  EXPECT_HAS(r.output, "free on the file system of [");
  EXPECT_HAS(r.output, "--resume");
  EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  // The log file's failure is ours to report, not spdlog's raw handler's.
  EXPECT_EQ(r.output.find("LOG ERROR"), std::string::npos) << r.output;
}

/// What a full disk leaves: status.yaml failed, no temporary file, every
/// checkpoint readable, model_last.pt of episode `kept`; then, with space
/// again, --resume finishes the run.
void expect_failed_and_resumable(const fs::path& exp,
                                 int64_t kept,
                                 int64_t limit) {
  const std::string st = read(exp / "status.yaml");
  EXPECT_HAS(st, "state: failed");
  EXPECT_HAS(st, "No space left on device");
  EXPECT_TRUE(temporaries(exp).empty()) << temporaries(exp).front();
  for (const auto& e : fs::directory_iterator(exp / "models"))
    EXPECT_NO_THROW(checkpoint_digest(e.path().string())) << e.path();
  const CheckpointMeta last =
      read_checkpoint_meta((exp / "models/model_last.pt").string());
  EXPECT_EQ(last.episode, kept);
  const RunResult r = run(kOnline + " --resume " + exp.string() +
                          " --set training.terminal_conditions.episode_limit=" +
                          std::to_string(limit));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(read(exp / "status.yaml"), "state: finished");
  EXPECT_EQ(
      read_checkpoint_meta((exp / "models/model_last.pt").string()).episode,
      limit - 1);
}

TEST(FullDisk, BeforeStartIsAnErrorNamingTheFile) {
  TempDir d;
  if (const std::string why = tmpfs_refused(d); !why.empty())
    GTEST_SKIP() << why;
  const RunResult r =
      in_tmpfs(d, "1m",
               "head -c 2M /dev/zero > $MNT/fill 2>/dev/null\n" + kOnline +
                   kEvery25 + " --expdir $MNT/exp");
  // training_configuration.yaml is the first file a run writes.
  expect_full_disk_error(r, "training_configuration.yaml]");
  EXPECT_TRUE(temporaries(d.path() / "out").empty());
}

/// Training to episode 2000, saved every 25 (at 0, 25, ...), on a tmpfs that
/// holds half a checkpoint more than a reference run to episode 26 needs:
/// the checkpoint of episode 25 cannot be written.
RunResult full_at_second_checkpoint(const TempDir& d,
                                    const std::string& extra) {
  const RunResult ref =
      run(kOnline + kEvery25 + extra + " --expdir " + d.str() +
          "/ref --set training.terminal_conditions.episode_limit=26");
  EXPECT_EQ(ref.code, 0) << ref.output;
  const fs::path exp = only_experiment(d.path() / "ref");
  const uint64_t last = fs::file_size(exp / "models/model_last.pt");
  return in_tmpfs(d, "64m",
                  fill_leaving(pages_of(exp) + last / 2) + kOnline + kEvery25 +
                      extra + " --expdir $MNT/exp");
}

TEST(FullDisk, DuringACheckpointKeepsThePreviousOneResumable) {
  TempDir d;
  if (const std::string why = tmpfs_refused(d); !why.empty())
    GTEST_SKIP() << why;
  const RunResult r = full_at_second_checkpoint(d, "");
  expect_full_disk_error(r, ".pt]");
  EXPECT_HAS(r.output, "/models/model_");
  expect_failed_and_resumable(only_experiment(d.path() / "out"), 0, 80);
}

TEST(FullDisk, WithSaveIntermediateKeepsEveryWrittenCheckpoint) {
  TempDir d;
  if (const std::string why = tmpfs_refused(d); !why.empty())
    GTEST_SKIP() << why;
  const RunResult r =
      full_at_second_checkpoint(d, " --set model.save_intermediate=true");
  expect_full_disk_error(r, ".pt]");
  const fs::path exp = only_experiment(d.path() / "out");
  EXPECT_TRUE(fs::exists(exp / "models/model_episode_00000.pt"));
  EXPECT_FALSE(fs::exists(exp / "models/model_episode_00025.pt"));
  expect_failed_and_resumable(exp, 0, 80);
}

TEST(FullDisk, DuringCsvWritesStopsWithCompleteRows) {
  TempDir d;
  if (const std::string why = tmpfs_refused(d); !why.empty())
    GTEST_SKIP() << why;
  // A run with a checkpoint, copied onto a tmpfs with 8 KiB free, resumed
  // for many episodes without a checkpoint: the statistics fill the disk.
  const RunResult ref =
      run(kOnline + kEvery25 + " --expdir " + d.str() +
          "/ref --set training.terminal_conditions.episode_limit=30");
  ASSERT_EQ(ref.code, 0) << ref.output;
  const fs::path src = only_experiment(d.path() / "ref");
  const RunResult r =
      in_tmpfs(d, "64m",
               "cp -a " + src.string() + " $MNT/exp\n" + fill_leaving(8192) +
                   kOnline + " --resume $MNT/exp --li 1 --ll warning" +
                   " --set training.terminal_conditions.episode_limit=100000" +
                   " --set validation.partial_validation_interval=100000");
  expect_full_disk_error(r, "_statistics.csv]");
  // Reported once, not again by the end of the failed run.
  const size_t at = r.output.find("_statistics.csv]");
  EXPECT_EQ(r.output.find("_statistics.csv]", at + 1), std::string::npos)
      << r.output;
  const fs::path exp = d.path() / "out" / "exp";
  // Every row of every statistics file is whole: as many cells as the header.
  for (const char* f : {"training_statistics.csv", "validation_statistics.csv",
                        "training_set_agg_statistics.csv",
                        "validation_set_agg_statistics.csv"}) {
    std::stringstream in(read(exp / f));
    std::string header, row;
    std::getline(in, header);
    const auto cells = std::count(header.begin(), header.end(), ',');
    size_t rows = 0;
    while (std::getline(in, row)) {
      ++rows;
      EXPECT_EQ(std::count(row.begin(), row.end(), ','), cells)
          << f << " row " << rows << ": [" << row << "]";
    }
    EXPECT_EQ(read(exp / f).back(), '\n') << f;
  }
  EXPECT_GT(lines(exp / "training_statistics.csv"), 40u);
  expect_failed_and_resumable(exp, 29, 60);
}

// --- signals

/// Starts the online trainer for a long run under `d`/exp, output to
/// `d`/out.txt (no core file: RLIMIT_CORE 0).
pid_t start_long_run(const TempDir& d,
                     const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {
      kOnline,
      "--config",
      kSerialRecall,
      "--expdir",
      d.str() + "/exp",
      "--li",
      "1",
      "--set",
      "training.terminal_conditions.episode_limit=100000"};
  args.insert(args.end(), extra.begin(), extra.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    const struct rlimit none {};
    ::setrlimit(RLIMIT_CORE, &none);
    const std::string out = d.str() + "/out.txt";
    std::freopen(out.c_str(), "w", stdout);
    ::dup2(::fileno(stdout), 2);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(kOnline.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

/// The experiment folder once its training statistics have `rows` rows.
fs::path wait_for_rows(const TempDir& d, size_t rows) {
  for (int i = 0; i < 1200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    if (!fs::exists(d.path() / "exp"))
      continue;
    for (const auto& e : fs::recursive_directory_iterator(d.path() / "exp"))
      if (e.path().filename() == "training_statistics.csv" &&
          lines(e.path()) > rows)
        return e.path().parent_path();
  }
  return {};
}

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(Signals, SighupSavesAndMarksInterruptedLikeSigterm) {
  TempDir d;
  const pid_t pid = start_long_run(d);
  ASSERT_GT(pid, 0);
  const fs::path exp = wait_for_rows(d, 30);
  ASSERT_FALSE(exp.empty()) << read(d.path() / "out.txt");
  ::kill(pid, SIGHUP);
  const int status = wait_status(pid);
  ASSERT_TRUE(WIFEXITED(status)) << read(d.path() / "out.txt");
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const std::string st = read(exp / "status.yaml");
  EXPECT_HAS(st, "state: interrupted");
  EXPECT_HAS(st, "Interrupted by SIGHUP");
  const CheckpointMeta last =
      read_checkpoint_meta((exp / "models/model_last.pt").string());
  EXPECT_EQ(static_cast<size_t>(last.episode) + 2,
            lines(exp / "training_statistics.csv"));
}

TEST(Signals, ClosedOutputPipeIsNotADeath) {
  TempDir d;
  // The reader of the trainer's output exits at once: every later console
  // line is a write to a closed pipe (SIGPIPE unless ignored).
  const RunResult r =
      run("bash -c '" + kOnline + " --config " + kSerialRecall + " --expdir " +
          d.str() +
          "/exp --li 1 --set training.terminal_conditions.episode_limit="
          "60 2>&1 | true; echo rc=${PIPESTATUS[0]}'");
  EXPECT_HAS(r.output, "rc=0");
  const fs::path exp = only_experiment(d.path() / "exp");
  EXPECT_HAS(read(exp / "status.yaml"), "state: finished");
  EXPECT_EQ(lines(exp / "training_statistics.csv"), 61u);
}

TEST(Signals, SigintDuringTheFinalValidationStopsAndIsRecorded) {
  TempDir d;
  // A final validation of 1000 batches (seconds), after 30 episodes.
  const pid_t pid = start_long_run(
      d, {"--set", "training.terminal_conditions.episode_limit=30", "--set",
          "validation.problem.size=64000"});
  ASSERT_GT(pid, 0);
  bool final = false;
  for (int i = 0; i < 2400 && !final; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    final = read(d.path() / "out.txt").find("Training ended after episode") !=
            std::string::npos;
  }
  ASSERT_TRUE(final) << read(d.path() / "out.txt");
  ::kill(pid, SIGINT);
  const int status = wait_status(pid);
  const std::string out = read(d.path() / "out.txt");
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 130) << out;
  EXPECT_HAS(out, "Interrupted by SIGINT during the final validation");
  const fs::path exp = only_experiment(d.path() / "exp");
  const std::string st = read(exp / "status.yaml");
  EXPECT_HAS(st, "state: interrupted");
  EXPECT_HAS(st, "during the final validation");
  EXPECT_EQ(
      read_checkpoint_meta((exp / "models/model_last.pt").string()).episode,
      29);
  // The abandoned validation wrote no aggregate row.
  EXPECT_EQ(lines(exp / "validation_set_agg_statistics.csv"), 1u);
}

/// Whether `sig` is pending for process `pid` (sent, not yet taken by a
/// handler): the "ShdPnd" mask of /proc/<pid>/status.
bool signal_pending(pid_t pid, int sig) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("ShdPnd:", 0) == 0)
      return (std::stoull(line.substr(7), nullptr, 16) >> (sig - 1)) & 1u;
  return false;
}

/// A signal that ends the process at once leaves status.yaml "killed".
void expect_killed(const TempDir& d, const std::vector<int>& signals) {
  const pid_t pid = start_long_run(d);
  ASSERT_GT(pid, 0);
  const fs::path exp = wait_for_rows(d, 30);
  ASSERT_FALSE(exp.empty()) << read(d.path() / "out.txt");
  for (int sig : signals) {
    // One at a time: a signal sent while the same one is still pending is
    // merged into it by the kernel, so wait until the process has taken it.
    ::kill(pid, sig);
    for (int i = 0; i < 5000 && signal_pending(pid, sig); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const int status = wait_status(pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << read(d.path() / "out.txt");
  EXPECT_EQ(WTERMSIG(status), signals.back());
  const std::string st = read(exp / "status.yaml");
  EXPECT_HAS(st, "state: killed");
  EXPECT_HAS(st, std::string("Killed by ") +
                     (signals.back() == SIGINT ? "SIGINT" : "SIGQUIT"));
  EXPECT_HAS(st, "worker: mip-online-trainer");
  EXPECT_TRUE(temporaries(exp).empty()) << temporaries(exp).front();
}

TEST(Signals, SecondSigintKillsAndStatusSaysKilled) {
  TempDir d;
  expect_killed(d, {SIGINT, SIGINT});
}

TEST(Signals, SigquitKillsAtOnceAndStatusSaysKilled) {
  TempDir d;
  expect_killed(d, {SIGQUIT});
}

}  // namespace faults_test
}  // namespace mip
