#pragma once

// What mip-grid-trainer and mip-grid-tester share (internal to core).

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <boost/program_options/options_description.hpp>

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

/// How a grid tool starts one child, on either launcher.
struct ChildCommand {
  /// The arguments of a fresh start of `run` (before the flags every child
  /// gets: child_flags, --threads, --gpu).
  std::function<std::vector<std::string>(const GridRun&)> fresh;
  /// A run whose experiment folder holds models/model_last.pt continues
  /// through the worker's own --resume (the trainer).
  bool resume_checkpoints = false;
  /// Completes a run's record when it ends (its folder, its cause).
  std::function<void(GridRun&)> after;
};

/// Child `r`'s whole argument vector (argv[1..]) with `threads` cores.
std::vector<std::string> child_args(const std::string& grid_dir,
                                    const GridSettings& settings,
                                    const ChildCommand& command,
                                    const GridRun& r,
                                    size_t threads);

/// The launcher options both grid tools take (docs/grids.md, section 7).
struct LauncherOptions {
  std::string launcher;  ///< "" : not given
  std::string partition, time;
  int cpus_per_task = 0;   ///< 0: not given
  int gpus_per_task = -1;  ///< -1: not given
  bool no_wait = false;
};

/// Adds --launcher, --partition, --time, --cpus-per-task, --gpus-per-task
/// and --no-wait to `desc`; a count out of range is a UsageError of `tool`.
void add_launcher_options(boost::program_options::options_description& desc,
                          LauncherOptions& o,
                          const std::string& tool);

/// Checks the launcher options of `tool` once parsed: --launcher's value
/// (a UsageError), --partition and --time as slurm_word().
void check_launcher_options(const std::string& tool, const LauncherOptions& o);

/// Refuses the Slurm launcher's options on the local one.
void check_launcher_fits(const std::string& tool,
                         const LauncherOptions& o,
                         const std::string& launcher);

/// A Slurm partition or time limit as written into the job script: one word
/// of letters, digits and -_:.,; else a ConfigError naming `what`.
std::string slurm_word(const std::string& what, const std::string& value);

/// Runs the children `todo` of `status` on its launcher (settings.launcher):
/// drive() on slots of this machine, or drive_slurm() where the options
/// beat what status records (grid_settings.slurm, or the last submission).
int launch(const std::string& grid_dir,
           const std::string& file,
           GridStatus& status,
           const std::vector<size_t>& todo,
           const LauncherOptions& o,
           const ChildCommand& command,
           Logger& log);

/// Reads the grid folder `grid_dir`'s `file` for --resume of a `kind`
/// ("training", "testing") grid by `tool`, checks the launcher options
/// against the launcher it runs on, and returns the runs not finished.
std::vector<size_t> resume_grid(const std::string& tool,
                                const std::string& kind,
                                const std::string& grid_dir,
                                const std::string& file,
                                const LauncherOptions& o,
                                GridStatus& status,
                                Logger& log);

/// Throws mip::ConfigError saying what to install when sbatch, squeue or
/// scancel is not on PATH.
void require_slurm_tools();

/// The Slurm launcher: writes `<grid>/slurm_job.sh` (one array task per run
/// of `status`), submits the runs `todo` with sbatch (at most
/// max_concurrent_runs at a time) and follows them with squeue and the
/// tasks' end records, keeping `<grid>/<file>` up to date; Ctrl-C cancels
/// the job (scancel). A task Slurm ended (cancelled, over its time, out of
/// memory, ...) gets Slurm's state as its cause (sacct, else scontrol). A
/// grid whose last job is still queued is followed, not submitted again.
/// Returns the grid's exit code as drive() does (0 right after submitting
/// with `wait` false).
int drive_slurm(const std::string& grid_dir,
                const std::string& file,
                GridStatus& status,
                const std::vector<size_t>& todo,
                const ChildCommand& command,
                bool wait,
                Logger& log);

/// Runs a grid tool's body: a UsageError exits 2, a ConfigError 3, any other
/// error 1, each logged.
int run_tool(const std::string& tool, const std::function<int()>& body);

}  // namespace mip::grid
