// Stop and continue: a run killed at any moment, or stopped by Ctrl-C,
// resumes to bit-identical weights and statistics.
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
}  // namespace
}  // namespace mip
