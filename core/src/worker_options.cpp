#include <mip/core/worker.hpp>

#include <boost/program_options.hpp>

#include <sched.h>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <thread>

#include <mip/core/experiment.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/text.hpp>
#include <mip/core/versions.hpp>
#include <mip/sdk/error.hpp>

namespace po = boost::program_options;

namespace mip {

namespace {

/// The command-line values that need checking or converting before they go
/// into WorkerOptions.
struct RawOptions {
  std::string config, ll, log_level;
  int64_t seed = 0;
  int tensorboard = 0, visualize = 0, threads = 0, nproc = 1;
  int64_t visualize_sample = 0;
  bool visualize_test = false;  ///< the tester's --visualize (a switch)
};

/// Every option of the workers; values land in `o` and `raw`.
po::options_description describe_options(WorkerOptions& o,
                                         RawOptions& raw,
                                         bool tester) {
  po::options_description desc("Options");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help and exit")
    ("version", "print the versions of the framework, LibTorch, the BLAS and "
     "CUDA, and exit")
    ("config", po::value(&raw.config),
     "comma-separated YAML files, the first wins over the later ones and "
     "over what they include (default_configs)")
    ("set", po::value(&o.sets)->composing(),
     "override one key, e.g. --set training.optimizer.lr=0.001 (repeatable; "
     "beats every file)")
    ("model", po::value(&o.model_checkpoint),
     tester ? "checkpoint (.pt) or experiment folder to test (required)"
            : "checkpoint (.pt) to start from (beats model.load)")
    ("gpu", po::bool_switch(&o.gpu), "run on CUDA (fails when there is none)")
    ("expdir", po::value(&o.expdir)->default_value("./experiments"),
     "root folder of the experiments")
    ("savetag", po::value(&o.savetag), "appended as _<tag> to the experiment folder")
    ("log-level", po::value(&raw.log_level),
     "console log level: trace, debug, info, warning, error, critical")
    ("ll", po::value(&raw.ll),
     "console log level in MI-Prometheus's spelling: DEBUG, INFO, WARNING, ... "
     "(as --log-level)")
    ("li", po::value(&o.log_interval)->default_value(100),
     "console statistics line every N episodes (CSV gets every episode)")
    ("plugin-path", po::value(&o.plugin_paths)->composing(),
     "extra plugin folder, searched first (repeatable; ':' separates several)")
    ("threads", po::value(&raw.threads),
     "LibTorch intra-op threads (and OpenMP's); default: see docs/performance.md")
    ("seed", po::value(&raw.seed),
     "seed of both seed_torch and seed_numpy (-1: draw one and record it)")
    ("allow-insecure-plugin-dir", po::bool_switch(&o.allow_insecure_plugin_dir),
     "load plugins from folders any user may write to (refused by default)")
    ("lenient", po::bool_switch(&o.lenient),
     "unknown configuration keys are warnings, not errors")
    ("agree", po::bool_switch(&o.agree),
     "print the resolved configuration and ask before creating the "
     "experiment folder (Enter, y or yes goes on; anything else creates "
     "nothing, exit 6)")
    ("dry-run", po::bool_switch(&o.dry_run),
     "build everything and run the first batch (no optimizer step), print "
     "the resolved configuration, write nothing")
    ("resume", po::value(&o.resume),
     "continue the experiment in this folder from models/model_last.pt")
    ("force", po::bool_switch(&o.force),
     "with --resume: accept a saved configuration edited since the last "
     "checkpoint (logged as a warning)")
    ("nproc", po::value(&raw.nproc),
     "data-parallel training: run N ranks of this worker on this machine "
     "(Gloo on the loopback; rank 0 writes the experiment folder); see "
     "docs/distributed.md for torchrun and srun")
    ("dist-timeout", po::value(&o.dist_timeout)->default_value(300.0),
     "data-parallel: seconds a rank waits for the others in a collective "
     "before the run fails (a rank died or hangs)")
    ("tensorboard", po::value(&raw.tensorboard),
     "TensorBoard event files in <folder>/training/, validation/, ...: "
     "0 statistics, 1 also weight histograms, 2 also gradient histograms");
  // clang-format on
  if (tester)
    desc.add_options()("visualize", po::bool_switch(&raw.visualize_test),
                       "record inputs, targets, predictions and the model's "
                       "published tensors of sample 0 of every test batch "
                       "into visualization/ (mip-report draws them)");
  else
    desc.add_options()("visualize", po::value(&raw.visualize),
                       "record sample 0 of chosen batches into "
                       "visualization/ (mip-report draws them): -1 off, 0 "
                       "training (every --li episodes), 1 training and "
                       "validation, 2 validation, 3 the last validation");
  desc.add_options()("visualize-sample", po::value(&raw.visualize_sample),
                     "which sample of a recorded batch --visualize keeps "
                     "(default 0, the first)");
  return desc;
}

/// A group of --help: its title, its flags (long names) in the order shown,
/// and a note printed under them.
struct HelpGroup {
  const char* title;
  std::vector<std::string> flags;
  const char* note = "";
};

/// The groups of --help. A flag declared above but named in no group is
/// shown under "Other options", so a new flag is never hidden: name it in
/// its group here.
const std::vector<HelpGroup>& help_groups() {
  static const std::vector<HelpGroup> groups = {
      {"Experiment",
       {"config", "model", "resume", "force", "dry-run", "expdir", "savetag",
        "seed", "gpu", "threads"}},
      {"Configuration",
       {"set", "lenient", "plugin-path", "allow-insecure-plugin-dir"}},
      {"Data parallel", {"nproc", "dist-timeout"}},
      {"Output",
       {"log-level", "li", "tensorboard", "visualize", "visualize-sample"}},
      {"MI-Prometheus compatibility",
       {"ll", "agree"},
       "  MI-Prometheus's flags keep their meaning (--config, --model, --gpu,\n"
       "  --expdir, --savetag, --ll, --li, --agree, --tensorboard, "
       "--visualize),\n"
       "  and unambiguous prefixes work as in argparse: --c, --m, --t.\n"},
      {"General", {"help", "version"}},
  };
  return groups;
}

/// Flags only the trainers take (the tester refuses them and does not list
/// them).
bool trainer_only(const std::string& flag) {
  return flag == "resume" || flag == "force" || flag == "nproc" ||
         flag == "dist-timeout";
}

/// Two or three commands to start from.
std::string help_examples(const std::string& worker, bool tester) {
  const std::string w = "  " + worker;
  const std::string folder =
      "experiments/SerialRecallCommandLines/LSTM/20261124_193257";
  if (tester)
    return w + " --model " + folder + "\n" + w + " --model " + folder +
           "/models/model_last.pt \\\n"
           "      --set testing.problem.max_sequence_length=20\n" +
           w + " --model " + folder + " --config longer_sequences.yaml\n";
  const std::string config = worker == "mip-offline-trainer"
                                 ? "configs/vision/lenet5_fashion_mnist.yaml"
                                 : "configs/serial_recall/lstm.yaml";
  return w + " --config " + config + "\n" + w + " --config " + config +
         " \\\n      --set training.optimizer.lr=0.001 --seed 7 --li 10\n" + w +
         " --resume " + folder + "\n";
}

/// --help: usage, the flags in their groups, examples and exit codes.
void print_help(const po::options_description& desc,
                const std::string& worker,
                const std::string& summary,
                bool tester) {
  std::cout << "Usage: " << worker
            << (tester ? " --model <checkpoint or experiment folder> [options]"
                       : " --config exp.yaml [options]\n       " + worker +
                             " --resume <experiment folder> [options]")
            << "\n\n"
            << summary << "\n\n";
  // One option column for every group, so that the descriptions line up.
  const unsigned width = desc.get_option_column_width();
  std::vector<std::string> placed;
  auto print_group = [&](const std::string& title,
                         const std::vector<std::string>& flags,
                         const char* note) {
    po::options_description group(title);
    for (const auto& name : flags)
      for (const auto& option : desc.options())
        if (option->long_name() == name && !(tester && trainer_only(name))) {
          group.add(option);
          placed.push_back(name);
        }
    if (group.options().empty())
      return;
    group.print(std::cout, width);
    std::cout << note << "\n";
  };
  for (const auto& g : help_groups())
    print_group(g.title, g.flags, g.note);
  std::vector<std::string> others;
  for (const auto& option : desc.options())
    if (std::find(placed.begin(), placed.end(), option->long_name()) ==
        placed.end())
      others.push_back(option->long_name());
  print_group("Other options", others, "");
  std::cout << "Examples:\n"
            << help_examples(worker, tester)
            << "\nExit codes:\n"
               "  0    finished (converged, a limit reached, stopped early, "
               "tested); --help, --version\n"
               "  1    the run failed (plugin error, NaN loss, I/O, damaged "
               "checkpoint); status.yaml says why\n"
               "  2    bad command line\n"
               "  3    bad configuration (file, key, value, handshake)\n"
               "  4    a plugin could not be found or loaded\n"
               "  5    --gpu without a usable CUDA device\n"
               "  6    --agree answered with no (nothing was created)\n"
               "  130  stopped by SIGINT, SIGTERM or SIGHUP after saving"
            << (tester ? "" : " (--resume continues)")
            << "\n\nSee docs/05-workers.md.\n";
}

/// Moves the checked raw values into `o`; a bad value is a ConfigError.
void apply_raw_options(const po::variables_map& vm,
                       const RawOptions& raw,
                       bool tester,
                       WorkerOptions& o) {
  const std::string& worker = o.worker;
  o.configs = split_list(raw.config, ',');
  if (!raw.ll.empty())
    o.log_level = raw.ll;
  if (!raw.log_level.empty())
    o.log_level = raw.log_level;
  parse_log_level(o.log_level);  // a bad level is a usage error
  if (vm.count("seed")) {
    MIP_CHECK(raw.seed >= -1, ConfigError, worker, ": --seed must be >= 0, or ",
              "-1 to draw one at random; got ", raw.seed);
    o.seed = raw.seed;
  }
  if (vm.count("threads")) {
    MIP_CHECK(raw.threads > 0, ConfigError, worker,
              ": --threads must be > 0, got ", raw.threads);
    // More intra-op threads than cores never runs faster, and OpenMP's
    // spinning threads make every operation slower: 100000 of them stall the
    // machine. A count written for a bigger machine still runs here.
    const int cores = usable_cores();
    if (raw.threads > cores)
      logger(worker).warn("--threads " + std::to_string(raw.threads) +
                          " is more than the " + std::to_string(cores) +
                          " cores this process may use; using " +
                          std::to_string(cores));
    o.threads = std::min(raw.threads, cores);
  }
  check_savetag(o.savetag);
  if (vm.count("tensorboard")) {
    MIP_CHECK(raw.tensorboard >= 0 && raw.tensorboard <= 2, ConfigError, worker,
              ": --tensorboard must be 0 (statistics), 1 (also weight "
              "histograms) or 2 (also gradient histograms); got ",
              raw.tensorboard);
    o.tensorboard = raw.tensorboard;
  }
  if (tester && raw.visualize_test)
    o.visualize = 1;
  if (!tester && vm.count("visualize")) {
    MIP_CHECK(raw.visualize >= -1 && raw.visualize <= 3, ConfigError, worker,
              ": --visualize must be -1 (off), 0 (training), 1 (training and "
              "validation), 2 (validation) or 3 (the last validation); got ",
              raw.visualize);
    if (raw.visualize >= 0)
      o.visualize = raw.visualize;
  }
  MIP_CHECK(raw.visualize_sample >= 0, ConfigError, worker,
            ": --visualize-sample must be a sample's index in the batch "
            "(0 or more); got ",
            raw.visualize_sample);
  MIP_CHECK(!vm.count("visualize-sample") || o.visualize, ConfigError, worker,
            ": --visualize-sample chooses what --visualize records; give "
            "--visualize too");
  o.visualize_sample = raw.visualize_sample;
  MIP_CHECK(!tester || o.resume.empty(), ConfigError, worker,
            ": --resume is for the trainers");
  MIP_CHECK(!o.force || !o.resume.empty(), ConfigError, worker,
            ": --force only goes with --resume");
  MIP_CHECK(!tester || (!vm.count("nproc") && vm["dist-timeout"].defaulted()),
            ConfigError, worker,
            ": --nproc and --dist-timeout are for the trainers");
  if (vm.count("nproc")) {
    MIP_CHECK(raw.nproc >= 1 && raw.nproc <= 1024, ConfigError, worker,
              ": --nproc must be 1 to 1024 ranks, got ", raw.nproc);
    o.nproc = raw.nproc;
  }
  MIP_CHECK(o.dist_timeout > 0, ConfigError, worker,
            ": --dist-timeout must be > 0 seconds, got ", o.dist_timeout);
  MIP_CHECK(o.nproc == 1 || !o.dry_run, ConfigError, worker,
            ": --dry-run runs one process; drop --nproc");
  MIP_CHECK(o.nproc == 1 || !o.agree, ConfigError, worker,
            ": --agree asks on one terminal; drop --nproc, or --agree");
  MIP_CHECK(o.log_interval > 0, ConfigError, worker, ": --li must be > 0, got ",
            o.log_interval);
}

}  // namespace

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::optional<WorkerOptions> parse_worker_options(int argc,
                                                  char** argv,
                                                  const std::string& worker,
                                                  const std::string& summary,
                                                  WorkerKind kind) {
  WorkerOptions o;
  o.worker = worker;
  o.command_line.assign(argv, argv + argc);
  RawOptions raw;
  const bool tester = kind == WorkerKind::kTester;
  const po::options_description desc = describe_options(o, raw, tester);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv)
                  .options(desc)
                  .style(po::command_line_style::default_style)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::ostringstream os;
    os << worker << ": " << e.what() << " (see " << worker << " --help)";
    throw ConfigError(os.str());
  }
  if (vm.count("help")) {
    print_help(desc, worker, summary, tester);
    return std::nullopt;
  }
  if (vm.count("version")) {
    std::cout << version_text(worker);
    return std::nullopt;
  }
  apply_raw_options(vm, raw, tester, o);
  return o;
}

}  // namespace mip
