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
