// Data-parallel training (docs/distributed.md) through the real trainers on
// the loopback: --nproc's ranks against one process, the environment
// rendezvous of srun and torchrun, a killed rank, --resume with the same and
// with another number of ranks.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
namespace distributed_test {

using namespace test;
using Clock = std::chrono::steady_clock;

/// 20 serial-recall episodes with plain SGD (so that every gradient shows in
/// the weights), validated every 10; `batch` samples per training batch.
std::string short_run(const TempDir& d,
                      const std::string& expdir,
                      int batch,
                      int valid_batch) {
  return " --config " + kSerialRecall + " --expdir " + d.str() + "/" + expdir +
         " --seed 11 --li 100"
         " --set training.terminal_conditions.episode_limit=20"
         " --set validation.partial_validation_interval=10"
         " --set 'training.optimizer={name: SGD, lr: 0.5}'"
         " --set training.problem.batch_size=" +
         std::to_string(batch) +
         " --set validation.problem.batch_size=" + std::to_string(valid_batch);
}

/// The largest difference between two checkpoints' weights (infinity when
/// their tensors differ in name or shape).
double max_weight_difference(const fs::path& a, const fs::path& b) {
  const auto wa = checkpoint_weights(a.string());
  const auto wb = checkpoint_weights(b.string());
  if (wa.size() != wb.size())
    return INFINITY;
  double worst = 0.0;
  for (size_t i = 0; i < wa.size(); ++i) {
    if (wa[i].first != wb[i].first ||
        !wa[i].second.sizes().equals(wb[i].second.sizes()))
      return INFINITY;
    worst = std::max(worst,
                     (wa[i].second - wb[i].second).abs().max().item<double>());
  }
  return worst;
}

/// The statistics of two runs' `file` agree: the same header and rows, the
/// same integer columns, the real ones within `tolerance`.
void expect_same_statistics(const fs::path& a,
                            const fs::path& b,
                            const std::string& file,
                            double tolerance) {
  const auto ra = csv_rows(a / file), rb = csv_rows(b / file);
  ASSERT_EQ(ra.size(), rb.size()) << file;
  ASSERT_GT(ra.size(), 1u) << file;
  EXPECT_EQ(ra[0], rb[0]) << file;
  for (size_t r = 1; r < ra.size(); ++r) {
    ASSERT_EQ(ra[r].size(), rb[r].size()) << file << " row " << r;
    for (size_t c = 0; c < ra[r].size(); ++c) {
      if (ra[r][c].find('.') == std::string::npos)
        EXPECT_EQ(ra[r][c], rb[r][c])
            << file << " row " << r << " " << ra[0][c];
      else
        EXPECT_NEAR(std::stod(ra[r][c]), std::stod(rb[r][c]), tolerance)
            << file << " row " << r << " " << ra[0][c];
    }
  }
}

// Float32 sums in another order are all that differs: one process sums the
// loss over 16 samples, two ranks over 8 each and then add the two halves
// (and likewise every gradient), which moves each step by a few ulps. Over
// 20 SGD steps at lr 0.5 the weights (size ~0.1-1) drifted 2.2e-8 (online)
// and 1.5e-8 (offline) on this machine. 1e-5 leaves room for other BLAS
// builds and thread counts, and stays far below what a wrong shard or a sum
// in place of the average moves them (gradients x2: 2.4e-2, measured).
constexpr double kWeightTolerance = 1e-5;
constexpr double kStatisticTolerance = 1e-6;

TEST(DataParallel, TwoRanksWithHalfBatchesMatchOneProcess) {
  TempDir d;
  const RunResult one = run(kOnline + short_run(d, "one", 16, 32));
  ASSERT_EQ(one.code, 0) << one.output;
  const RunResult two =
      run(kOnline + short_run(d, "two", 8, 16) + " --nproc 2");
  ASSERT_EQ(two.code, 0) << two.output;
  // The same batch_size in the file, split among the ranks; 10 KB buckets:
  // two (the output layer and the LSTM's hidden weights, then its input
  // weights), the first all-reduced while the backward pass goes on.
  const RunResult split = run(kOnline + short_run(d, "split", 16, 32) +
                              " --nproc 2 --set distributed.batch_size=global"
                              " --set distributed.bucket_mb=0.01 --ll debug");
  ASSERT_EQ(split.code, 0) << split.output;

  EXPECT_HAS(split.output, "rank 0 of 2: 2 gradient bucket(s)");
  const fs::path a = only_experiment(d.path() / "one");
  for (const char* name : {"two", "split"}) {
    SCOPED_TRACE(name);
    // Rank 0 alone wrote: one folder, one log.
    const fs::path b = only_experiment(d.path() / name);
    EXPECT_EQ(occurrences(read(b / "training.log"), "Data parallel: 2 ranks"),
              1u);
    const double drift = max_weight_difference(a / "models/model_last.pt",
                                               b / "models/model_last.pt");
    std::cout << name << ": largest weight difference " << drift << "\n";
    EXPECT_LT(drift, kWeightTolerance);
    for (const char* f :
         {"training_statistics.csv", "validation_statistics.csv",
          "validation_set_agg_statistics.csv"})
      expect_same_statistics(a, b, f, kStatisticTolerance);
  }
  // The weights did move: a drift below the tolerance means something.
  const RunResult other = run(kOnline + short_run(d, "other", 16, 32) +
                              " --set training.optimizer.lr=0.25");
  ASSERT_EQ(other.code, 0) << other.output;
  EXPECT_GT(max_weight_difference(
                a / "models/model_last.pt",
                only_experiment(d.path() / "other") / "models/model_last.pt"),
            100 * kWeightTolerance);
}

/// The offline trainer: epochs over MNIST files, a full validation of the
/// whole set after each (every rank its share of every batch).
TEST(DataParallel, OfflineEpochsAndFullValidationsMatchOneProcess) {
  TempDir d;
  d.write("valid_indices.txt", valid_indices());
  const std::string config = mnist_config(d);
  const std::string common =
      " --config " + config +
      " --seed 4 --set training.terminal_conditions.epoch_limit=2"
      " --set 'training.sampler.indices=[0, 192]'"
      " --set 'training.optimizer={name: SGD, lr: 0.05}'";
  const RunResult one = run(kOffline + common + " --expdir " + d.str() +
                            "/one --set training.problem.batch_size=64");
  ASSERT_EQ(one.code, 0) << one.output;
  const RunResult two =
      run(kOffline + common + " --expdir " + d.str() +
          "/two --nproc 2 --set training.problem.batch_size=32"
          " --set validation.problem.batch_size=25");
  ASSERT_EQ(two.code, 0) << two.output;
  const fs::path a = only_experiment(d.path() / "one");
  const fs::path b = only_experiment(d.path() / "two");
  const double drift = max_weight_difference(a / "models/model_last.pt",
                                             b / "models/model_last.pt");
  std::cout << "offline: largest weight difference " << drift << "\n";
  EXPECT_LT(drift, kWeightTolerance);
  for (const char* f :
       {"training_statistics.csv", "training_set_agg_statistics.csv",
        "validation_set_agg_statistics.csv"})
    expect_same_statistics(a, b, f, kStatisticTolerance);
}

/// A process started in the background with `env` added; output in `log`.
pid_t spawn(const std::string& command,
            const std::vector<std::string>& env,
            const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& e : env)
      ::putenv(const_cast<char*>(e.c_str()));
    std::FILE* out = std::fopen(log.c_str(), "a");
    if (out) {
      ::dup2(::fileno(out), 1);
      ::dup2(::fileno(out), 2);
    }
    ::execl("/bin/sh", "sh", "-c", command.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

/// Waits up to `limit` for `pid`; its exit code, or -1 (then it is killed).
int wait_for(pid_t pid, std::chrono::seconds limit, double* seconds = nullptr) {
  const auto start = Clock::now();
  int status = 0;
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid)
      break;
    if (Clock::now() - start > limit) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (seconds)
    *seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// A TCP port free on the loopback now (the system's choice).
std::string free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  EXPECT_GT(port, 0) << "no free port on the loopback";
  return std::to_string(port);
}

/// The ranks of an environment rendezvous as Slurm's srun sets it (no
/// launcher: rank 0 serves the store) train as --nproc's do.
TEST(DataParallel, SrunEnvironmentRendezvous) {
  TempDir d;
  const RunResult ref =
      run(kOnline + short_run(d, "nproc", 8, 16) + " --nproc 2");
  ASSERT_EQ(ref.code, 0) << ref.output;
  const std::string port = free_port();
  std::vector<pid_t> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.push_back(
        spawn("exec " + kOnline + short_run(d, "srun", 8, 16),
              {"SLURM_PROCID=" + std::to_string(r), "SLURM_STEP_NUM_TASKS=2",
               "SLURM_LOCALID=" + std::to_string(r), "MASTER_ADDR=127.0.0.1",
               "MASTER_PORT=" + port},
              d.path() / ("srun" + std::to_string(r) + ".log")));
  for (int r = 0; r < 2; ++r)
    EXPECT_EQ(
        wait_for(ranks[static_cast<size_t>(r)], std::chrono::seconds(120)), 0)
        << read(d.path() / ("srun" + std::to_string(r) + ".log"));
  EXPECT_HAS(read(d.path() / "srun0.log"), "rank 0 of 2 (srun, Gloo");
  // The same ranks, the same batches: the same file, bit for bit.
  EXPECT_EQ(
      read(only_experiment(d.path() / "srun") / "training_statistics.csv"),
      read(only_experiment(d.path() / "nproc") / "training_statistics.csv"));
}

TEST(DataParallel, BadEnvironmentIsAUsageError) {
  TempDir d;
  const RunResult r = run("RANK=0 MASTER_ADDR=127.0.0.1 " + kOnline +
                          short_run(d, "bad", 8, 16));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_HAS(r.output, "WORLD_SIZE is not set");
  const RunResult nested =
      run("RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 " + kOnline +
          short_run(d, "bad", 8, 16) + " --nproc 2");
  EXPECT_EQ(nested.code, 2) << nested.output;
  EXPECT_HAS(nested.output, "drop --nproc");
  EXPECT_FALSE(fs::exists(d.path() / "bad"));
}

/// A global batch that cannot give every rank a sample, and a bad
/// distributed key: configuration errors (exit 3) on every rank, no folder.
TEST(DataParallel, BatchesTooSmallForTheRanksAreRefused) {
  TempDir d;
  const RunResult r = run(kOnline + short_run(d, "small", 1, 16) +
                          " --nproc 2 --set distributed.batch_size=global");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output,
             "[training.problem.batch_size] (--set): batches of 1 samples "
             "cannot give each of the 2 ranks a sample");
  const RunResult bad = run(kOnline + short_run(d, "small", 8, 16) +
                            " --nproc 2 --set distributed.batch_size=both");
  EXPECT_EQ(bad.code, 3) << bad.output;
  EXPECT_HAS(bad.output, "[distributed.batch_size] (--set): expected per_rank");
  EXPECT_FALSE(fs::exists(d.path() / "small"));
}

