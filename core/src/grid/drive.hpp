#pragma once

// What mip-grid-trainer and mip-grid-tester share (internal to core).

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <mip/core/logging.hpp>
#include <mip/sdk/error.hpp>

#include "grid.hpp"

namespace mip::grid {

/// A bad command line (exit code 2).
struct UsageError : ConfigError {
  using ConfigError::ConfigError;
};

/// The greatest name of a folder in `dir` that starts with `prefix` and ends
/// with `suffix` (timestamped names: the newest), or "".
std::string newest_match(const std::filesystem::path& dir,
                         const std::string& prefix,
                         const std::string& suffix);

/// Runs the children `todo` of `status` on `slots`, writing `<grid>/<file>`
/// at every start and end; `args(i, slot)` gives child i's arguments,
/// `after(run)` completes its record when it ends (its folder, its cause).
/// Returns the grid's exit code: 0 all finished, 1 some failed, 130 stopped.
int drive(
    const std::string& grid_dir,
    const std::string& file,
    GridStatus& status,
    const std::vector<size_t>& todo,
    const std::vector<Slot>& slots,
    const std::function<std::vector<std::string>(size_t, const Slot&)>& args,
    const std::function<void(GridRun&)>& after,
    Logger& log);

/// Marks child `r` running from now: a new attempt, its last end forgotten.
void start_attempt(GridRun& r);

/// Logs how child `r` ended (a warning unless it finished).
void log_end(const GridRun& r, Logger& log);

/// Records how child `r` ended: its state (finished, failed, interrupted),
/// exit code or signal, and cause.
void record_end(GridRun& r, const ChildEnd& e, double timeout_s);

/// Writes `<grid>/<file>` a last time, logs the counts and returns the grid's
/// exit code: 130 when `stop` (a signal) stopped it, 1 when some run failed,
/// else 0.
int finish(const std::string& grid_dir,
           const std::string& file,
           GridStatus& status,
           int stop,
           Logger& log);

/// What the Slurm launcher needs beyond the grid's status.
struct SlurmJob {
  std::vector<std::string> worker_args;  ///< after --config/--resume ...
  bool wait = true;                      ///< false: --no-wait
};

/// Throws mip::ConfigError saying what to install when sbatch, squeue or
/// scancel is not on PATH.
void require_slurm_tools();

/// The Slurm launcher: writes `<grid>/slurm_job.sh` (one array task per run
/// of `status`), submits the runs `todo` with sbatch (at most
/// max_concurrent_runs at a time) and follows them with squeue and the
/// tasks' end records, keeping `<grid>/<file>` up to date; Ctrl-C cancels
/// the job (scancel). A grid whose last job is still queued is followed,
/// not submitted again. Returns the grid's exit code as drive() does (0
/// right after submitting with --no-wait).
int drive_slurm(const std::string& grid_dir,
                const std::string& file,
                GridStatus& status,
                const std::vector<size_t>& todo,
                const SlurmJob& job,
                const std::function<void(GridRun&)>& after,
                Logger& log);

/// Runs a grid tool's body: a UsageError exits 2, a ConfigError 3, any other
/// error 1, each logged.
int run_tool(const std::string& tool, const std::function<int()>& body);

}  // namespace mip::grid
