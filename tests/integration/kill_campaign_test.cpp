// The kill campaign: runs of both trainers are killed (SIGKILL) at random
// moments -- in the first 100 ms, anywhere in the run, in the middle of a
// checkpoint write -- and resumed again and again until they finish; each
// must end bit-identical (statistics files, checkpoint weights) to the run
// never stopped. The moments come from a seed printed in the output
// (MIP_KILL_CAMPAIGN_SEED=<seed> replays a campaign).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace kill_campaign_test {

using namespace test;
using Clock = std::chrono::steady_clock;

/// Kills per trainer: 2 x 16 = 32 in all.
constexpr int kKillsPerTrainer = 16;

/// How one attempt ends: the exit code, or 128 + SIGKILL.
struct Attempt {
  int code = -1;
  double seconds = 0.0;
};

/// Runs `args` with `env` added, its output into `log`; sends SIGKILL after
/// `kill_after_ms` (< 0: never) unless it ended before.
Attempt run_and_kill(
    const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env,
    int kill_after_ms,
    const fs::path& log) {
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [k, v] : env)
      ::setenv(k.c_str(), v.c_str(), 1);
    std::FILE* out = std::fopen(log.c_str(), "a");
    if (out) {
      ::dup2(::fileno(out), 1);
      ::dup2(::fileno(out), 2);
    }
    std::vector<char*> argv;
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  Attempt a;
  int status = 0;
  const auto deadline = start + std::chrono::milliseconds(kill_after_ms);
  const auto limit = start + std::chrono::seconds(120);  // a hung run
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid)
      break;
    const auto now = Clock::now();
    if ((kill_after_ms >= 0 && now >= deadline) || now >= limit) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  a.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  a.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return a;
}

/// The experiment folder under `root` that holds a configuration ("" when
/// none: killed before it was written).
fs::path resumable_folder(const fs::path& root) {
  if (!fs::exists(root))
    return {};
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.path().filename() == "training_configuration.yaml")
      return e.path().parent_path();
  return {};
}

uint64_t campaign_seed() {
  if (const char* s = std::getenv("MIP_KILL_CAMPAIGN_SEED"))
    return std::strtoull(s, nullptr, 10);
  return std::random_device()();
}

/// Kills runs of `trainer` (`args`: its configuration) until `kills` are
/// done, each run resumed until it finishes and compared with the straight
/// run.
void campaign(const std::string& trainer,
              const std::vector<std::string>& args,
              const TempDir& d,
              std::mt19937_64& rng) {
  std::vector<std::string> fresh = {trainer};
  fresh.insert(fresh.end(), args.begin(), args.end());
  auto with_expdir = [&](const std::string& root) {
    std::vector<std::string> a = fresh;
    a.insert(a.end(), {"--expdir", root, "--ll", "warning"});
    return a;
  };
  const fs::path log = d.path() / "campaign.log";
  const Attempt straight =
      run_and_kill(with_expdir(d.str() + "/straight"), {}, -1, log);
  ASSERT_EQ(straight.code, 0) << read(log);
  const auto expected =
      run_outputs(only_experiment(d.path() / "straight", "status.yaml"));
  const int run_ms = static_cast<int>(straight.seconds * 1000.0);
  std::printf("[ campaign ] %s: the straight run takes %d ms\n",
              trainer.c_str(), run_ms);

  int kills = 0, in_writes = 0, early = 0;
  for (int n = 0; kills < kKillsPerTrainer; ++n) {
    const std::string root = d.str() + "/run" + std::to_string(n);
    std::vector<std::string> moments;
    for (int attempt = 0;; ++attempt) {
      ASSERT_LT(attempt, 100) << "run " << n << " never finished";
      const fs::path folder = resumable_folder(root);
      const auto args_now =
          folder.empty()
              ? with_expdir(root)
              : std::vector<std::string>{trainer, "--resume", folder.string(),
                                         "--ll", "warning"};
      std::vector<std::pair<std::string, std::string>> env;
      int kill_ms = -1;
      std::string moment;
      const int kind = static_cast<int>(rng() % 10);
      if (kills >= kKillsPerTrainer) {
        // done killing: finish the run
      } else if (kind < 3) {  // in the middle of a checkpoint write
        const int write = 1 + static_cast<int>(rng() % 6);
        env.emplace_back("MIP_FAULT_KILL_IN_CHECKPOINT", std::to_string(write));
        moment = "checkpoint write " + std::to_string(write);
      } else if (kind < 6) {  // the first 100 ms
        kill_ms = static_cast<int>(rng() % 100);
      } else {
        kill_ms = static_cast<int>(rng() % (run_ms + 1));
      }
      if (kill_ms >= 0)
        moment = std::to_string(kill_ms) + " ms";
      const Attempt a = run_and_kill(args_now, env, kill_ms, log);
      if (a.code == 0)
        break;
      ASSERT_EQ(a.code, 128 + SIGKILL)
          << "run " << n << " attempt " << attempt << ":\n"
          << read(log);
      moments.push_back(moment);
      ++kills;
      in_writes += env.empty() ? 0 : 1;
      early += kill_ms >= 0 && kill_ms < 100 ? 1 : 0;
    }
    std::string what;
    for (const auto& m : moments)
      what += (what.empty() ? " " : ", ") + m;
    std::printf("[ campaign ] %s run %d killed at:%s\n", trainer.c_str(), n,
                what.c_str());
    const fs::path folder = resumable_folder(root);
    ASSERT_FALSE(folder.empty());
    EXPECT_EQ(run_outputs(folder), expected) << "run " << n << ":" << what;
    EXPECT_HAS(read(folder / "status.yaml"), "state: finished");
    for (const auto& e : fs::recursive_directory_iterator(folder))
      EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
  }
  std::printf(
      "[ campaign ] %s: %d kills (%d in the first 100 ms, %d in checkpoint "
      "writes)\n",
      trainer.c_str(), kills, early, in_writes);
  std::fflush(stdout);
}

TEST(KillCampaign, EveryKilledRunResumesBitIdentical) {
  const uint64_t seed = campaign_seed();
  std::printf("[ campaign ] seed %llu (MIP_KILL_CAMPAIGN_SEED=%llu replays)\n",
              static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  {
    TempDir d;
    campaign(kOnline,
             {"--config", kSerialRecall, "--set",
              "training.terminal_conditions.episode_limit=120", "--set",
              "validation.partial_validation_interval=20", "--li", "1000"},
             d, rng);
  }
  {
    TempDir d;
    d.write("valid_indices.txt", valid_indices());
    const std::string cfg =
        mnist_config(d, "  scheduler: {name: CosineAnnealingLR, T_max: 3}\n");
    campaign(kOffline,
             {"--config", cfg, "--set",
              "training.terminal_conditions.epoch_limit=2", "--li", "1000"},
             d, rng);
  }
}

}  // namespace kill_campaign_test
}  // namespace mip
