// The grid workers end to end: mip-grid-trainer runs real trainers as child
// processes (sweeps, repetitions, seeds, cores, a path with spaces), a child
// killed with SIGKILL is failed and --resume completes it, Ctrl-C stops the
// grid resumably, GPU leases through CUDA_VISIBLE_DEVICES, --dry-run, grid
// file errors, and mip-grid-tester tests every finished experiment.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <mip/core/text.hpp>

#include "common/grid_status.hpp"
#include "common/worker_runs.hpp"

namespace mip {
namespace grid_test {

namespace fs = std::filesystem;
using test::read;
using test::run;
using test::RunResult;
using test::runs_of;
using test::started_grid;
using test::TempDir;
using test::wait_until;

const std::string kGridTrainer = test::kBin + "/mip-grid-trainer";
const std::string kGridTrainerGpu = test::kBin + "/mip-grid-trainer-gpu";
const std::string kGridTester = test::kBin + "/mip-grid-tester";

/// A grid of serial-recall tasks (`tasks`: the grid_tasks list, YAML),
/// short validation, tiny episode counts, no testing beyond 2 batches.
std::string grid_file(const TempDir& d,
                      const std::string& tasks,
                      int repetitions,
                      int concurrent,
                      const std::string& name = "grid.yaml") {
  return d.write(name, "grid_tasks:\n" + tasks +
                           "grid_overwrite:\n"
                           "  training:\n"
                           "    terminal_conditions: {episode_limit: 30}\n"
                           "  validation:\n"
                           "    partial_validation_interval: 10\n"
                           "    problem: {size: 64}\n"
                           "  testing:\n"
                           "    problem: {size: 128}\n"
                           "grid_settings:\n"
                           "  experiment_repetitions: " +
                           std::to_string(repetitions) +
                           "\n"
                           "  max_concurrent_runs: " +
                           std::to_string(concurrent) +
                           "\n"
                           "  trainer: mip-online-trainer\n");
}

/// The only grid folder `<root>/exp_*`.
fs::path grid_folder(const fs::path& root) {
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory() && e.path().filename().string().rfind("exp_", 0) == 0)
      found.push_back(e.path());
  EXPECT_EQ(found.size(), 1u) << "grid folders under " << root;
  return found.empty() ? fs::path() : found[0];
}

/// A value of a YAML file at a dotted path.
std::string value_at(const fs::path& file, const std::string& path) {
  YAML::Node n = YAML::LoadFile(file.string());
  for (const auto& part : split(path, '.'))
    n = n[part];
  return n ? n.as<std::string>() : "(absent)";
}

/// The experiment folder of run `id` (from grid_status.yaml).
fs::path folder_of(const fs::path& grid, const std::string& id) {
  const auto runs = runs_of(grid / "grid_status.yaml");
  const auto it = runs.find(id);
  if (it == runs.end() || !it->second["folder"])
    return {};
  return grid / it->second["folder"].as<std::string>();
}

// 2 tasks (one from a folder with spaces) x 2 learning rates x 2
// repetitions: 8 trainers, 2 at a time; then every model tested.
TEST(GridTrainer, TasksSweepsAndRepetitionsAllFinishThenGridTesterTestsThem) {
  TempDir d;
  // A task file in a folder with spaces that includes the shipped one.
  d.write("my configs/small lstm.yaml",
          "default_configs: " + test::kSerialRecall +
              "\nmodel: {hidden_state_size: 16}\n");
  const std::string grid =
      grid_file(d,
                "  - default_configs: " + test::kSerialRecall +
                    "\n"
                    "  - default_configs: my configs/small lstm.yaml\n"
                    "    overwrite:\n"
                    "      training: {problem: {max_sequence_length: 4}}\n",
                2, 2);
  const RunResult r =
      run(kGridTrainer + " --config '" + grid + "' --expdir " + d.str() +
          "/exp --li 10" + " --sweep training.optimizer.lr=0.01,0.02");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path g = grid_folder(d.path());
  const auto runs = runs_of(g / "grid_status.yaml");
  ASSERT_EQ(runs.size(), 8u);
  std::set<std::string> folders, combos;
  for (const auto& [id, n] : runs) {
    SCOPED_TRACE(id);
    EXPECT_EQ(n["state"].as<std::string>(), "finished");
    EXPECT_EQ(n["exit_code"].as<int>(), 0);
    const int task = n["task"].as<int>(), rep = n["repetition"].as<int>();
    const std::string lr =
        n["sweep"]["training.optimizer.lr"].as<std::string>();
    combos.insert(std::to_string(task) + "/" + lr + "/" + std::to_string(rep));
    // The resolved configuration, written before the child started.
    const fs::path config = g / n["configuration"].as<std::string>();
    EXPECT_EQ(value_at(config, "training.optimizer.lr"), lr);
    EXPECT_EQ(value_at(config, "training.seed_torch"), std::to_string(rep));
    EXPECT_EQ(value_at(config, "model.hidden_state_size"),
              task == 0 ? "64" : "16");
    EXPECT_EQ(value_at(config, "training.problem.max_sequence_length"),
              task == 0 ? "5" : "4");
    EXPECT_EQ(value_at(config, "training.terminal_conditions.episode_limit"),
              "30");
    // The child's own experiment folder, as the trainer writes it.
    const fs::path exp = g / n["folder"].as<std::string>();
    EXPECT_EQ(exp.parent_path().parent_path().parent_path(), g);
    EXPECT_HAS(exp.filename().string(), "_" + id);
    EXPECT_EQ(value_at(exp / "status.yaml", "state"), "finished");
    EXPECT_EQ(
        value_at(exp / "training_configuration.yaml", "training.seed_numpy"),
        std::to_string(rep));
    EXPECT_EQ(
        value_at(exp / "training_configuration.yaml", "training.optimizer.lr"),
        lr);
    folders.insert(exp.string());
    // Its own cores, and as many threads.
    const std::string log = read(g / n["log"].as<std::string>());
    const std::string cpus = n["cpus"].as<std::string>();
    EXPECT_HAS(log, "(cores " + cpus + ")");
    const int cores =
        cpus.find('-') == std::string::npos
            ? 1
            : std::stoi(cpus.substr(cpus.find('-') + 1)) - std::stoi(cpus) + 1;
    EXPECT_HAS(log, "'--threads' '" + std::to_string(cores) + "'");
  }
  EXPECT_EQ(folders.size(), 8u);
  EXPECT_EQ(combos.size(), 8u);  // every task x lr x repetition once

  const RunResult t =
      run(kGridTester + " '" + g.string() + "' --max_concur_runs 2 --li 10");
  ASSERT_EQ(t.code, 0) << t.output;
  const auto tests = runs_of(g / "grid_test_status.yaml");
  ASSERT_EQ(tests.size(), 8u);
  std::set<std::string> tested;
  for (const auto& [id, n] : tests) {
    SCOPED_TRACE(id);
    EXPECT_EQ(n["state"].as<std::string>(), "finished");
    tested.insert((g / n["model"].as<std::string>()).string());
    const fs::path folder = g / n["folder"].as<std::string>();
    EXPECT_TRUE(fs::exists(folder / "testing_set_agg_statistics.csv"))
        << folder;
  }
  EXPECT_EQ(tested, folders);
}

// A child killed with SIGKILL mid-run is failed with its signal, the other
// finishes; --resume continues it in its own folder. Then the grid tester's
// --resume runs its failed tests again.
TEST(GridTrainer, KilledChildIsFailedOthersFinishResumeCompletesIt) {
  TempDir d;
  const std::string grid = grid_file(
      d,
      "  - default_configs: " + test::kSerialRecall +
          "\n"
          "  - default_configs: " +
          test::kSerialRecall +
          "\n"
          "    overwrite:\n"
          "      training: {terminal_conditions: {episode_limit: 400}}\n",
      1, 2);
  const pid_t grid_pid =
      test::spawn({kGridTrainer, "--config", grid, "--expdir", d.str() + "/exp",
                   "--li", "50"},
                  d.str() + "/grid.log");
  fs::path g;
  ASSERT_TRUE(wait_until(
      [&] {
        g = started_grid(d.path());
        return !g.empty();
      },
      30));
  // Wait for run001's first checkpoint, then kill it.
  pid_t victim = 0;
  const fs::path models = g / "SerialRecallCommandLines" / "LSTM";
  ASSERT_TRUE(wait_until(
      [&] {
        std::error_code ec;
        for (auto e = fs::directory_iterator(models, ec);
             !ec && e != fs::directory_iterator(); e.increment(ec))
          if (e->path().string().find("_run001") != std::string::npos &&
              fs::exists(e->path() / "models" / "model_last.pt"))
            return (victim = test::child_pid(g, "run001")) != 0;
        return false;
      },
      60))
      << read(d.path() / "grid.log");
  // The launcher pinned it to the cores it records.
  const std::string status =
      read("/proc/" + std::to_string(victim) + "/status");
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  EXPECT_EQ(test::wait_for(grid_pid), 1) << read(d.path() / "grid.log");
  auto runs = runs_of(g / "grid_status.yaml");
  EXPECT_HAS(status, "Cpus_allowed_list:\t" +
                         runs["run001"]["cpus"].as<std::string>() + "\n");
  EXPECT_EQ(runs["run000"]["state"].as<std::string>(), "finished");
  EXPECT_EQ(runs["run001"]["state"].as<std::string>(), "failed");
  EXPECT_EQ(runs["run001"]["signal"].as<std::string>(), "SIGKILL");
  EXPECT_HAS(runs["run001"]["cause"].as<std::string>(), "killed by SIGKILL");
  const fs::path killed = folder_of(g, "run001");
  ASSERT_FALSE(killed.empty());

  const RunResult r = run(kGridTrainer + " --resume " + g.string());
  ASSERT_EQ(r.code, 0) << r.output;
  runs = runs_of(g / "grid_status.yaml");
  EXPECT_EQ(runs["run001"]["state"].as<std::string>(), "finished");
  EXPECT_EQ(runs["run001"]["attempts"].as<int>(), 2);
  EXPECT_EQ(runs["run000"]["attempts"].as<int>(), 1);  // kept, not rerun
  EXPECT_EQ(folder_of(g, "run001"), killed);  // resumed in its own folder
  EXPECT_HAS(read(g / "runs/run001.log"), "'--resume'");
  EXPECT_EQ(value_at(killed / "status.yaml", "state"), "finished");
  const auto episodes =
      test::csv_column(killed / "training_statistics.csv", "episode");
  ASSERT_FALSE(episodes.empty());
  EXPECT_EQ(episodes.back(), 399);

  // The grid tester: every test over its --timeout (a tester needs longer
  // than 0.3 s only to start) is failed; --resume runs them again.
  const RunResult t =
      run(kGridTester + " " + g.string() + " --timeout 0.3 --li 10");
  EXPECT_EQ(t.code, 1) << t.output;
  auto tests = runs_of(g / "grid_test_status.yaml");
  ASSERT_EQ(tests.size(), 2u);
  for (const auto& [id, n] : tests)
    EXPECT_HAS(n["cause"].as<std::string>(), "timeout after 0.3 s") << id;
  const RunResult rt =
      run(kGridTester + " --resume " + g.string() + " --timeout 120");
  ASSERT_EQ(rt.code, 0) << rt.output;
  EXPECT_HAS(rt.output, "2 of 2 to finish");
  tests = runs_of(g / "grid_test_status.yaml");
  for (const auto& [id, n] : tests) {
    EXPECT_EQ(n["state"].as<std::string>(), "finished") << id;
    EXPECT_EQ(n["attempts"].as<int>(), 2) << id;
    EXPECT_TRUE(fs::exists(g / n["folder"].as<std::string>() /
                           "testing_set_agg_statistics.csv"))
        << id;
  }
}

// Ctrl-C (SIGINT to the grid) stops every child resumably; --resume
// finishes them.
TEST(GridTrainer, SigintStopsChildrenResumably) {
  TempDir d;
  const std::string grid = grid_file(
      d,
      "  - default_configs: " + test::kSerialRecall +
          "\n"
          "    overwrite:\n"
          "      training: {terminal_conditions: {episode_limit: 300}}\n",
      2, 2);
  const pid_t grid_pid = test::spawn(
      {kGridTrainer, "--config", grid, "--expdir", d.str() + "/exp"},
      d.str() + "/grid.log");
  fs::path g;
  ASSERT_TRUE(wait_until(
      [&] {
        g = started_grid(d.path());
        if (g.empty())
          return false;
        // Both trainers running (their folders made: handlers installed).
        int started = 0;
        std::error_code ec2;
        for (auto e = fs::directory_iterator(
                 g / "SerialRecallCommandLines" / "LSTM", ec2);
             !ec2 && e != fs::directory_iterator(); e.increment(ec2))
          started += fs::exists(e->path() / "status.yaml");
        return started == 2;
      },
      60));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(grid_pid, SIGINT);
  EXPECT_EQ(test::wait_for(grid_pid), 130) << read(d.path() / "grid.log");
  auto runs = runs_of(g / "grid_status.yaml");
  for (const char* id : {"run000", "run001"}) {
    const std::string state = runs[id]["state"].as<std::string>();
    // A child may have finished before the signal came.
    EXPECT_TRUE(state == "interrupted" || state == "finished") << id << state;
  }
  EXPECT_HAS(read(d.path() / "grid.log"), "--resume");
  const RunResult r = run(kGridTrainer + " --resume " + g.string());
  ASSERT_EQ(r.code, 0) << r.output;
  runs = runs_of(g / "grid_status.yaml");
  for (const char* id : {"run000", "run001"}) {
    EXPECT_EQ(runs[id]["state"].as<std::string>(), "finished") << id;
    EXPECT_EQ(value_at(folder_of(g, id) / "status.yaml", "state"), "finished");
  }
}

// --gpu leases one device per child through CUDA_VISIBLE_DEVICES, never two
// children on one device. Here --gpus names devices this machine lacks: the
// children see their device and fail (no CUDA), which is enough to check
// the leases.
TEST(GridTrainer, GpuLeasesOneDevicePerChild) {
  TempDir d;
  const std::string grid =
      grid_file(d, "  - default_configs: " + test::kSerialRecall + "\n", 4, 0);
  const RunResult r = run(kGridTrainerGpu + " --config " + grid + " --expdir " +
                          d.str() + "/exp --gpus 3,5");
  const fs::path g = grid_folder(d.path());
  const auto runs = runs_of(g / "grid_status.yaml");
  ASSERT_EQ(runs.size(), 4u) << r.output;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> use;
  for (const auto& [id, n] : runs) {
    const std::string gpu = n["gpu"].as<std::string>();
    EXPECT_TRUE(gpu == "3" || gpu == "5") << id << " " << gpu;
    use[gpu].emplace_back(n["started"].as<std::string>(),
                          n["ended"].as<std::string>());
    const std::string log = read(g / n["log"].as<std::string>());
    EXPECT_HAS(log, "'--gpu'");
    if (n["state"].as<std::string>() == "finished")
      continue;  // a CUDA machine: it ran on its device
    EXPECT_EQ(n["exit_code"].as<int>(), 5) << log;
    EXPECT_HAS(log, "CUDA_VISIBLE_DEVICES [" + gpu + "]");  // as the child
                                                            // saw it
  }
  EXPECT_EQ(use.size(), 2u);
  for (auto& [gpu, spans] : use) {  // one child at a time per device
    std::sort(spans.begin(), spans.end());
    for (size_t k = 1; k < spans.size(); ++k)
      EXPECT_LE(spans[k - 1].second, spans[k].first) << "device " << gpu;
  }
}

// --dry-run lists the Cartesian product and writes nothing; grid file errors
// name the file, line and key.
TEST(GridTrainer, DryRunAndGridFileErrors) {
  TempDir d;
  const std::string grid =
      grid_file(d, "  - default_configs: " + test::kSerialRecall + "\n", 2, 1);
  const RunResult r =
      run(kGridTrainer + " --config " + grid + " --expdir " + d.str() +
          "/exp --dry-run --sweep training.optimizer.lr=0.1,0.01,0.001"
          " --sweep 'model.hidden_state_size=8,16'");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "12 runs (1 tasks x 6 sweep points x 2 repetitions)");
  for (const char* lr : {"0.1", "0.01", "0.001"})
    for (const char* h : {"8", "16"})
      EXPECT_EQ(test::occurrences(r.output,
                                  std::string("training.optimizer.lr=") + lr +
                                      "  model.hidden_state_size=" + h + "\n"),
                2u)
          << lr << " " << h;
  EXPECT_HAS(r.output, "run011");
  EXPECT_HAS(r.output, "--savetag run011");
  for (const auto& e : fs::directory_iterator(d.path()))
    EXPECT_NE(e.path().filename().string().rfind("exp", 0), 0u) << e.path();

