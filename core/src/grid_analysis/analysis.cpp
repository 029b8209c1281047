// mip-grid-analyzer: reading a folder tree of experiments into one table.
// Every file is read on its own: one that cannot be read is a warning and
// its cells stay empty, so a grid with crashed or damaged runs is analysed
// whole.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include <mip/core/grid_analysis.hpp>
#include <mip/core/text.hpp>
#include <mip/sdk/error.hpp>

#include "../report/report_data.hpp"

namespace fs = std::filesystem;

namespace mip {

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kTrainingConfig = "training_configuration.yaml";
constexpr const char* kTestingConfig = "testing_configuration.yaml";
/// How deep the search looks below the folder given (a grid holds
/// <grid>/<problem>/<model>/<time>/, a grid of grids one level more).
constexpr int kSearchDepth = 8;

/// A test folder of an experiment.
struct TestRun {
  std::string name;  ///< relative to its experiment
  Pairs config;      ///< testing_configuration.yaml, flattened
  Pairs status;      ///< status.yaml, flattened
  Pairs results;     ///< the last row of testing_set_agg_statistics.csv
};

/// An experiment folder.
struct Experiment {
  std::string name;  ///< relative to the folder analysed
  Pairs config;      ///< training_configuration.yaml, flattened
  Pairs status;      ///< status.yaml, flattened
  std::string state, cause;
  Pairs training, validation;  ///< statistics of the best model
  std::vector<TestRun> tests;
};

std::string value_of(const Pairs& pairs, const std::string& key) {
  for (const auto& [k, v] : pairs)
    if (k == key)
      return v;
  return "";
}

/// A number as the table shows it: integers without padding, others with
/// ten significant digits.
std::string number_text(double v) {
  if (!std::isfinite(v))
    return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

/// A number read from YAML as the statistics files' numbers are shown;
/// anything else as it is.
std::string normalized(const std::string& v) {
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  return !v.empty() && *end == '\0' ? number_text(d) : v;
}

/// Reads a flattened YAML file; a warning (and nothing) when it cannot.
Pairs read_yaml(const fs::path& path, GridAnalysis& out) {
  try {
    return report::read_flat_yaml(path.string());
  } catch (const std::exception& e) {
    out.warnings.push_back(e.what());
    return {};
  }
}

/// Reads a statistics CSV; nullopt-like empty table and a warning when it
/// cannot (a missing file is no warning: a run may not have written it).
report::Table read_csv(const fs::path& path, GridAnalysis& out) {
  if (!fs::is_regular_file(path))
    return {};
  try {
    return report::read_table(path.string());
  } catch (const std::exception& e) {
    out.warnings.push_back(e.what());
    return {};
  }
}

/// The statistics of row `row` of `t`, "episode" left out (the best
/// episode has its own column).
Pairs row_of(const report::Table& t, size_t row) {
  Pairs p;
  for (size_t c = 0; c < t.columns.size(); ++c)
    if (t.columns[c] != "episode")
      p.emplace_back(t.columns[c], number_text(t.values[c][row]));
  return p;
}

/// The last row of `t` at `episode` ({} when none).
Pairs row_at_episode(const report::Table& t, double episode) {
  const auto* e = t.column("episode");
  if (!e)
    return {};
  for (size_t r = e->size(); r-- > 0;)
    if ((*e)[r] == episode)
      return row_of(t, r);
  return {};
}

/// True when a process holds the experiment's lock (.lock, taken by the
/// workers for a run's life; the kernel drops it when the process dies).
bool lock_held(const fs::path& dir) {
  const int fd = ::open((dir / ".lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  const bool free = ::flock(fd, LOCK_SH | LOCK_NB) == 0;
  if (free)
    ::flock(fd, LOCK_UN);
  ::close(fd);
  return !free;
}

Experiment read_experiment(const fs::path& dir,
                           const std::string& name,
                           GridAnalysis& out) {
  Experiment x;
  x.name = name;
  x.config = read_yaml(dir / kTrainingConfig, out);
  const fs::path status = dir / "status.yaml";
  if (fs::is_regular_file(status)) {
    x.status = read_yaml(status, out);
    x.state = value_of(x.status, "state");
    x.cause = value_of(x.status, "terminal_cause");
    if (x.state.empty()) {
      x.state = "unknown";
      x.cause = "status.yaml could not be read";
    }
    if (x.state == "running" && !lock_held(dir)) {
      x.state = "killed";
      x.cause =
          "status.yaml says running, but no process holds the folder's lock: "
          "the run was killed or crashed (--resume continues it)";
    }
  } else {
    x.state = "unknown";
    x.cause = "no status.yaml";
    out.warnings.push_back(status.string() +
                           ": missing; the run ended before it started "
                           "training, or was not written by our workers");
  }

  // The best model: its episode, and the statistics of that episode.
  const std::string best = value_of(x.status, "best_episode");
  char* end = nullptr;
  const double episode = std::strtod(best.c_str(), &end);
  if (!best.empty() && *end == '\0' && episode >= 0) {
    x.training =
        row_at_episode(read_csv(dir / "training_statistics.csv", out), episode);
    // The statistics model_best.pt was saved on, as the run's summary
    // holds them; a run that did not end has none: its validation files.
    const std::string prefix = "summary.best_statistics.";
    for (const auto& [k, v] : x.status)
      if (k.rfind(prefix, 0) == 0 && k != prefix + "episode")
        x.validation.emplace_back(k.substr(prefix.size()), normalized(v));
    for (const char* f :
         {"validation_set_agg_statistics.csv", "validation_statistics.csv"})
      if (x.validation.empty())
        x.validation = row_at_episode(read_csv(dir / f, out), episode);
  }

  std::vector<fs::path> subdirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && !e.is_symlink(ec) &&
        fs::is_regular_file(e.path() / kTestingConfig))
      subdirs.push_back(e.path());
  std::sort(subdirs.begin(), subdirs.end());  // test_<time>: oldest first
  for (const auto& t : subdirs) {
    TestRun test;
    test.name = t.filename().string();
    test.config = read_yaml(t / kTestingConfig, out);
    if (fs::is_regular_file(t / "status.yaml"))
      test.status = read_yaml(t / "status.yaml", out);
    const report::Table agg =
        read_csv(t / "testing_set_agg_statistics.csv", out);
    if (agg.rows() > 0)
      test.results = row_of(agg, agg.rows() - 1);
    x.tests.push_back(std::move(test));
  }
  return x;
}

/// Adds the names of `pairs` not yet in `names`, in their order.
void add_names(const Pairs& pairs, std::vector<std::string>& names) {
  for (const auto& [k, v] : pairs)
    if (std::find(names.begin(), names.end(), k) == names.end())
      names.push_back(k);
}

bool is_seed_key(const std::string& key) {
  for (const char* s : {".seed_torch", ".seed_numpy"})
    if (key.size() > std::string(s).size() &&
        key.compare(key.size() - std::string(s).size(), std::string::npos, s) ==
            0)
      return true;
  return false;
}

/// The configuration keys whose values differ between the experiments
/// (or that only some have), sorted; seeds and the names of the training
/// problem and the model have columns of their own.
std::vector<std::string> differing_keys(const std::vector<Experiment>& xs) {
  std::map<std::string, std::set<std::string>> values;
  std::map<std::string, size_t> present;
  for (const auto& x : xs)
    for (const auto& [k, v] : x.config) {
      values[k].insert(v);
      ++present[k];
    }
  std::vector<std::string> keys;
  for (const auto& [k, vs] : values)  // a std::map: sorted
    if ((vs.size() > 1 || present[k] != xs.size()) && !is_seed_key(k) &&
        k != "training.problem.name" && k != "model.name")
      keys.push_back(k);
  return keys;
}

}  // namespace

int GridAnalysis::column(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name)
      return static_cast<int>(i);
  return -1;
}

GridAnalysis analyze_grid(const std::string& folder) {
  const fs::path given(expand_user(folder));
  MIP_CHECK(fs::is_directory(given), ConfigError, "mip-grid-analyzer: [",
            folder, "] ",
            fs::exists(given) ? "is not a folder" : "does not exist",
            "; give the folder of a grid (or any folder holding experiment "
            "folders)");
  GridAnalysis out;
  const fs::path root = fs::canonical(given);
  out.folder = root.string();
  std::vector<std::string> dirs;
  report::find_folders(
      root.string(), kSearchDepth,
      [](const std::string& d) {
        return fs::is_regular_file(fs::path(d) / kTrainingConfig);
      },
      dirs);
  MIP_CHECK(!dirs.empty(), ConfigError, "mip-grid-analyzer: [", folder,
            "] holds no experiment folder (one with ", kTrainingConfig,
            ") up to ", kSearchDepth,
            " levels below; give the folder a grid or a trainer's --expdir "
            "wrote");
  std::vector<Experiment> xs;
  for (const auto& d : dirs) {
    std::string name = fs::relative(d, root).generic_string();
    if (name == ".")
      name = root.filename().string();
    xs.push_back(read_experiment(d, name, out));
  }
  out.experiments = xs.size();

  // The columns, in their documented order.
  const std::vector<std::string> keys = differing_keys(xs);
  std::vector<std::string> training, validation, test;
  for (const auto& x : xs) {
    add_names(x.training, training);
    add_names(x.validation, validation);
    for (const auto& t : x.tests)
      add_names(t.results, test);
  }
  auto& c = out.columns;
  c = {"experiment", "problem", "model"};
  c.insert(c.end(), keys.begin(), keys.end());
  for (const char* s :
       {"training_seed_torch", "training_seed_numpy", "state", "terminal_cause",
        "episode", "epoch", "best_episode", "best_validation_loss"})
    c.push_back(s);
  for (const auto& s : training)
    c.push_back("training_" + s);
  for (const auto& s : validation)
    c.push_back("validation_" + s);
  for (const char* s :
       {"test", "test_state", "test_seed_torch", "test_seed_numpy"})
    c.push_back(s);
  for (const auto& s : test)
    c.push_back("test_" + s);

  for (const auto& x : xs) {
    std::vector<std::string> row = {x.name,
                                    value_of(x.config, "training.problem.name"),
                                    value_of(x.config, "model.name")};
    for (const auto& k : keys)
      row.push_back(value_of(x.config, k));
    row.push_back(value_of(x.config, "training.seed_torch"));
    row.push_back(value_of(x.config, "training.seed_numpy"));
    row.push_back(x.state);
    row.push_back(x.cause);
    for (const char* k :
         {"episode", "epoch", "best_episode", "best_validation_loss"})
      row.push_back(normalized(value_of(x.status, k)));
    if (value_of(x.status, "best_episode") == "-1")  // no best model yet
      row[row.size() - 2] = row[row.size() - 1] = "";
    for (const auto& s : training)
      row.push_back(value_of(x.training, s));
    for (const auto& s : validation)
      row.push_back(value_of(x.validation, s));
    const size_t experiment_cells = row.size();
    if (x.tests.empty()) {
      row.resize(c.size());
      out.rows.push_back(row);
      continue;
    }
    for (const auto& t : x.tests) {
      row.resize(experiment_cells);
      row.push_back(t.name);
      row.push_back(value_of(t.status, "state"));
      row.push_back(value_of(t.config, "testing.seed_torch"));
      row.push_back(value_of(t.config, "testing.seed_numpy"));
      for (const auto& s : test)
        row.push_back(value_of(t.results, s));
      out.rows.push_back(row);
    }
  }
  return out;
}

std::string analysis_csv(const GridAnalysis& a) {
  const auto cell = [](const std::string& v) {
    if (v.find_first_of(",\"\r\n") == std::string::npos)
      return v;
    std::string q = "\"";
    for (const char ch : v)
      q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return q + "\"";
  };
  std::string s;
  const auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i)
      s += (i ? "," : "") + cell(cells[i]);
    s += "\n";
  };
  line(a.columns);
  for (const auto& r : a.rows)
    line(r);
  return s;
}

std::string analysis_markdown(const GridAnalysis& a) {
  const auto cell = [](const std::string& v) {
    std::string out;
    for (const char ch : v) {
      if (ch == '|')
        out += "\\|";
      else if (ch == '\n' || ch == '\r')
        out += ' ';
      else
        out += ch;
    }
    return out;
  };
  std::string s;
  const auto line = [&](const std::vector<std::string>& cells) {
    s += "|";
    for (const auto& v : cells)
      s += " " + cell(v) + " |";
    s += "\n";
  };
  line(a.columns);
  s += "|";
  for (size_t i = 0; i < a.columns.size(); ++i)
    s += " --- |";
  s += "\n";
  for (const auto& r : a.rows)
    line(r);
  return s;
}

}  // namespace mip
