// mip-grid-trainer --launcher slurm against a real single-node Slurm that
// each test starts here (slurmctld and slurmd on their own ports, state and
// spool in a temporary folder, stopped at the end): the job array runs every
// run into the same grid folder layout as the local launcher; --no-wait
// returns with the job id and --resume follows the job; Ctrl-C cancels the
// job (scancel) resumably and --resume resubmits only the unfinished runs;
// tasks Slurm ended (scancel, a killed script) get Slurm's state as their
// cause; mip-grid-tester --launcher slurm runs the tests as a job array.
// Skipped where Slurm cannot run (not root, slurm-wlm not installed).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>

#include <mip/core/text.hpp>

#include "common/grid_status.hpp"
#include "common/worker_runs.hpp"

namespace mip {
namespace grid_slurm_test {

namespace fs = std::filesystem;
using test::read;
using test::run;
using test::RunResult;
using test::runs_of;
using test::started_grid;
using test::TempDir;
using test::wait_until;

const std::string kGridTrainer = test::kBin + "/mip-grid-trainer";
const std::string kGridTester = test::kBin + "/mip-grid-tester";

/// A Slurm cluster of one node (this machine) for one test: started by the
/// constructor, stopped by the destructor (also when the test fails).
/// `reason` is non-empty when it could not start.
class SlurmCluster {
 public:
  explicit SlurmCluster(const fs::path& dir) : dir_(dir) {
    if (::geteuid() != 0) {
      reason = "the daemons run as root here, and this test is not root";
      return;
    }
    for (const char* b : {"/usr/sbin/slurmctld", "/usr/sbin/slurmd",
                          "/usr/bin/sbatch", "/usr/bin/squeue"})
      if (::access(b, X_OK) != 0) {
        reason = std::string(b) +
                 " missing: apt-get install --no-install-recommends "
                 "slurm-wlm (packaging/install-deps.sh does)";
        return;
      }
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    const std::string h = split(host, '.')[0];
    const int port = 20000 + static_cast<int>(::getpid() % 20000) * 2 % 20000;
    for (const char* sub : {"state", "spool"})
      fs::create_directories(dir_ / sub);
    const std::string d = dir_.string();
    conf_ = d + "/slurm.conf";
    std::ofstream(conf_)
        << "ClusterName=miptest\nSlurmctldHost=" << h
        << "(127.0.0.1)\nSlurmUser=root\nSlurmdUser=root\n"
           "AuthType=auth/none\nCredType=cred/none\n"
           "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
           "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n"
           "MpiDefault=none\nReturnToService=2\nKillWait=10\n"
           "SchedulerParameters=sched_interval=1\n"
        << "SlurmctldPort=" << port << "\nSlurmdPort=" << port + 1
        << "\nStateSaveLocation=" << d << "/state\nSlurmdSpoolDir=" << d
        << "/spool\nSlurmctldPidFile=" << d
        << "/slurmctld.pid\nSlurmdPidFile=" << d
        << "/slurmd.pid\nSlurmctldLogFile=" << d
        << "/slurmctld.log\nSlurmdLogFile=" << d << "/slurmd.log\n"
        << "NodeName=" << h
        << " NodeAddr=127.0.0.1 CPUs=" << std::thread::hardware_concurrency()
        << " State=UNKNOWN\n"
        << "PartitionName=grid Nodes=" << h
        << " Default=YES MaxTime=INFINITE State=UP\n";
    ::setenv("SLURM_CONF", conf_.c_str(), 1);
    started_ = true;
    const RunResult c = run("/usr/sbin/slurmctld -f " + conf_);
    const RunResult n = run("/usr/sbin/slurmd -f " + conf_);
    const bool idle = wait_until(
        [&] { return trim(run("sinfo -h -o %t").output) == "idle"; }, 15);
    if (c.code != 0 || n.code != 0 || !idle)
      reason = "the test's slurmctld/slurmd did not start: " + c.output +
               n.output + read(dir_ / "slurmctld.log") +
               read(dir_ / "slurmd.log");
  }

