// mip-grid-trainer: MI-Prometheus's grid file (grid_tasks, grid_overwrite,
// grid_settings) and --sweep expanded into runs; each run's configuration
// resolved and written into the grid folder, then trained by a child process
// on the local launcher; grid_status.yaml; --resume.
#include <yaml-cpp/yaml.h>
#include <boost/program_options.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>

#include <mip/core/experiment.hpp>
#include <mip/core/files.hpp>
#include <mip/core/grid.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/registry.hpp>
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

constexpr const char* kTool = "mip-grid-trainer";
constexpr const char* kStatusFile = "grid_status.yaml";

/// One entry of grid_tasks.
struct Task {
  std::vector<std::string> files;  ///< default_configs, resolved
  YAML::Node overwrite;
};

/// The grid file, checked.
struct GridFile {
  std::string path;
  std::vector<Task> tasks;
  YAML::Node grid_overwrite;
  int repetitions = 1;
  int max_concurrent_runs = 0;
  std::string trainer = "mip-offline-trainer";
  double timeout_s = 0;
  std::string launcher;  ///< "" when grid_settings does not say
  grid::SlurmSettings slurm;
  bool cpus_set = false, gpus_set = false;  ///< in grid_settings.slurm
};

/// "[a], [b] and [c]".
std::string join_keys(const std::vector<std::string>& keys) {
  std::string s;
  for (size_t i = 0; i < keys.size(); ++i)
    s += (i == 0                 ? ""
          : i + 1 == keys.size() ? " and "
                                 : ", ") +
         ("[" + keys[i] + "]");
  return s;
}

/// "grid.yaml:12" for a node.
std::string where(const std::string& file, const YAML::Node& node) {
  return file + ":" + std::to_string(node.Mark().line + 1);
}

/// Refuses keys of `node` (a map) not in `known`, naming the file, line and
/// key path, with a "did you mean".
void check_keys(const std::string& file,
                const YAML::Node& node,
                const std::string& path,
                const std::vector<std::string>& known) {
  MIP_CHECK(node.IsMap(), ConfigError, where(file, node), ": [", path,
            "] must be a map with the keys ", join_keys(known));
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    MIP_CHECK(std::find(known.begin(), known.end(), key) != known.end(),
              ConfigError, where(file, kv.first), ": unknown key [",
              path.empty() ? key : path + "." + key, "]",
              did_you_mean(key, known), "; the keys here are ",
              join_keys(known));
  }
}

/// A task's default_configs entry as a file: beside the grid file first,
/// then in the working directory.
std::string resolve_config(const std::string& grid_file,
                           const YAML::Node& node,
                           const std::string& name,
                           const std::string& key) {
  const fs::path p = expand_user(name);
  std::vector<fs::path> tried;
  if (p.is_absolute())
    tried.push_back(p);
  else
    tried = {fs::absolute(grid_file).parent_path() / p, fs::absolute(p)};
  for (const auto& t : tried)
    if (fs::is_regular_file(t))
      return t.lexically_normal().string();
  std::string list;
  for (const auto& t : tried)
    list += "\n  " + t.string();
  throw ConfigError(where(grid_file, node) + ": [" + key + "]: [" + name +
                    "] not found; looked at:" + list +
                    "\n  fix the path (relative paths are taken beside the "
                    "grid file, then in the working directory)");
}

int positive_int(const std::string& file,
                 const YAML::Node& node,
                 const std::string& key,
                 bool allow_nonpositive) {
  int v = 0;
  try {
    v = node.as<int>();
  } catch (const YAML::Exception&) {
    throw ConfigError(where(file, node) + ": [" + key +
                      "] must be an integer, got [" + node.Scalar() + "]");
  }
  MIP_CHECK(allow_nonpositive || v > 0, ConfigError, where(file, node), ": [",
            key, "] must be > 0, got ", v);
  return v;
}