  const std::string typo = d.write(
      "typo.yaml", "grid_tasks:\n  - default_configs: " + test::kSerialRecall +
                       "\ngrid_settings:\n  experiment_repetitions: 1\n"
                       "  max_concurent_runs: 2\n");
  const RunResult t = run(kGridTrainer + " --config " + typo);
  EXPECT_EQ(t.code, 3);
  EXPECT_HAS(t.output,
             "typo.yaml:5: unknown key "
             "[grid_settings.max_concurent_runs]; did you mean "
             "[max_concurrent_runs]?");
  const std::string missing = d.write(
      "missing.yaml",
      "grid_tasks:\n  - default_configs: nowhere/lstm.yaml\n"
      "grid_settings: {experiment_repetitions: 1, max_concurrent_runs: 1}\n");
  const RunResult m = run(kGridTrainer + " --config " + missing);
  EXPECT_EQ(m.code, 3);
  EXPECT_HAS(m.output,
             "[grid_tasks[0].default_configs]: [nowhere/lstm.yaml] "
             "not found");
  const RunResult s = run(kGridTrainer + " --config " + grid +
                          " --dry-run --sweep training.optimizer.lr");
  EXPECT_EQ(s.code, 2);
  EXPECT_HAS(s.output, "--sweep [training.optimizer.lr]: expected");
}

}  // namespace grid_test
}  // namespace mip