  ~SlurmCluster() {
    if (!started_)
      return;
    run("scancel --user=root");
    for (const char* daemon : {"slurmd", "slurmctld"}) {
      const std::string pid = trim(read(dir_ / (std::string(daemon) + ".pid")));
      if (pid.empty())
        continue;
      const pid_t p = static_cast<pid_t>(std::stol(pid));
      ::kill(p, SIGTERM);
      if (!wait_until([&] { return ::kill(p, 0) != 0; }, 10))
        ::kill(p, SIGKILL);
    }
    ::unsetenv("SLURM_CONF");
  }

  std::string reason;

 private:
  fs::path dir_;
  std::string conf_;
  bool started_ = false;
};

/// A serial-recall grid: `episodes` per run, 2 tasks (1 with `one_task`) x
/// `repetitions`, 2 tasks at a time.
std::string slurm_grid(const TempDir& d,
                       int episodes,
                       bool one_task = false,
                       int repetitions = 2) {
  return d.write(
      "grid.yaml",
      "grid_tasks:\n  - default_configs: " + test::kSerialRecall +
          (one_task ? std::string()
                    : "\n  - default_configs: " + test::kSerialRecall +
                          "\n    overwrite: {model: "
                          "{hidden_state_size: 8}}") +
          "\ngrid_overwrite:\n  training:\n"
          "    terminal_conditions: {episode_limit: " +
          std::to_string(episodes) +
          "}\n  validation:\n    partial_validation_interval: 10\n"
          "    problem: {size: 64}\n"
          "grid_settings:\n  experiment_repetitions: " +
          std::to_string(repetitions) +
          "\n  max_concurrent_runs: 2\n"
          "  trainer: mip-online-trainer\n"
          "  launcher: slurm\n"
          "  slurm: {partition: grid, cpus_per_task: 1}\n");
}

/// Every run finished in its own experiment folder, trained to `episodes`.
void expect_all_finished(const fs::path& grid, int episodes) {
  const auto runs = runs_of(grid / "grid_status.yaml");
  ASSERT_EQ(runs.size(), 4u);
  for (const auto& [id, r] : runs) {
    EXPECT_EQ(r["state"].as<std::string>(), "finished") << id;
    EXPECT_HAS(r["cause"].as<std::string>(), "exit code 0");
    ASSERT_TRUE(r["folder"]) << id;
    const fs::path folder = grid / r["folder"].as<std::string>();
    EXPECT_HAS(folder.string(), "SerialRecallCommandLines/LSTM/");
    EXPECT_HAS(folder.filename().string(), "_" + id);
    EXPECT_TRUE(fs::exists(folder / "models" / "model_best.pt")) << folder;
    const auto episodes_done =
        test::csv_column(folder / "training_statistics.csv", "episode");
    ASSERT_FALSE(episodes_done.empty()) << folder;
    EXPECT_EQ(episodes_done.back(), episodes - 1) << id;
    EXPECT_TRUE(fs::is_regular_file(grid / "runs" / (id + ".yaml")));
    EXPECT_HAS(read(grid / "runs" / (id + ".log")), "Slurm job");
    EXPECT_HAS(r["job"].as<std::string>(), "_");
    EXPECT_TRUE(r["node"]) << id;
  }
}

// The grid through sbatch (its folder has a space): every run finishes in
// the local launcher's layout; the script holds the array and the options.
TEST(SlurmGrid, JobArrayRunsEveryRunLikeTheLocalLauncher) {
  TempDir d;
  SlurmCluster cluster(d.path() / "slurm");
  if (!cluster.reason.empty())
    GTEST_SKIP() << cluster.reason;
  const std::string grid = slurm_grid(d, 30);
  const RunResult r = run(kGridTrainer + " --config " + grid + " --expdir '" +
                          d.str() + "/with space/exp' --time 5 --li 10");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path g = started_grid(d.path() / "with space");
  ASSERT_FALSE(g.empty());
  expect_all_finished(g, 30);
  const std::string script = read(g / "slurm_job.sh");
  EXPECT_HAS(script, "#SBATCH --array=0-3%2\n");
  EXPECT_HAS(script, "#SBATCH --partition=grid\n");
  EXPECT_HAS(script, "#SBATCH --time=5\n");
  EXPECT_HAS(script, "#SBATCH --cpus-per-task=1\n");
  const YAML::Node status = YAML::LoadFile((g / "grid_status.yaml").string());
  EXPECT_EQ(status["launcher"].as<std::string>(), "slurm");
  EXPECT_EQ(status["counts"]["finished"].as<int>(), 4);
  EXPECT_HAS(r.output,
             "submitted Slurm job " + status["slurm"]["job"].as<std::string>());
  EXPECT_TRUE(fs::exists(g / "grid_configuration.yaml"));
}

// --no-wait returns at once with the job id; --resume follows that job
// (submitting nothing) until every run is recorded.
TEST(SlurmGrid, NoWaitReturnsTheJobIdAndResumeFollowsIt) {
  TempDir d;
  SlurmCluster cluster(d.path() / "slurm");
  if (!cluster.reason.empty())
    GTEST_SKIP() << cluster.reason;
  const std::string grid = slurm_grid(d, 30);
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = run(kGridTrainer + " --config " + grid + " --expdir " +
                          d.str() + "/exp --no-wait");
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(took, 10.0) << "--no-wait waited for the job";
  const fs::path g = started_grid(d.path());
  ASSERT_FALSE(g.empty());
  const std::string job =
      YAML::LoadFile((g / "grid_status.yaml").string())["slurm"]["job"]
          .as<std::string>();
  EXPECT_HAS(r.output, "submitted Slurm job " + job);
  EXPECT_HAS(r.output, "--resume '" + g.string() + "'");
  EXPECT_EQ(
      runs_of(g / "grid_status.yaml")["run000"]["state"].as<std::string>(),
      "pending");
  const RunResult f = run(kGridTrainer + " --resume " + g.string());
  ASSERT_EQ(f.code, 0) << f.output;
  EXPECT_HAS(f.output, "following Slurm job " + job);
  expect_all_finished(g, 30);
  EXPECT_EQ(YAML::LoadFile((g / "grid_status.yaml").string())["slurm"]["job"]
                .as<std::string>(),
            job);  // nothing submitted again
}

// Ctrl-C while following cancels the job; the started runs stop after
// saving (interrupted), and --resume resubmits only the unfinished ones,
// which continue through the trainer's --resume.
TEST(SlurmGrid, CtrlCCancelsTheJobResumeResubmitsTheUnfinished) {
  TempDir d;
  SlurmCluster cluster(d.path() / "slurm");
  if (!cluster.reason.empty())
    GTEST_SKIP() << cluster.reason;
  const std::string grid = slurm_grid(d, 400);
  const std::string log = d.str() + "/grid.log";
  const pid_t pid = test::spawn({kGridTrainer, "--config", grid, "--expdir",
                                 d.str() + "/exp", "--li", "50"},
                                log);
  fs::path g;
  // Stop once a run has saved a checkpoint.
  ASSERT_TRUE(wait_until(
      [&] {
        g = started_grid(d.path());
        return !g.empty() && test::has_checkpoint(g);
      },
      60))
      << read(log);
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << read(log);
  EXPECT_HAS(read(log), "cancelling Slurm job");
  auto runs = runs_of(g / "grid_status.yaml");
  int interrupted = 0;
  for (const auto& [id, r] : runs) {
    const std::string state = r["state"].as<std::string>();
    EXPECT_NE(state, "running") << id;
    interrupted += state == "interrupted";
  }
  EXPECT_GE(interrupted, 1) << read(g / "grid_status.yaml");
  const RunResult r = run(kGridTrainer + " --resume " + g.string());
  ASSERT_EQ(r.code, 0) << r.output;
  expect_all_finished(g, 400);
  runs = runs_of(g / "grid_status.yaml");
  bool resumed = false;
  for (const auto& [id, run] : runs)
    resumed = resumed || read(g / "runs" / (id + ".log")).find("'--resume'") !=
                             std::string::npos;
  EXPECT_TRUE(resumed) << "no run continued through the trainer's --resume";
}

/// The parent of process `pid` (/proc/<pid>/stat), or 0.
pid_t parent_of(pid_t pid) {
  const std::string stat = read("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos)
    return 0;
  const auto f = split_skip_empty(stat.substr(close + 1), ' ');
  return f.size() > 1 ? static_cast<pid_t>(std::stol(f[1])) : 0;
}

// Tasks Slurm ended are named by Slurm's state (scontrol show job, this
// cluster having no accounting): a running task cancelled with scancel (its
// trainer saves and stops), a pending one cancelled before it started, and
// one whose script was killed (no end record: FAILED). The grid exits 1.
TEST(SlurmGrid, EndCausesOfTasksSlurmEndedComeFromSlurm) {
  TempDir d;
  SlurmCluster cluster(d.path() / "slurm");
  if (!cluster.reason.empty())
    GTEST_SKIP() << cluster.reason;
  const std::string grid = slurm_grid(d, 100000, true, 3);
  const std::string log = d.str() + "/grid.log";
  const pid_t pid = test::spawn({kGridTrainer, "--config", grid, "--expdir",
                                 d.str() + "/exp", "--li", "1000"},
                                log);
  // Both running tasks' trainers have saved a checkpoint.
  fs::path g;
  ASSERT_TRUE(wait_until(
      [&] {
        g = started_grid(d.path());
        return !g.empty() && test::has_checkpoint(g, "run000") &&
               test::has_checkpoint(g, "run001");
      },
      60))
      << read(log);
  const std::string job =
      YAML::LoadFile((g / "grid_status.yaml").string())["slurm"]["job"]
          .as<std::string>();
  EXPECT_EQ(run("scancel " + job + "_2").code, 0);  // pending: first
  EXPECT_EQ(run("scancel " + job + "_0").code, 0);
  const pid_t trainer = test::child_pid(g, "run001");
  ASSERT_NE(trainer, 0);
  const pid_t script = parent_of(trainer);
  ASSERT_NE(script, 0);
  ::kill(script, SIGKILL);
  ::kill(trainer, SIGKILL);
  int status = 0;
  ASSERT_TRUE(
      wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 60))
      << read(log);
  EXPECT_EQ(WEXITSTATUS(status), 1) << read(log);
  const auto runs = runs_of(g / "grid_status.yaml");
  const YAML::Node cancelled = runs.at("run000"), killed = runs.at("run001"),
                   never = runs.at("run002");
  EXPECT_EQ(cancelled["state"].as<std::string>(), "failed");
  EXPECT_EQ(cancelled["slurm_state"].as<std::string>(), "CANCELLED");
  EXPECT_HAS(cancelled["cause"].as<std::string>(),
             "Slurm CANCELLED: cancelled (scancel, or an administrator) "
             "(scontrol:");
  // The trainer got SIGTERM from Slurm, saved and stopped: resumable.
  EXPECT_HAS(cancelled["cause"].as<std::string>(),
             "exit code 130: stopped after saving");
  EXPECT_EQ(killed["state"].as<std::string>(), "failed");
  EXPECT_EQ(killed["slurm_state"].as<std::string>(), "FAILED");
  EXPECT_HAS(killed["cause"].as<std::string>(), "ExitCode=0:9");
  EXPECT_HAS(killed["cause"].as<std::string>(),
             "killed before it wrote its end record");
  EXPECT_EQ(never["state"].as<std::string>(), "failed");
  EXPECT_EQ(never["slurm_state"].as<std::string>(), "CANCELLED");
  EXPECT_HAS(never["cause"].as<std::string>(), "before it started");
  EXPECT_FALSE(never["started"]) << "run002 never started";
  EXPECT_HAS(read(log), "run000 failed: Slurm CANCELLED");
}

// mip-grid-tester --launcher slurm: the tests of a grid trained locally, as
// one job array (--repeat 2, --max_concur_runs 1 its %1); --no-wait returns
// at once and --resume follows the job until every test is recorded.
TEST(SlurmGrid, GridTesterRunsTheTestsAsAJobArray) {
  TempDir d;
  SlurmCluster cluster(d.path() / "slurm");
  if (!cluster.reason.empty())
    GTEST_SKIP() << cluster.reason;
  const std::string grid = slurm_grid(d, 30, true);
  const RunResult t = run(kGridTrainer + " --config " + grid + " --expdir '" +
                          d.str() + "/with space/exp' --launcher local");
  ASSERT_EQ(t.code, 0) << t.output;
  const fs::path g = started_grid(d.path() / "with space");
  ASSERT_FALSE(g.empty());
  const RunResult r =
      run(kGridTester + " '" + g.string() +
          "' --launcher slurm --repeat 2 --max_concur_runs 1 --partition "
          "grid --time 5 --li 10 --no-wait");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path status = g / "grid_test_status.yaml";
  const std::string job =
      YAML::LoadFile(status.string())["slurm"]["job"].as<std::string>();
  EXPECT_HAS(r.output, "submitted Slurm job " + job);
  EXPECT_HAS(r.output, "mip-grid-tester --resume '" + g.string() + "'");
  const std::string script = read(g / "slurm_test_job.sh");
  EXPECT_HAS(script, "#SBATCH --array=0-3%1\n");
  EXPECT_HAS(script, "#SBATCH --partition=grid\n");
  EXPECT_HAS(script, "#SBATCH --time=5\n");
  EXPECT_HAS(script, "'--model'");
  EXPECT_FALSE(fs::exists(g / "slurm_job.sh")) << "the trainer's script";
  // A second campaign while this one runs would share its records.
  const RunResult again =
      run(kGridTester + " '" + g.string() + "' --launcher slurm --no-wait");
  EXPECT_EQ(again.code, 2) << again.output;
  EXPECT_HAS(again.output, "records Slurm job " + job);

  const RunResult f = run(kGridTester + " --resume '" + g.string() + "'");
  ASSERT_EQ(f.code, 0) << f.output;
  EXPECT_HAS(f.output, "following Slurm job " + job);
  const auto tests = runs_of(status);
  ASSERT_EQ(tests.size(), 4u);
  std::map<std::string, int> per_model;
  for (const auto& [id, n] : tests) {
    SCOPED_TRACE(id);
    EXPECT_EQ(n["state"].as<std::string>(), "finished");
    EXPECT_EQ(n["job"].as<std::string>(),
              job + "_" + std::to_string(std::stoi(id.substr(4))));
    per_model[n["model"].as<std::string>()] += 1;
    ASSERT_TRUE(n["folder"]);
    const fs::path folder = g / n["folder"].as<std::string>();
    EXPECT_HAS(folder.filename().string(), "_" + id);
    EXPECT_TRUE(fs::exists(folder / "testing_set_agg_statistics.csv"))
        << folder;
    const std::string tlog = read(g / "tests" / (id + ".log"));
    EXPECT_HAS(tlog, "Slurm job " + job);
    EXPECT_HAS(tlog, "'--threads' '1'");
  }
  ASSERT_EQ(per_model.size(), 2u);  // both experiments, each tested twice
  for (const auto& [model, count] : per_model)
    EXPECT_EQ(count, 2) << model;
  EXPECT_EQ(YAML::LoadFile(status.string())["slurm"]["job"].as<std::string>(),
            job);  // nothing submitted again
}

// Without sbatch on PATH, and with a typo in grid_settings.slurm: errors
// that name what to do; nothing submitted.
TEST(SlurmGrid, MissingSbatchAndBadSettingsAreClearErrors) {
  TempDir d;
  const std::string grid = slurm_grid(d, 30);
  RunResult r =
      run("/usr/bin/env PATH=" + d.str() + "/nothing " + kGridTrainer +
          " --config " + grid + " --expdir " + d.str() + "/exp");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output, "--launcher slurm: [sbatch] not found on PATH");
  EXPECT_HAS(r.output, "apt-get install slurm-client");
  const std::string typo = d.write(
      "typo.yaml",
      read(grid).replace(read(grid).find("cpus_per_task"), 13, "cpu_per_task"));
  r = run(kGridTrainer + " --config " + typo + " --dry-run");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output,
             "typo.yaml:16: unknown key "
             "[grid_settings.slurm.cpu_per_task]");
  r = run(kGridTrainer + " --config " + grid + " --expdir " + d.str() +
          "/exp --launcher local --no-wait");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_HAS(r.output, "are for --launcher slurm");
  r = run(kGridTrainer + " --config " + grid + " --expdir " + d.str() +
          "/exp --time '1 day'");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output, "--time: [1 day] is not a Slurm partition or time");
  EXPECT_TRUE(started_grid(d.path()).empty()) << "a grid folder was made";
}

}  // namespace grid_slurm_test
}  // namespace mip