GridFile read_grid_file(const std::string& path) {
  MIP_CHECK(fs::is_regular_file(path), ConfigError, "--config [", path,
            "]: no such file; give the grid configuration (grid_tasks, "
            "grid_overwrite, grid_settings)");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw ConfigError(path + ": not valid YAML: " + e.what());
  }
  GridFile g;
  g.path = fs::absolute(path).lexically_normal().string();
  check_keys(path, root, "", {"grid_tasks", "grid_overwrite", "grid_settings"});
  const YAML::Node tasks = root["grid_tasks"];
  MIP_CHECK(tasks && tasks.IsSequence() && tasks.size() > 0, ConfigError, path,
            ": [grid_tasks] must be a list of tasks, each with "
            "default_configs (and optionally overwrite)");
  for (size_t i = 0; i < tasks.size(); ++i) {
    const std::string key = "grid_tasks[" + std::to_string(i) + "]";
    check_keys(path, tasks[i], key, {"default_configs", "overwrite"});
    const YAML::Node dc = tasks[i]["default_configs"];
    MIP_CHECK(dc && (dc.IsScalar() || dc.IsSequence()), ConfigError,
              where(path, tasks[i]), ": [", key,
              ".default_configs] is required: the experiment's files, "
              "comma-separated (the first wins)");
    std::vector<std::string> names;
    if (dc.IsScalar())
      names = split_list(dc.Scalar(), ',');
    else
      for (const auto& n : dc)
        names.push_back(n.as<std::string>());
    MIP_CHECK(!names.empty(), ConfigError, where(path, dc), ": [", key,
              ".default_configs] names no file");
    Task t;
    for (const auto& n : names)
      t.files.push_back(resolve_config(path, dc, n, key + ".default_configs"));
    if (tasks[i]["overwrite"]) {
      t.overwrite = tasks[i]["overwrite"];
      MIP_CHECK(t.overwrite.IsMap() || t.overwrite.IsNull(), ConfigError,
                where(path, t.overwrite), ": [", key,
                ".overwrite] must be a map of configuration keys");
    }
    g.tasks.push_back(t);
  }
  if (root["grid_overwrite"]) {
    g.grid_overwrite = root["grid_overwrite"];
    MIP_CHECK(g.grid_overwrite.IsMap() || g.grid_overwrite.IsNull(),
              ConfigError, where(path, g.grid_overwrite),
              ": [grid_overwrite] must be a map of configuration keys");
  }
  const YAML::Node settings = root["grid_settings"];
  MIP_CHECK(settings, ConfigError, path,
            ": [grid_settings] is required, with experiment_repetitions and "
            "max_concurrent_runs (as in MI-Prometheus)");
  check_keys(path, settings, "grid_settings",
             {"experiment_repetitions", "max_concurrent_runs", "trainer",
              "timeout", "launcher", "slurm"});
  for (const char* k : {"experiment_repetitions", "max_concurrent_runs"})
    MIP_CHECK(settings[k], ConfigError, where(path, settings),
              ": [grid_settings.", k, "] is required (",
              std::string(k) == "experiment_repetitions"
                  ? "how many times each task runs, e.g. 1"
                  : "children at a time; 0 or less: one per core or device",
              ")");
  g.repetitions = positive_int(path, settings["experiment_repetitions"],
                               "grid_settings.experiment_repetitions", false);
  g.max_concurrent_runs =
      positive_int(path, settings["max_concurrent_runs"],
                   "grid_settings.max_concurrent_runs", true);
  if (settings["trainer"])
    g.trainer = settings["trainer"].as<std::string>();
  if (settings["timeout"]) {
    try {
      g.timeout_s = settings["timeout"].as<double>();
    } catch (const YAML::Exception&) {
      g.timeout_s = -1;
    }
    MIP_CHECK(g.timeout_s > 0, ConfigError, where(path, settings["timeout"]),
              ": [grid_settings.timeout] must be a number of seconds > 0");
  }
  if (const YAML::Node l = settings["launcher"]) {
    g.launcher = l.Scalar();
    MIP_CHECK(g.launcher == "local" || g.launcher == "slurm", ConfigError,
              where(path, l),
              ": [grid_settings.launcher] must be local or "
              "slurm, got [",
              g.launcher, "]");
  }
  if (const YAML::Node sl = settings["slurm"]) {
    check_keys(path, sl, "grid_settings.slurm",
               {"partition", "time", "cpus_per_task", "gpus_per_task"});
    if (sl["partition"])
      g.slurm.partition = grid::slurm_word(
          where(path, sl["partition"]) + ": [grid_settings.slurm.partition]",
          sl["partition"].Scalar());
    if (sl["time"])
      g.slurm.time = grid::slurm_word(
          where(path, sl["time"]) + ": [grid_settings.slurm.time]",
          sl["time"].Scalar());
    if ((g.cpus_set = bool(sl["cpus_per_task"])))
      g.slurm.cpus_per_task =
          positive_int(path, sl["cpus_per_task"],
                       "grid_settings.slurm.cpus_per_task", false);
    if ((g.gpus_set = bool(sl["gpus_per_task"])))
      g.slurm.gpus_per_task = positive_int(
          path, sl["gpus_per_task"], "grid_settings.slurm.gpus_per_task", true);
    MIP_CHECK(g.slurm.gpus_per_task >= 0, ConfigError,
              where(path, sl["gpus_per_task"]),
              ": [grid_settings.slurm.gpus_per_task] must be >= 0");
  }
  return g;
}

