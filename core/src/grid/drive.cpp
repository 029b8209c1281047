// What the grid trainer and the grid tester share: running a grid's children
// on the local launcher while keeping grid_status.yaml up to date, and the
// error handling of their main().
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <mip/core/logging.hpp>
#include <mip/core/signals.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/error.hpp>

#include "drive.hpp"

namespace fs = std::filesystem;

namespace mip::grid {

std::string newest_match(const fs::path& dir,
                         const std::string& prefix,
                         const std::string& suffix) {
  std::string best;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return best;
  for (auto it = fs::directory_iterator(dir, ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && name.size() > prefix.size() + suffix.size() &&
        name.rfind(prefix, 0) == 0 &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        name > best)
      best = name;
  }
  return best;
}

void start_attempt(GridRun& r) {
  r.state = "running";
  r.attempts += 1;
  r.started = now();
  r.ended.clear();
  r.cause.clear();
  r.signal.clear();
  r.slurm_state.clear();
  r.exit_code = -1;
  r.timed_out = false;
}

void log_end(const GridRun& r, Logger& log) {
  if (r.state == "finished")
    log.info(r.id + " finished: " + r.cause);
  else
    log.warn(r.id + " " + r.state + ": " + r.cause);
}

void record_end(GridRun& r, const ChildEnd& e, double timeout_s) {
  r.ended = now();
  r.exit_code = e.exit_code;
  r.timed_out = e.timed_out;
  if (e.signal != 0)
    r.signal = signal_name(e.signal);
  if (e.timed_out) {
    r.state = "failed";
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", timeout_s);
    r.cause =
        std::string("timeout after ") + seconds + " s (stopped with SIGTERM)";
  } else if (e.signal != 0) {
    r.state = "failed";
    r.cause = std::string("killed by ") + signal_name(e.signal);
  } else if (e.exit_code == 0) {
    r.state = "finished";
    r.cause = "exit code 0";
  } else if (e.exit_code == kExitInterrupted) {
    r.state = e.stopped ? "interrupted" : "failed";
    r.cause = "exit code 130: " + exit_meaning(e.exit_code);
  } else {
    r.state = "failed";
    r.cause = "exit code " + std::to_string(e.exit_code) + ": " +
              exit_meaning(e.exit_code) + " (see " + r.log + ")";
  }
}

int finish(const std::string& grid_dir,
           const std::string& file,
           GridStatus& status,
           int stop,
           Logger& log) {
  const fs::path root(grid_dir);
  write_grid_status(grid_dir, file, status);
  size_t finished = 0, failed = 0;
  for (const auto& r : status.runs) {
    finished += r.state == "finished";
    failed += r.state == "failed";
  }
  log.info(std::to_string(finished) + " of " +
           std::to_string(status.runs.size()) + " finished, " +
           std::to_string(failed) + " failed; " + (root / file).string());
  if (stop != 0) {
    log.warn(std::string("stopped by ") + signal_name(stop) +
             "; continue with: " + status.settings.kind_tool + " --resume '" +
             grid_dir + "'");
    return kExitInterrupted;
  }
  return failed > 0 ? kExitFailed : kExitOk;
}

int drive(
    const std::string& grid_dir,
    const std::string& file,
    GridStatus& status,
    const std::vector<size_t>& todo,
    const std::vector<Slot>& slots,
    const std::function<std::vector<std::string>(size_t, const Slot&)>& args,
    const std::function<void(GridRun&)>& after,
    Logger& log) {
  const fs::path root(grid_dir);
  write_grid_status(grid_dir, file, status);
  log.info("running " + std::to_string(todo.size()) + " of " +
           std::to_string(status.runs.size()) + " children, " +
           std::to_string(slots.size()) + " at a time; progress in " +
           (root / file).string());
  auto start = [&](size_t i, const Slot& slot) {
    GridRun& r = status.runs[i];
    ChildSpec spec{status.settings.worker, args(i, slot),
                   (root / r.log).string()};
    start_attempt(r);
    r.cpus = cpu_list(slot.cpus);
    r.gpu = slot.gpu;
    write_grid_status(grid_dir, file, status);
    log.info(r.id + " started on cores " + r.cpus +
             (r.gpu.empty() ? "" : ", CUDA_VISIBLE_DEVICES=" + r.gpu));
    return spec;
  };
  auto ended = [&](size_t i, const ChildEnd& e) {
    GridRun& r = status.runs[i];
    record_end(r, e, status.settings.timeout_s);
    after(r);
    write_grid_status(grid_dir, file, status);
    log_end(r, log);
  };
  const int stop =
      run_children(todo, slots, status.settings.timeout_s, start, ended);
  return finish(grid_dir, file, status, stop, log);
}

std::vector<std::string> child_args(const std::string& grid_dir,
                                    const GridSettings& settings,
                                    const ChildCommand& command,
                                    const GridRun& r,
                                    size_t threads) {
  const fs::path root(grid_dir);
  std::vector<std::string> a;
  if (command.resume_checkpoints && !r.folder.empty() &&
      fs::is_regular_file(root / r.folder / "models" / "model_last.pt"))
    a = {"--resume", (root / r.folder).string()};
  else
    a = command.fresh(r);
  a.insert(a.end(), settings.child_flags.begin(), settings.child_flags.end());
  a.push_back("--threads");
  a.push_back(std::to_string(threads));
  if (settings.gpu)
    a.push_back("--gpu");
  return a;
}

namespace po = boost::program_options;

void add_launcher_options(po::options_description& desc,
                          LauncherOptions& o,
                          const std::string& tool) {
  auto at_least = [tool](const char* flag, int least) {
    return [tool, flag, least](int v) {
      MIP_CHECK(v >= least, UsageError, tool, ": --", flag, " must be ",
                least == 0 ? ">= 0" : "> 0", ", got ", v);
    };
  };
  // clang-format off
  desc.add_options()
    ("launcher", po::value(&o.launcher),
     "local (default: child processes here) or slurm (one sbatch job "
     "array)")
    ("partition", po::value(&o.partition),
     "slurm: the partition of every task")
    ("time", po::value(&o.time),
     "slurm: the time limit of every task, e.g. 2:00:00")
    ("cpus-per-task",
     po::value(&o.cpus_per_task)->notifier(at_least("cpus-per-task", 1)),
     "slurm: cores of every task (default 1); the child's --threads")
    ("gpus-per-task",
     po::value(&o.gpus_per_task)->notifier(at_least("gpus-per-task", 0)),
     "slurm: GPUs of every task (default 0, or 1 with --gpu)")
    ("no-wait", po::bool_switch(&o.no_wait),
     "slurm: submit and return; --resume <grid folder> follows the job");
  // clang-format on
}

void check_launcher_options(const std::string& tool, const LauncherOptions& o) {
  MIP_CHECK(
      o.launcher.empty() || o.launcher == "local" || o.launcher == "slurm",
      UsageError, tool, ": --launcher must be local or slurm, got [",
      o.launcher, "]");
  if (!o.partition.empty())
    slurm_word("--partition", o.partition);
  if (!o.time.empty())
    slurm_word("--time", o.time);
}

void check_launcher_fits(const std::string& tool,
                         const LauncherOptions& o,
                         const std::string& launcher) {
  MIP_CHECK(launcher == "slurm" ||
                (!o.no_wait && o.partition.empty() && o.time.empty() &&
                 o.cpus_per_task == 0 && o.gpus_per_task < 0),
            UsageError, tool,
            ": --no-wait, --partition, --time, --cpus-per-task and "
            "--gpus-per-task are for --launcher slurm (this grid runs on the ",
            launcher, " launcher)");
}

std::vector<size_t> resume_grid(const std::string& tool,
                                const std::string& kind,
                                const std::string& grid_dir,
                                const std::string& file,
                                const LauncherOptions& o,
                                GridStatus& status,
                                Logger& log) {
  status = read_grid_status(grid_dir, file);
  MIP_CHECK(status.settings.kind == kind, ConfigError, grid_dir, "/", file,
            " records a ", status.settings.kind, " grid; resume it with ",
            status.settings.kind == "training" ? "mip-grid-trainer"
                                               : "mip-grid-tester");
  status.settings.kind_tool = tool;
  std::vector<size_t> todo;
  for (size_t i = 0; i < status.runs.size(); ++i)
    if (status.runs[i].state != "finished")
      todo.push_back(i);
  check_launcher_fits(tool, o, status.settings.launcher);
  MIP_CHECK(o.launcher.empty() || o.launcher == status.settings.launcher,
            UsageError, tool, ": --launcher ", o.launcher, ": ", grid_dir,
            " runs on the ", status.settings.launcher, " launcher (", file,
            "); resume it there");
  log.info("resuming " + grid_dir + ": " + std::to_string(todo.size()) +
           " of " + std::to_string(status.runs.size()) + " to finish");
  return todo;
}

int launch(const std::string& grid_dir,
           const std::string& file,
           GridStatus& status,
           const std::vector<size_t>& todo,
           const LauncherOptions& o,
           const ChildCommand& command,
           Logger& log) {
  GridSettings& settings = status.settings;
  if (settings.launcher == "slurm") {
    // The options beat grid_settings.slurm (also on --resume); each task's
    // worker gets --threads <cpus per task>, and --gpu with GPUs.
    SlurmSettings& s = settings.slurm;
    if (!o.partition.empty())
      s.partition = o.partition;
    if (!o.time.empty())
      s.time = o.time;
    if (o.cpus_per_task > 0)
      s.cpus_per_task = o.cpus_per_task;
    if (o.gpus_per_task >= 0)
      s.gpus_per_task = o.gpus_per_task;
    if (s.time.empty() && settings.timeout_s > 0)  // whole minutes
      s.time =
          std::to_string(static_cast<long>((settings.timeout_s + 59) / 60));
    settings.gpu = s.gpus_per_task > 0;
    return drive_slurm(grid_dir, file, status, todo, command, !o.no_wait, log);
  }
  std::vector<std::string> notes;
  const auto slots = make_slots(settings.max_concurrent_runs, settings.gpu,
                                settings.gpus, notes);
  for (const auto& n : notes)
    log.warn(n);
  return drive(
      grid_dir, file, status, todo, slots,
      [&](size_t i, const Slot& slot) {
        return child_args(grid_dir, settings, command, status.runs[i],
                          slot.cpus.size());
      },
      command.after, log);
}

int run_tool(const std::string& tool, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    logger(tool).error(e.what());
    return kExitUsage;
  } catch (const ConfigError& e) {
    logger(tool).error(e.what());
    return kExitConfig;
  } catch (const std::exception& e) {
    logger(tool).error(e.what());
    return kExitFailed;
  }
}

}  // namespace mip::grid
