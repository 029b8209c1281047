#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mip {

/// Process exit codes of every worker (documented in docs/05-workers.md).
enum ExitCode : int {
  kExitOk = 0,            ///< finished (converged or a limit reached)
  kExitFailed = 1,        ///< training failed (plugin error, NaN loss, I/O)
  kExitUsage = 2,         ///< bad command line
  kExitConfig = 3,        ///< bad configuration (file, key, value, handshake)
  kExitPlugin = 4,        ///< a plugin could not be found or loaded
  kExitNoCuda = 5,        ///< --gpu without a usable CUDA device
  kExitNotConfirmed = 6,  ///< --agree not confirmed: nothing was created
  kExitInterrupted = 130  ///< stopped by SIGINT/SIGTERM after saving
};

/// The command line shared by the single-run workers (MI-Prometheus's flags
/// keep their meaning; ours add overrides, plugin paths and seeds).
struct WorkerOptions {
  std::string worker;                ///< program name
  std::vector<std::string> configs;  ///< --config a.yaml,b.yaml (first wins)
  std::string model_checkpoint;      ///< --model
  bool gpu = false;                  ///< --gpu
  std::string expdir = "./experiments";
  std::string savetag;
  std::string log_level = "info";  ///< --log-level / --ll
  int64_t log_interval = 100;      ///< --li
  bool agree = false;              ///< --agree: ask before creating
  std::vector<std::string> sets;   ///< --set key=value
  std::vector<std::string> plugin_paths;
  std::optional<int64_t> seed;  ///< --seed: both seeds
  bool lenient = false;         ///< unknown keys warn instead of fail
  bool allow_insecure_plugin_dir = false;  ///< load from world-writable folders
  std::optional<int> tensorboard;  ///< --tensorboard 0|1|2 (event files)
  std::optional<int> visualize;    ///< --visualize level (the tester: 1)
  int64_t visualize_sample = 0;    ///< --visualize-sample: the batch's sample
  std::string resume;              ///< --resume <experiment folder>
  bool force = false;  ///< --force: --resume accepts an edited configuration
  std::optional<int> threads;   ///< --threads: LibTorch intra-op threads
  bool dry_run = false;         ///< --dry-run: build, one batch, write nothing
  int nproc = 1;                ///< --nproc: ranks launched on this machine
  double dist_timeout = 300.0;  ///< --dist-timeout: collectives' limit (s)
  std::vector<std::string> command_line;  ///< argv as given (provenance)
};

/// Which flags a worker takes.
enum class WorkerKind { kTrainer, kTester };

/// Parses the command line; returns nullopt after printing --help, throws
/// mip::ConfigError (exit kExitUsage) on bad flags.
std::optional<WorkerOptions> parse_worker_options(int argc,
                                                  char** argv,
                                                  const std::string& worker,
                                                  const std::string& summary,
                                                  WorkerKind kind);

/// CPUs this process may run on (its affinity mask). --threads above it is
/// lowered to it, with a warning.
int usable_cores();

/// mip-online-trainer: episodes over a generator with partial validation.
int run_online_trainer(int argc, char** argv);

/// mip-offline-trainer: epochs over a data set, full validation each epoch.
int run_offline_trainer(int argc, char** argv);

/// mip-tester: tests a trained model once over the testing set.
int run_tester(int argc, char** argv);

/// mip-plugins: list and describe the plugins found.
int run_plugins_tool(int argc, char** argv);

}  // namespace mip