/// torchrun --no_python, with its agent's store (skipped without torchrun).
TEST(DataParallel, TorchrunNoPython) {
  const RunResult which = run("command -v torchrun");
  if (which.code != 0)
    GTEST_SKIP() << "torchrun is not installed (python3-torch)";
  TempDir d;
  const RunResult ref =
      run(kOnline + short_run(d, "nproc", 8, 16) + " --nproc 2");
  ASSERT_EQ(ref.code, 0) << ref.output;
  // Debian's 1.13 spells it --no_python, and needs --redirects/--tee on
  // Python 3.11.
  const RunResult r =
      run("torchrun --no_python --redirects 1 --tee 1 --nproc_per_node 2 "
          "--master_addr 127.0.0.1 --master_port " +
          free_port() + " " + kOnline + short_run(d, "torchrun", 8, 16));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "rank 1 of 2 (torchrun, Gloo");
  EXPECT_EQ(
      read(only_experiment(d.path() / "torchrun") / "training_statistics.csv"),
      read(only_experiment(d.path() / "nproc") / "training_statistics.csv"));
}

/// The ranks --nproc started (children of `launcher`).
std::vector<pid_t> children(pid_t launcher) {
  std::vector<pid_t> out;
  std::istringstream in(read("/proc/" + std::to_string(launcher) + "/task/" +
                             std::to_string(launcher) + "/children"));
  for (pid_t p; in >> p;)
    out.push_back(p);
  return out;
}