/// --sweep key=v1,v2: commas inside [] or {} do not split.
std::pair<std::string, std::vector<std::string>> parse_sweep(
    const std::string& text) {
  const auto eq = text.find('=');
  MIP_CHECK(eq != std::string::npos && eq > 0, UsageError, "--sweep [", text,
            "]: expected key.path=v1,v2,..., e.g. --sweep "
            "training.optimizer.lr=0.1,0.01");
  const std::string key = trim(text.substr(0, eq));
  std::vector<std::string> values;
  std::string cur;
  int depth = 0;
  for (char c : text.substr(eq + 1)) {
    depth += (c == '[' || c == '{') - (c == ']' || c == '}');
    if (c == ',' && depth == 0) {
      values.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  values.push_back(trim(cur));
  for (const auto& v : values)
    MIP_CHECK(!v.empty(), UsageError, "--sweep [", text,
              "]: an empty value; write the values comma-separated, e.g. "
              "--sweep training.optimizer.lr=0.1,0.01");
  return {key, values};
}

/// Applies every leaf of `tree` (a configuration map) as an override; lists
/// and empty maps are leaves. Records the keys set in `keys`.
void apply_tree(ParamRegistry& reg,
                const YAML::Node& tree,
                const std::string& prefix,
                std::set<std::string>& keys) {
  if (!tree || tree.IsNull())
    return;
  for (const auto& kv : tree) {
    const std::string key =
        (prefix.empty() ? "" : prefix + ".") + kv.first.as<std::string>();
    if (kv.second.IsMap() && kv.second.size() > 0) {
      apply_tree(reg, kv.second, key, keys);
      continue;
    }
    YAML::Emitter out;
    out << YAML::Flow << kv.second;
    reg.apply_override(key + "=" + out.c_str());
    keys.insert(key);
  }
}

/// A run of the grid before it has a folder.
struct Planned {
  GridRun run;
  std::string yaml;  ///< its resolved configuration
};

/// Expands tasks x sweep points x repetitions (repetitions outermost, as
/// MI-Prometheus) and resolves each configuration.
std::vector<Planned> plan(const GridFile& g,
                          const std::vector<std::string>& sweeps,
                          Logger& log) {
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;
  for (const auto& s : sweeps)
    axes.push_back(parse_sweep(s));
  std::vector<std::vector<std::pair<std::string, std::string>>> points = {{}};
  for (const auto& [key, values] : axes) {
    std::vector<std::vector<std::pair<std::string, std::string>>> next;
    for (const auto& p : points)
      for (const auto& v : values) {
        auto q = p;
        q.emplace_back(key, v);
        next.push_back(q);
      }
    points = next;
  }
  std::vector<Planned> out;
  const size_t total =
      static_cast<size_t>(g.repetitions) * g.tasks.size() * points.size();
  const int width = total > 1000 ? 4 : 3;
  bool warned = false;
  for (int rep = 0; rep < g.repetitions; ++rep)
    for (size_t t = 0; t < g.tasks.size(); ++t)
      for (const auto& point : points) {
        Planned p;
        std::string id = std::to_string(out.size());
        id = "run" + std::string(std::max(0, width - int(id.size())), '0') + id;
        p.run.id = id;
        p.run.task = static_cast<int>(t);
        p.run.repetition = rep;
        p.run.sweep = point;
        p.run.configuration = "runs/" + id + ".yaml";
        p.run.log = "runs/" + id + ".log";
        const std::string what = "grid_tasks[" + std::to_string(t) + "]";
        ParamRegistry reg;
        std::set<std::string> grid_keys;
        try {
          reg.load_files(g.tasks[t].files);
          apply_tree(reg, g.grid_overwrite, "", grid_keys);
          apply_tree(reg, g.tasks[t].overwrite, "", grid_keys);
          for (const auto& [k, v] : point) {
            reg.apply_override(k + "=" + v);
            grid_keys.insert(k);
          }
        } catch (const ConfigError& e) {
          throw ConfigError(g.path + ": " + what + ": " + e.what());
        }
        // Repetitions differ by their seed, fixed by the repetition index
        // (MI-Prometheus drew them at random); a seed set by the grid wins.
        std::vector<std::string> fixed;
        for (const char* k : {"training.seed_torch", "training.seed_numpy"}) {
          if (grid_keys.count(k) || grid_keys.count("training")) {
            fixed.push_back(k);
            continue;
          }
          reg.apply_override(std::string(k) + "=" + std::to_string(rep));
        }
        p.run.seed = fixed.empty() ? std::to_string(rep) + " (repetition)"
                                   : "set by the grid";
        if (!fixed.empty() && g.repetitions > 1 && !warned) {
          warned = true;
          log.warn("the grid sets " + fixed.front() +
                   ": the repetitions of a task use the same seed");
        }
        std::string header = "# Resolved by mip-grid-trainer: " + id +
                             ", task " + std::to_string(t) + " of " + g.path +
                             ", repetition " + std::to_string(rep) + "\n";
        for (const auto& f : g.tasks[t].files)
          header += "#   from " + f + "\n";
        for (const auto& [k, v] : point)
          header += "#   --sweep " + k + "=" + v + "\n";
        p.yaml = header + reg.dump();
        out.push_back(p);
      }
  return out;
}

std::string join_args(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) {
    const bool plain = !a.empty() && a.find_first_of(" '\"\\$`*?[]{}();&|<>") ==
                                         std::string::npos;
    s += (s.empty() ? "" : " ") + (plain ? a : "'" + a + "'");
  }
  return s;
}

/// After a child: its experiment folder (`<problem>/<model>/<ts>_<id>`) and
/// the terminal cause its status.yaml gives.
void find_experiment(const std::string& grid_dir, GridRun& r) {
  const fs::path root(grid_dir);
  std::error_code ec;
  // The newest folder of the run: a resumed run keeps its folder, a run
  // restarted without a checkpoint has a newer one.
  {
    std::string best;
    for (auto p = fs::directory_iterator(root, ec);
         !ec && p != fs::directory_iterator(); p.increment(ec)) {
      if (!p->is_directory() || p->path().filename() == "runs")
        continue;
      std::error_code ec2;
      for (auto m = fs::directory_iterator(p->path(), ec2);
           !ec2 && m != fs::directory_iterator(); m.increment(ec2)) {
        const std::string name = grid::newest_match(m->path(), "", "_" + r.id);
        if (name.empty())
          continue;
        const fs::path rel = fs::relative(m->path() / name, root);
        if (rel.string() > best)  // problems and models sort alike
          best = rel.string();
      }
    }
    r.folder = best;
  }
  if (r.folder.empty())
    return;
  try {
    const YAML::Node s =
        YAML::LoadFile((root / r.folder / "status.yaml").string());
    // The trainer's own word on how it ended (not when a signal ended it:
    // its status.yaml then still says running).
    const std::string cause =
        s["terminal_cause"] ? s["terminal_cause"].as<std::string>() : "";
    if (!cause.empty() && r.exit_code >= 0 && !r.timed_out &&
        r.state != "interrupted")
      r.cause += ": " + cause;
  } catch (const YAML::Exception&) {
    // no status.yaml (the child failed before its folder was complete)
  }
}

/// How the grid trainer starts a run: from its resolved configuration, or
/// through the trainer's --resume when its folder holds a checkpoint.
grid::ChildCommand train_command(const std::string& grid_dir) {
  grid::ChildCommand c;
  c.fresh = [grid_dir](const GridRun& r) {
    return std::vector<std::string>{
        "--config",  (fs::path(grid_dir) / r.configuration).string(),
        "--expdir",  grid_dir,
        "--savetag", r.id};
  };
  c.resume_checkpoints = true;
  c.after = [grid_dir](GridRun& r) { find_experiment(grid_dir, r); };
  return c;
}

struct Options {
  std::string config, expdir = "./experiments", savetag, trainer, ll, resume;
  std::vector<std::string> sweeps, plugin_paths, gpus;
  int64_t li = 100;
  int tensorboard = -1;
  double timeout_s = 0;
  bool gpu = false, dry_run = false, lenient = false;
  grid::LauncherOptions launch;
};

std::optional<Options> parse(int argc, char** argv, bool gpu_alias) {
  Options o;
  std::string gpus;
  po::options_description desc("Options");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help and exit")
    ("config", po::value(&o.config),
     "the grid file: grid_tasks, grid_overwrite, grid_settings")
    ("expdir", po::value(&o.expdir)->default_value("./experiments"),
     "the grid folder is <expdir>_<YYYYMMDD_HHMMSS>[_<savetag>]")
    ("savetag", po::value(&o.savetag), "appended to the grid folder's name")
    ("trainer", po::value(&o.trainer),
     "the trainer of every run (beats grid_settings.trainer; default "
     "mip-offline-trainer): a name beside this program or on PATH, or a path")
    ("sweep", po::value(&o.sweeps)->composing(),
     "key=v1,v2,...: run every task with each value (repeatable: the "
     "Cartesian product)")
    ("dry-run", po::bool_switch(&o.dry_run),
     "list the runs and their command lines; write nothing")
    ("resume", po::value(&o.resume),
     "continue the grid in this folder: unfinished runs resume, failed ones "
     "run again, finished ones are kept")
    ("gpu", po::bool_switch(&o.gpu),
     "one CUDA device per child (CUDA_VISIBLE_DEVICES), never two children "
     "on one device")
    ("gpus", po::value(&gpus),
     "the devices to lease, e.g. 0,1 (implies --gpu; default: "
     "CUDA_VISIBLE_DEVICES, else every device the driver lists)")
    ("timeout", po::value(&o.timeout_s),
     "seconds a child may run (beats grid_settings.timeout); then SIGTERM, "
     "and it is failed (resumable)")
    ("tensorboard", po::value(&o.tensorboard),
     "passed to every trainer: 0, 1 or 2")
    ("ll", po::value(&o.ll), "console log level of the children (INFO, ...)")
    ("li", po::value(&o.li)->default_value(100),
     "children's console statistics line every N episodes")
    ("lenient", po::bool_switch(&o.lenient),
     "children warn about unknown configuration keys instead of failing")
    ("plugin-path", po::value(&o.plugin_paths)->composing(),
     "extra plugin folder for every child (repeatable)");
  // clang-format on
  // They beat grid_settings.launcher and grid_settings.slurm.
  grid::add_launcher_options(desc, o.launch, kTool);
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(kTool) + ": " + e.what() + " (see " + kTool +
                     " --help)");
  }
  if (vm.count("help")) {
    std::cout << "Usage: " << kTool
              << " --config grid.yaml [--sweep key=v1,v2 ...] [options]\n"
                 "       "
              << kTool
              << " --resume <grid folder>\n\n"
                 "Trains every run of a grid (tasks x sweep points x "
                 "repetitions), each in its own process\non its own cores "
                 "(or GPU); progress in <grid folder>/grid_status.yaml.\n\n"
              << desc
              << "\nExit codes: 0 every run finished; 1 some failed; 2 bad "
                 "command line;\n3 bad grid file; 130 stopped by Ctrl-C "
                 "(--resume continues).\nSee docs/grids.md.\n";
    return std::nullopt;
  }
  o.gpus = split_list(gpus, ',');
  o.gpu = o.gpu || gpu_alias || !o.gpus.empty();
  MIP_CHECK(!o.config.empty() || !o.resume.empty(), UsageError, kTool,
            ": give the grid file with --config grid.yaml, or --resume <grid "
            "folder>");
  MIP_CHECK(o.config.empty() || o.resume.empty(), UsageError, kTool,
            ": --config and --resume exclude each other (a grid resumes with "
            "the configuration it was started with)");
  MIP_CHECK(o.li > 0, UsageError, kTool, ": --li must be > 0, got ", o.li);
  MIP_CHECK(o.tensorboard >= -1 && o.tensorboard <= 2, UsageError, kTool,
            ": --tensorboard must be 0, 1 or 2, got ", o.tensorboard);
  MIP_CHECK(!vm.count("timeout") || o.timeout_s > 0, UsageError, kTool,
            ": --timeout must be > 0 seconds");
  check_savetag(o.savetag);
  if (!o.ll.empty())
    parse_log_level(o.ll);
  grid::check_launcher_options(kTool, o.launch);
  return o;
}

