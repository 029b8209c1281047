// mip-grid-tester: tests the best model of every finished experiment under a
// grid folder, each test a mip-tester child on the grid trainer's launchers
// (local or Slurm); grid_test_status.yaml; --resume.
#include <yaml-cpp/yaml.h>
#include <boost/program_options.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>

#include <mip/core/experiment.hpp>
#include <mip/core/grid.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/text.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/error.hpp>

#include "drive.hpp"

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace mip {

namespace {

using grid::GridRun;
using grid::GridStatus;
using grid::UsageError;

constexpr const char* kTool = "mip-grid-tester";
constexpr const char* kStatusFile = "grid_test_status.yaml";

/// The state an experiment's status.yaml records ("" when unreadable).
std::string experiment_state(const fs::path& dir) {
  try {
    const YAML::Node s = YAML::LoadFile((dir / "status.yaml").string());
    return s["state"] ? s["state"].as<std::string>() : "";
  } catch (const YAML::Exception&) {
    return "";
  }
}

/// Experiment folders under `root` (training_configuration.yaml), sorted;
/// those not finished or without models/model_best.pt go to `skipped`.
std::vector<fs::path> experiments(const fs::path& root,
                                  std::vector<std::string>& skipped) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file() ||
        it->path().filename() != "training_configuration.yaml")
      continue;
    const fs::path dir = it->path().parent_path();
    const std::string state = experiment_state(dir);
    if (state != "finished")
      skipped.push_back(fs::relative(dir, root).string() + " (" +
                        (state.empty() ? "no status.yaml" : state) + ")");
    else if (!fs::is_regular_file(dir / "models" / "model_best.pt"))
      skipped.push_back(fs::relative(dir, root).string() +
                        " (no models/model_best.pt)");
    else
      found.push_back(dir);
  }
  std::sort(found.begin(), found.end());
  return found;
}

struct Options {
  std::string folder, tester = "mip-tester", ll, resume;
  std::vector<std::string> gpus, plugin_paths;
  int repeat = 1, max_concur_runs = -1;
  int64_t li = 100;
  double timeout_s = 0;
  bool gpu = false, dry_run = false;
  grid::LauncherOptions launch;
};

std::optional<Options> parse(int argc, char** argv, bool gpu_alias) {
  Options o;
  std::string gpus, expdir;
  po::options_description desc("Options");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help and exit")
    ("folder", po::value(&o.folder), "the grid folder (also the first argument)")
    ("expdir", po::value(&expdir), "the grid folder (MI-Prometheus's name)")
    ("repeat", po::value(&o.repeat)->default_value(1),
     "test every experiment this many times")
    ("max_concur_runs", po::value(&o.max_concur_runs)->default_value(-1),
     "tests at a time (<= 0: one per core, or per device with --gpu; on "
     "Slurm the array's %K, <= 0: no limit)")
    ("resume", po::value(&o.resume),
     "continue the tests recorded in this grid folder's "
     "grid_test_status.yaml: the unfinished ones run again (on Slurm: "
     "follow the job first)")
    ("tester", po::value(&o.tester)->default_value("mip-tester"),
     "the tester: a name beside this program or on PATH, or a path")
    ("gpu", po::bool_switch(&o.gpu), "one CUDA device per test")
    ("gpus", po::value(&gpus), "the devices to lease, e.g. 0,1 (implies --gpu)")
    ("timeout", po::value(&o.timeout_s), "seconds a test may run")
    ("dry-run", po::bool_switch(&o.dry_run),
     "list the experiments to test; write nothing")
    ("ll", po::value(&o.ll), "console log level of the testers")
    ("li", po::value(&o.li)->default_value(100),
     "testers' console statistics line every N episodes")
    ("plugin-path", po::value(&o.plugin_paths)->composing(),
     "extra plugin folder for every tester (repeatable)");
  // clang-format on
  grid::add_launcher_options(desc, o.launch, kTool);
  po::positional_options_description positional;
  positional.add("folder", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv)
                  .options(desc)
                  .positional(positional)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(kTool) + ": " + e.what() + " (see " + kTool +
                     " --help)");
  }
  if (vm.count("help")) {
    std::cout
        << "Usage: " << kTool
        << " <grid folder> [--repeat N] [--max_concur_runs N] "
           "[options]\n       "
        << kTool
        << " --resume <grid folder>\n\nTests the best model of every finished "
           "experiment under the folder, each test in its own\nprocess "
           "on its own cores (or GPU); progress in <grid "
           "folder>/grid_test_status.yaml.\n\n"
        << desc
        << "\nExit codes: 0 every test passed; 1 some failed; 2 bad "
           "command line;\n3 no experiment to test; 130 stopped by "
           "Ctrl-C (--resume continues).\nSee docs/grids.md.\n";
    return std::nullopt;
  }
  if (o.folder.empty())
    o.folder = expdir;
  MIP_CHECK(o.folder.empty() || o.resume.empty(), UsageError, kTool,
            ": --resume and a grid folder to test exclude each other (the "
            "tests resume as they were started)");
  if (!o.resume.empty())
    o.folder = o.resume;
  MIP_CHECK(!o.folder.empty(), UsageError, kTool,
            ": give the grid folder, e.g. ", kTool,
            " experiments_20261124_193257");
  MIP_CHECK(fs::is_directory(o.folder), UsageError, kTool, ": [", o.folder,
            "] is not a folder; give the grid folder mip-grid-trainer made");
  grid::check_launcher_options(kTool, o.launch);
  MIP_CHECK(o.repeat > 0, UsageError, kTool, ": --repeat must be > 0, got ",
            o.repeat);
  MIP_CHECK(o.li > 0, UsageError, kTool, ": --li must be > 0, got ", o.li);
  if (!o.ll.empty())
    parse_log_level(o.ll);
  o.gpus = split_list(gpus, ',');
  o.gpu = o.gpu || gpu_alias || !o.gpus.empty();
  return o;
}