namespace mip {
namespace grid_test {

// --timeout: a run that takes longer gets SIGTERM, saves and stops; it is
// failed with cause timeout and resumable; a run within its time finishes.
TEST(GridTrainer, TimeoutStopsTheRunWithSigtermAndFailsIt) {
  TempDir d;
  const std::string grid = grid_file(
      d,
      "  - default_configs: " + test::kSerialRecall +
          "\n"
          "    overwrite:\n"
          "      training: {terminal_conditions: {episode_limit: 1000000}}\n",
      1, 1);
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = run(kGridTrainer + " --config " + grid + " --expdir " +
                          d.str() + "/exp --timeout 5");
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_LT(took, 20.0) << "stopped by SIGTERM, not after the 20 s grace";
  const fs::path g = grid_folder(d.path());
  auto runs = runs_of(g / "grid_status.yaml");
  const YAML::Node run0 = runs["run000"];
  EXPECT_EQ(run0["state"].as<std::string>(), "failed");
  EXPECT_TRUE(run0["timed_out"] && run0["timed_out"].as<bool>());
  EXPECT_HAS(run0["cause"].as<std::string>(),
             "timeout after 5 s (stopped with SIGTERM)");
  // The trainer saved and stopped as on Ctrl-C: resumable.
  EXPECT_EQ(run0["exit_code"].as<int>(), 130);
  const fs::path folder = folder_of(g, "run000");
  ASSERT_FALSE(folder.empty());
  EXPECT_TRUE(fs::exists(folder / "models" / "model_last.pt"));
  EXPECT_EQ(value_at(folder / "status.yaml", "state"), "interrupted");
}

// The shipped MAES grid (configs/maes_baselines/maes_grid_training.yaml,
// MI-Prometheus's grid in its schema), run from another folder: --dry-run
// lists its 18 runs on the offline trainer; shortened to one epoch of two
// episodes (single-value sweeps), every run trains, each on its task with
// the grid's values.
TEST(GridTrainer, MaesBaselinesGridRunsShortened) {
  TempDir d;
  const std::string grid =
      test::kSource + "/configs/maes_baselines/maes_grid_training.yaml";
  const std::string in_d = "cd " + d.str() + " && ";
  const RunResult dry = run(in_d + kGridTrainer + " --config " + grid +
                            " --expdir exp --dry-run");
  ASSERT_EQ(dry.code, 0) << dry.output;
  EXPECT_HAS(dry.output, "18 runs (6 tasks x 1 sweep points x 3 repetitions)");
  EXPECT_EQ(test::occurrences(dry.output, "/mip-offline-trainer --config"),
            18u);
  const RunResult r = run(in_d + kGridTrainer + " --config " + grid +
                          " --expdir exp --li 1"
                          " --sweep training.terminal_conditions.epoch_limit=1"
                          " --sweep training.problem.size=128"
                          " --sweep validation.problem.size=64");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path g = grid_folder(d.path());
  const auto runs = runs_of(g / "grid_status.yaml");
  ASSERT_EQ(runs.size(), 18u);
  std::set<std::string> problems;
  for (const auto& [id, n] : runs) {
    SCOPED_TRACE(id);
    EXPECT_EQ(n["state"].as<std::string>(), "finished");
    const int task = n["task"].as<int>(), rep = n["repetition"].as<int>();
    const fs::path exp = g / n["folder"].as<std::string>();
    const fs::path config = exp / "training_configuration.yaml";
    EXPECT_EQ(value_at(config, "model.name"), "MAES");
    EXPECT_EQ(value_at(config, "model.memory.num_content_bits"), "15");
    EXPECT_EQ(value_at(config, "training.seed_torch"), std::to_string(rep));
    EXPECT_EQ(value_at(config, "training.problem.max_sequence_length"), "20");
    EXPECT_EQ(value_at(config, "training.curriculum_learning.must_finish"),
              "false");
    EXPECT_EQ(value_at(config, "validation.problem.min_sequence_length"), "21");
    EXPECT_EQ(value_at(config, "testing.problem.max_sequence_length"),
              task == 0 ? "99" : "101");
    EXPECT_EQ(value_at(config, "training.terminal_conditions.epoch_limit"),
              "1");
    problems.insert(std::to_string(task) + " " +
                    value_at(config, "training.problem.name"));
    EXPECT_TRUE(fs::exists(exp / "models" / "model_best.pt"));
  }
  EXPECT_EQ(
      problems,
      (std::set<std::string>{
          "0 SequenceComparisonCommandLines", "1 SequenceEqualityCommandLines",
          "2 SequenceSymmetryCommandLines", "3 SkipRecallCommandLines",
          "4 SerialRecallCommandLines", "5 ReverseRecallCommandLines"}));
}

}  // namespace grid_test
}  // namespace mip