std::vector<std::string> flags_for_children(const Options& o) {
  std::vector<std::string> f = {"--li", std::to_string(o.li)};
  if (!o.ll.empty())
    f.insert(f.end(), {"--ll", o.ll});
  if (o.tensorboard >= 0)
    f.insert(f.end(), {"--tensorboard", std::to_string(o.tensorboard)});
  if (o.lenient)
    f.push_back("--lenient");
  for (const auto& p : o.plugin_paths)
    f.insert(f.end(), {"--plugin-path", fs::absolute(p).string()});
  return f;
}

int grid_trainer(int argc, char** argv, bool gpu_alias) {
  const auto parsed = parse(argc, argv, gpu_alias);
  if (!parsed)
    return kExitOk;
  const Options& o = *parsed;
  Logger& log = logger(kTool);
  if (!o.ll.empty())
    logging_set_console_level(parse_log_level(o.ll));
  GridStatus status;
  std::string grid_dir;
  std::vector<size_t> todo;
  if (!o.resume.empty()) {
    grid_dir = fs::absolute(o.resume).lexically_normal().string();
    todo = grid::resume_grid(kTool, "training", grid_dir, kStatusFile, o.launch,
                             status, log);
    if (o.timeout_s > 0)
      status.settings.timeout_s = o.timeout_s;
  } else {
    const GridFile g = read_grid_file(o.config);
    const std::string trainer = o.trainer.empty() ? g.trainer : o.trainer;
    status.settings.worker = grid::find_worker(
        trainer, o.trainer.empty() ? "grid_settings.trainer" : "--trainer");
    const std::vector<Planned> runs = plan(g, o.sweeps, log);
    status.settings.kind = "training";
    status.settings.grid_config = g.path;
    status.settings.max_concurrent_runs = g.max_concurrent_runs;
    status.settings.gpu = o.gpu;
    status.settings.gpus = o.gpus;
    status.settings.timeout_s = o.timeout_s > 0 ? o.timeout_s : g.timeout_s;
    status.settings.child_flags = flags_for_children(o);
    status.settings.launcher =
        !o.launch.launcher.empty()
            ? o.launch.launcher
            : (g.launcher.empty() ? "local" : g.launcher);
    status.settings.slurm = g.slurm;
    if (o.gpu && !g.gpus_set)
      status.settings.slurm.gpus_per_task = 1;
    grid::check_launcher_fits(kTool, o.launch, status.settings.launcher);
    if (status.settings.launcher == "slurm" && !o.dry_run)
      grid::require_slurm_tools();  // before the grid folder is made
    if (o.dry_run) {
      std::cout << runs.size() << " runs (" << g.tasks.size() << " tasks x "
                << runs.size() / (g.tasks.size() * g.repetitions)
                << " sweep points x " << g.repetitions
                << " repetitions); nothing written\n";
      for (const auto& p : runs) {
        std::cout << p.run.id << "  task " << p.run.task << "  repetition "
                  << p.run.repetition << "  seed " << p.run.seed;
        for (const auto& [k, v] : p.run.sweep)
          std::cout << "  " << k << "=" << v;
        std::cout << "\n  " << status.settings.worker << " "
                  << join_args(grid::child_args(
                         "<grid folder>", status.settings,
                         train_command("<grid folder>"), p.run, 1))
                  << "\n";
      }
      return kExitOk;
    }
    const fs::path expdir = fs::path(expand_user(o.expdir)).lexically_normal();
    const fs::path base = expdir.has_filename() ? expdir : expdir.parent_path();
    grid_dir = create_timestamped_dir(
        base.has_parent_path() ? base.parent_path().string() : ".",
        base.filename().string() + "_", o.savetag);
    grid_dir = fs::absolute(grid_dir).lexically_normal().string();
    fs::create_directories(fs::path(grid_dir) / "runs");
    write_file_atomic((fs::path(grid_dir) / "grid_configuration.yaml").string(),
                      read_text_file(g.path));
    for (const auto& p : runs) {
      write_file_atomic((fs::path(grid_dir) / p.run.configuration).string(),
                        p.yaml);
      status.runs.push_back(p.run);
      todo.push_back(todo.size());
    }
    log.info("grid folder " + grid_dir + ": " + std::to_string(runs.size()) +
             " runs of " + status.settings.worker);
  }
  status.settings.kind_tool = kTool;
  return grid::launch(grid_dir, kStatusFile, status, todo, o.launch,
                      train_command(grid_dir), log);
}

}  // namespace

int run_grid_trainer(int argc, char** argv, bool gpu_alias) {
  return grid::run_tool(kTool,
                        [&] { return grid_trainer(argc, argv, gpu_alias); });
}

}  // namespace mip