/// How the grid tester starts a test: mip-tester on the experiment's best
/// model; its test folder is the newest test_*_<id> of the experiment.
grid::ChildCommand test_command(const std::string& grid_dir) {
  grid::ChildCommand c;
  c.fresh = [grid_dir](const GridRun& r) {
    return std::vector<std::string>{
        "--model", (fs::path(grid_dir) / r.model).string(), "--savetag", r.id};
  };
  c.after = [grid_dir](GridRun& r) {
    const std::string name =
        grid::newest_match(fs::path(grid_dir) / r.model, "test_", "_" + r.id);
    if (!name.empty())
      r.folder = (fs::path(r.model) / name).string();
  };
  return c;
}

int grid_tester(int argc, char** argv, bool gpu_alias) {
  const auto parsed = parse(argc, argv, gpu_alias);
  if (!parsed)
    return kExitOk;
  const Options& o = *parsed;
  Logger& log = logger(kTool);
  if (!o.ll.empty())
    logging_set_console_level(parse_log_level(o.ll));
  const std::string grid_dir =
      fs::absolute(o.folder).lexically_normal().string();
  GridStatus status;
  std::vector<size_t> todo;
  if (!o.resume.empty()) {
    todo = grid::resume_grid(kTool, "testing", grid_dir, kStatusFile, o.launch,
                             status, log);
    if (o.timeout_s > 0)
      status.settings.timeout_s = o.timeout_s;
    return grid::launch(grid_dir, kStatusFile, status, todo, o.launch,
                        test_command(grid_dir), log);
  }
  if (fs::is_regular_file(fs::path(grid_dir) / kStatusFile)) {
    // A Slurm job of earlier tests that still runs would write into the
    // same test records.
    const GridStatus before = grid::read_grid_status(grid_dir, kStatusFile);
    for (const auto& r : before.runs)
      MIP_CHECK(before.settings.launcher != "slurm" ||
                    (r.state != "pending" && r.state != "running"),
                UsageError, kTool, ": ", grid_dir, "/", kStatusFile,
                " records Slurm job ", before.settings.slurm.job, " with ",
                r.id, " still ", r.state, "; follow it with ", kTool,
                " --resume '", grid_dir, "' (or scancel ",
                before.settings.slurm.job, " first)");
  }
  std::vector<std::string> skipped;
  const std::vector<fs::path> found = experiments(grid_dir, skipped);
  for (const auto& s : skipped)
    log.warn("not tested: " + s);
  MIP_CHECK(!found.empty(), ConfigError, kTool,
            ": no finished experiment "
            "with models/model_best.pt under [",
            grid_dir, "]");
  grid::GridSettings& s = status.settings;
  s.kind = "testing";
  s.kind_tool = kTool;
  s.worker = grid::find_worker(o.tester, "--tester");
  s.max_concurrent_runs = o.max_concur_runs;
  s.gpu = o.gpu;
  s.gpus = o.gpus;
  s.timeout_s = o.timeout_s;
  s.child_flags = {"--li", std::to_string(o.li)};
  if (!o.ll.empty())
    s.child_flags.insert(s.child_flags.end(), {"--ll", o.ll});
  for (const auto& p : o.plugin_paths)
    s.child_flags.insert(s.child_flags.end(),
                         {"--plugin-path", fs::absolute(p).string()});
  s.launcher = o.launch.launcher.empty() ? "local" : o.launch.launcher;
  if (o.gpu)
    s.slurm.gpus_per_task = 1;
  grid::check_launcher_fits(kTool, o.launch, s.launcher);
  if (s.launcher == "slurm" && !o.dry_run)
    grid::require_slurm_tools();  // before anything is written
  for (int rep = 0; rep < o.repeat; ++rep)
    for (const auto& exp : found) {
      GridRun r;
      std::string id = std::to_string(todo.size());
      r.id = "test" + std::string(std::max(0, 3 - int(id.size())), '0') + id;
      r.repetition = rep;
      r.model = fs::relative(exp, grid_dir).string();
      r.log = "tests/" + r.id + ".log";
      status.runs.push_back(r);
      todo.push_back(todo.size());
    }
  if (o.dry_run) {
    std::cout << status.runs.size() << " tests; nothing written\n";
    for (const auto& r : status.runs)
      std::cout << r.id << "  " << r.model << "\n";
    return kExitOk;
  }
  fs::create_directories(fs::path(grid_dir) / "tests");
  return grid::launch(grid_dir, kStatusFile, status, todo, o.launch,
                      test_command(grid_dir), log);
}

}  // namespace

int run_grid_tester(int argc, char** argv, bool gpu_alias) {
  return grid::run_tool(kTool,
                        [&] { return grid_tester(argc, argv, gpu_alias); });
}

}  // namespace mip