TEST(DataParallel, KilledRankEndsTheRunWhichResumes) {
  TempDir d;
  const std::string train = " --config " + kSerialRecall +
                            " --seed 3 --li 1000 --dist-timeout 20"
                            " --set training.problem.batch_size=8"
                            " --set validation.partial_validation_interval=20";
  const pid_t launcher =
      spawn("exec " + kOnline + train + " --expdir " + d.str() +
                "/exp --nproc 2"
                " --set training.terminal_conditions.episode_limit=1000000",
            {}, d.path() / "first.log");
  // Killed once a checkpoint is on disk.
  const auto start = Clock::now();
  fs::path dir;
  while (Clock::now() - start < std::chrono::seconds(60)) {
    if (fs::exists(d.path() / "exp")) {
      for (const auto& e : fs::recursive_directory_iterator(d.path() / "exp"))
        if (e.path().filename() == "model_last.pt")
          dir = e.path().parent_path().parent_path();
    }
    if (!dir.empty())
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(dir.empty()) << read(d.path() / "first.log");
  const std::vector<pid_t> ranks = children(launcher);
  ASSERT_EQ(ranks.size(), 2u);
  ::kill(ranks[1], SIGKILL);
  double seconds = 0.0;
  const int code = wait_for(launcher, std::chrono::seconds(25), &seconds);
  const std::string log = read(d.path() / "first.log");
  ASSERT_NE(code, -1) << "the other rank did not end within the timeout\n"
                      << log;
  EXPECT_EQ(code, 1) << log;
  EXPECT_LT(seconds, 20.0) << log;
  EXPECT_HAS(log, "rank 1 (pid " + std::to_string(ranks[1]) +
                      ") was killed by SIGKILL");
  const std::string status = read(dir / "status.yaml");
  EXPECT_HAS(status, "state: failed");
  EXPECT_HAS(status, "data-parallel rank 0 of 2");

  // Another number of ranks is refused, naming both; nothing changes.
  const RunResult one = run(kOnline + " --resume " + dir.string());
  EXPECT_EQ(one.code, 3) << one.output;
  EXPECT_HAS(one.output,
             "the run was trained on 2 process(es) (data-parallel ranks) and "
             "this launch has 1");
  EXPECT_HAS(read(dir / "status.yaml"), "state: failed");

  const RunResult again =
      run(kOnline + " --resume " + dir.string() +
          " --nproc 2 --set training.terminal_conditions.episode_limit=" +
          std::to_string(
              static_cast<int>(lines(dir / "training_statistics.csv")) + 40));
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_HAS(read(dir / "status.yaml"), "state: finished");
}

/// Starts a long --nproc 2 serial-recall training under `d`/exp (output in
/// run.log) and returns its launcher once the ranks train.
pid_t start_long_run(const TempDir& d, const std::string& flags) {
  const pid_t launcher =
      spawn("exec " + kOnline + " --config " + kSerialRecall +
                " --seed 3 --li 1000 --nproc 2 --expdir " + d.str() +
                "/exp --set training.problem.batch_size=8"
                " --set training.terminal_conditions.episode_limit=1000000" +
                flags,
            {}, d.path() / "run.log");
  const auto start = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(60) &&
         !fs::exists(d.path() / "exp"))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // training
  return launcher;
}

