#pragma once

// The grid workers' parts (internal to core): the runs of a grid and their
// record (grid_status.yaml), and the local launcher that runs them as child
// processes. No LibTorch here.

#include <functional>
#include <string>
#include <vector>

namespace mip::grid {

/// One child of a grid: a training run (mip-grid-trainer) or a test
/// (mip-grid-tester), as grid_status.yaml records it.
struct GridRun {
  std::string id;  ///< "run003" / "test003": names its files and savetag
  int task = -1;   ///< index in grid_tasks (trainer)
  int repetition = 0;
  std::vector<std::pair<std::string, std::string>> sweep;  ///< key, value
  std::string seed;               ///< "3 (repetition)" or "from the grid file"
  std::string configuration;      ///< resolved configuration, relative to grid
  std::string log;                ///< its output, relative to the grid folder
  std::string state = "pending";  ///< pending running finished failed
                                  ///< interrupted
  std::string folder;  ///< experiment folder, relative to the grid folder
  std::string cause;   ///< why it ended ("exit code 0: Converged ...")
  int exit_code = -1;  ///< -1: none (not ended, or ended by a signal)
  std::string signal;  ///< "SIGKILL" when a signal ended it
  bool timed_out = false;
  int attempts = 0;
  std::string started, ended;
  std::string cpus;   ///< "0-1"
  std::string gpu;    ///< CUDA_VISIBLE_DEVICES given ("" on CPU)
  std::string model;  ///< tester: the experiment folder tested (relative)
  std::string job;    ///< Slurm: "<job id>_<array index>" of its last task
  std::string node;   ///< Slurm: the node it ran on
  std::string slurm_state;  ///< Slurm: how Slurm ended it (TIMEOUT, ...)
};

/// The Slurm launcher's settings (docs/grids.md, "Slurm").
struct SlurmSettings {
  std::string partition;  ///< "" : the cluster's default
  std::string time;       ///< --time of each task ("" : the partition's)
  int cpus_per_task = 1;
  int gpus_per_task = 0;
  std::string job;  ///< the job id of the last submission
};

/// Everything a grid worker needs to go on later (--resume) besides its runs.
struct GridSettings {
  std::string kind;         ///< "training" or "testing"
  std::string kind_tool;    ///< "mip-grid-trainer" (not recorded)
  std::string grid_config;  ///< the grid file (absolute)
  std::string worker;       ///< the child executable (absolute)
  int max_concurrent_runs = 0;
  bool gpu = false;
  std::vector<std::string> gpus;         ///< --gpus as given ("" detected)
  double timeout_s = 0;                  ///< 0: none
  std::vector<std::string> child_flags;  ///< --li, --ll, ... for every child
  std::string launcher = "local";        ///< "local" or "slurm"
  SlurmSettings slurm;                   ///< with launcher "slurm"
};

/// A grid folder's record of itself.
struct GridStatus {
  GridSettings settings;
  std::vector<GridRun> runs;
};

/// Writes `<grid>/<file>` atomically (temporary file, then rename).
void write_grid_status(const std::string& grid_dir,
                       const std::string& file,
                       const GridStatus& status);
/// Reads it back; throws mip::ConfigError naming the file when it is not one.
GridStatus read_grid_status(const std::string& grid_dir,
                            const std::string& file);

/// What a slot of the launcher gives the child it runs.
struct Slot {
  std::vector<int> cpus;  ///< its own cores (sched_setaffinity)
  std::string gpu;        ///< CUDA_VISIBLE_DEVICES ("" on CPU)
};

/// The slots of a local grid: up to `max_concurrent` (<= 0: one per core, or
/// per device with `gpu`), the cores of this process split between them; with
/// `gpu`, one device each from `gpus` ({} means detect them). Warnings (a
/// count lowered to what the machine has) go to `notes`.
std::vector<Slot> make_slots(int max_concurrent,
                             bool gpu,
                             const std::vector<std::string>& gpus,
                             std::vector<std::string>& notes);

/// "0-3,6" for a sorted list of cores (or array indices).
std::string cpu_list(const std::vector<int>& cpus);

/// A child to start: its program (absolute), arguments (argv[1..]) and log.
struct ChildSpec {
  std::string program;
  std::vector<std::string> args;
  std::string log;  ///< absolute; appended to
};

/// How a child ended.
struct ChildEnd {
  int exit_code = -1;  ///< -1 when a signal ended it
  int signal = 0;
  bool timed_out = false;
  bool stopped = false;  ///< the grid forwarded a stop signal to it
};

/// Runs children on the slots, at most one per slot; a slot returns to the
/// pool when its child ends. `start(i, slot)` gives child `i` (called when a
/// slot is free), `ended(i, end)` records its end. SIGINT, SIGTERM and SIGHUP
/// are forwarded to every running child (each in its own process group) and
/// no new child starts. Returns the stop signal received, or 0.
int run_children(const std::vector<size_t>& todo,
                 const std::vector<Slot>& slots,
                 double timeout_s,
                 const std::function<ChildSpec(size_t, const Slot&)>& start,
                 const std::function<void(size_t, const ChildEnd&)>& ended);

/// The absolute path of a worker executable: `name` as is when it holds a
/// '/', else beside this executable, else on PATH. Throws mip::ConfigError
/// naming `flag` when none is found.
std::string find_worker(const std::string& name, const std::string& flag);

/// The meaning of a worker's exit code ("bad configuration", ...).
std::string exit_meaning(int code);

/// "YYYY-MM-DD HH:MM:SS.mmm" now (sorts as it reads).
std::string now();

}  // namespace mip::grid