/// Ctrl-C (SIGINT to the launcher): every rank stops after the same
/// episode, rank 0 saves, the run is interrupted and resumable.
TEST(DataParallel, InterruptStopsEveryRankAtOnePoint) {
  TempDir d;
  const pid_t launcher = start_long_run(d, "");
  ::kill(launcher, SIGINT);
  const int code = wait_for(launcher, std::chrono::seconds(30));
  const std::string log = read(d.path() / "run.log");
  ASSERT_EQ(code, 130) << log;
  const fs::path dir = only_experiment(d.path() / "exp");
  const std::string status = read(dir / "status.yaml");
  EXPECT_HAS(status, "state: interrupted");
  EXPECT_HAS(status, "Interrupted by SIGINT");
  // The command the summary offers resumes on as many ranks.
  EXPECT_HAS(status, "--resume " + dir.string() + " --nproc 2");
  // The checkpoint is of the last episode trained.
  const CheckpointMeta m =
      read_checkpoint_meta((dir / "models/model_last.pt").string());
  EXPECT_EQ(static_cast<size_t>(m.episode) + 2,
            lines(dir / "training_statistics.csv"));

  // Resumed on 2 ranks, it ends as a run never stopped: the same rows and
  // bit-identical weights.
  const std::string limit =
      " --set training.terminal_conditions.episode_limit=" +
      std::to_string(m.episode + 31);
  const RunResult resumed =
      run(kOnline + " --resume " + dir.string() + " --nproc 2" + limit);
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  const RunResult straight =
      run(kOnline + " --config " + kSerialRecall +
          " --seed 3 --li 1000 --nproc 2 --expdir " + d.str() +
          "/straight --set training.problem.batch_size=8" + limit);
  ASSERT_EQ(straight.code, 0) << straight.output;
  EXPECT_EQ(run_outputs(dir),
            run_outputs(only_experiment(d.path() / "straight")));
}

/// A rank that stops answering (SIGSTOP): the other fails when the
/// collective times out, and the launcher kills the silent one.
TEST(DataParallel, HungRankTimesOut) {
  TempDir d;
  const pid_t launcher = start_long_run(d, " --dist-timeout 2");
  const std::vector<pid_t> ranks = children(launcher);
  ASSERT_EQ(ranks.size(), 2u) << read(d.path() / "run.log");
  ::kill(ranks[1], SIGSTOP);
  double seconds = 0.0;
  const int code = wait_for(launcher, std::chrono::seconds(30), &seconds);
  const std::string log = read(d.path() / "run.log");
  ASSERT_NE(code, -1) << "the run hung\n" << log;
  EXPECT_EQ(code, 1) << log;
  // 2 s for the collective, 2 s of grace for the silent rank, start-up.
  EXPECT_LT(seconds, 15.0) << log;
  EXPECT_HAS(log, "did not stop within 2 s; killed");
  EXPECT_HAS(read(only_experiment(d.path() / "exp") / "status.yaml"),
             "timeout 2 s");
}

}  // namespace distributed_test
}  // namespace mip
