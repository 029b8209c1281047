// mip-report: reading experiment folders (statistics CSV files, status.yaml,
// the configuration, other YAML files, test folders, visualization files).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <sstream>

#include <mip/core/files.hpp>
#include <mip/core/text.hpp>
#include <mip/sdk/error.hpp>

#include "report_data.hpp"

namespace fs = std::filesystem;

namespace mip::report {

namespace {

constexpr const char* kTrainingConfig = "training_configuration.yaml";
constexpr const char* kTestingConfig = "testing_configuration.yaml";
constexpr const char* kStatsSuffix = "_statistics.csv";
/// How deep find_runs() looks below the folder given (a grid holds
/// <grid>/<problem>/<model>/<time>/).
constexpr int kSearchDepth = 6;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// A CSV cell as a number; throws naming the file, line and column.
double cell_value(const std::string& cell,
                  const std::string& path,
                  size_t line,
                  const std::string& column) {
  const std::string t = trim(cell);
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  MIP_CHECK(!t.empty() && end == t.c_str() + t.size(), DataError, path, ":",
            line, ": column [", column, "] holds '", t,
            "', not a number; the statistics files hold numbers only (was "
            "the file edited? its other rows are intact)");
  return v;
}

/// Flattens a YAML tree into dotted keys.
void flatten(const YAML::Node& node,
             const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node)
      flatten(
          kv.second,
          prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar(),
          out);
  } else if (node.IsScalar()) {
    out.emplace_back(prefix, node.Scalar());
  } else if (node.IsSequence()) {
    YAML::Emitter e;
    e << YAML::Flow << node;
    out.emplace_back(prefix, e.c_str());
  }
}

/// The YAML in `path`, or an error naming it and the line.
YAML::Node load_yaml(const std::string& path) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw DataError(path + ":" + std::to_string(e.mark.line + 1) + ": " +
                    e.msg + " (not valid YAML/JSON)");
  }
}

std::vector<RecordedTensor> read_tensors(const YAML::Node& list,
                                         const std::string& path,
                                         const std::string& key) {
  std::vector<RecordedTensor> out;
  MIP_CHECK(!list || list.IsSequence(), DataError, path, ": [", key,
            "] must be a list of tensors");
  if (!list)
    return out;
  for (const auto& n : list) {
    RecordedTensor t;
    MIP_CHECK(n.IsMap() && n["name"] && n["shape"] && n["data"], DataError,
              path, ":", n.Mark().line + 1, ": a tensor of [", key,
              "] needs name, shape and data");
    t.name = n["name"].as<std::string>();
    int64_t count = 1;
    for (const auto& d : n["shape"]) {
      t.shape.push_back(d.as<int64_t>());
      count *= t.shape.back();
    }
    const YAML::Node data = n["data"];
    t.data.reserve(data.size());
    for (const auto& v : data)
      t.data.push_back(v.IsNull() ? std::numeric_limits<double>::quiet_NaN()
                                  : v.as<double>());
    MIP_CHECK(static_cast<int64_t>(t.data.size()) == count, DataError, path,
              ": tensor [", t.name, "] has ", t.data.size(),
              " values for its shape's ", count);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

const std::vector<double>* Table::column(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name)
      return &values[i];
  return nullptr;
}

std::string RunData::status_value(const std::string& key) const {
  for (const auto& [k, v] : status)
    if (k == key)
      return v;
  return "";
}

const Table* RunData::table(const std::string& section) const {
  for (const auto& t : tables)
    if (t.section == section)
      return &t;
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> read_flat_yaml(
    const std::string& path) {
  std::vector<std::pair<std::string, std::string>> out;
  flatten(load_yaml(path), "", out);
  return out;
}

Table read_table(const std::string& path) {
  Table t;
  t.file = fs::path(path).filename().string();
  t.section =
      t.file.substr(0, t.file.size() - std::string(kStatsSuffix).size());
  const std::string text = read_text_file(path);
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line))
    return t;  // empty: the run has not written its header yet
  t.columns = split(trim(line), ',');
  for (auto& c : t.columns)
    c = trim(c);
  t.values.resize(t.columns.size());
  size_t number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (trim(line).empty())
      continue;
    const bool last = in.peek() == std::char_traits<char>::eof();
    const std::vector<std::string> cells = split(line, ',');
    if (cells.size() != t.columns.size() && last && text.back() != '\n') {
      t.cut_last_line = true;  // a row being written while we read
      break;
    }
    MIP_CHECK(cells.size() == t.columns.size(), DataError, path, ":", number,
              ": ", cells.size(), " cells, but the header names ",
              t.columns.size(), " columns");
    for (size_t c = 0; c < cells.size(); ++c)
      t.values[c].push_back(cell_value(cells[c], path, number, t.columns[c]));
  }
  return t;
}

Recording read_recording(const std::string& path) {
  const YAML::Node root = load_yaml(path);
  MIP_CHECK(root.IsMap() && root["format"] &&
                root["format"].as<std::string>() == "mip-visualization",
            DataError, path,
            ": not a visualization file of mip --visualize (no \"format\": "
            "\"mip-visualization\")");
  Recording r;
  r.file = fs::path(path).filename().string();
  try {
    r.section = root["section"].as<std::string>();
    r.kind = root["kind"].as<std::string>();
    r.model = root["model"] ? root["model"].as<std::string>() : "";
    r.episode = root["episode"].as<int64_t>();
    r.batch = root["batch"].as<int64_t>();
    r.sample = root["sample"].as<int64_t>();
    r.inputs = read_tensors(root["inputs"], path, "inputs");
    r.predictions = read_tensors(root["predictions"], path, "predictions");
    r.steps = read_tensors(root["steps"], path, "steps");
    if (root["skipped"])
      for (const auto& s : root["skipped"])
        r.skipped.push_back(s.as<std::string>());
  } catch (const YAML::Exception& e) {
    throw DataError(path + ":" + std::to_string(e.mark.line + 1) + ": " +
                    e.msg +
                    " (a visualization file needs section, kind, "
                    "episode, batch, sample, inputs, predictions and steps)");
  }
  return r;
}

bool is_run_folder(const std::string& dir) {
  return fs::is_regular_file(fs::path(dir) / kTrainingConfig) ||
         fs::is_regular_file(fs::path(dir) / kTestingConfig);
}

RunData read_run(const std::string& dir, const std::string& name) {
  RunData run;
  run.dir = dir;
  run.name = name;
  const fs::path d(dir);
  run.config_file = fs::is_regular_file(d / kTrainingConfig) ? kTrainingConfig
                                                             : kTestingConfig;
  const std::string config = (d / run.config_file).string();
  run.config_text = read_text_file(config);
  run.flat_config = read_flat_yaml(config);

  const fs::path status = d / "status.yaml";
  if (fs::is_regular_file(status)) {
    const YAML::Node s = load_yaml(status.string());
    if (s.IsMap())
      for (const auto& kv : s)
        if (kv.second.IsScalar())
          run.status.emplace_back(kv.first.Scalar(), kv.second.Scalar());
    if (const std::string e = run.status_value("best_episode"); !e.empty())
      run.best_episode = std::atoll(e.c_str());
    if (const std::string l = run.status_value("best_validation_loss");
        !l.empty())
      run.best_loss = std::atof(l.c_str());
  }

  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(d))
    entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  for (const auto& p : entries) {
    const std::string f = p.filename().string();
    if (!fs::is_regular_file(p) || f.find(".tmp.") != std::string::npos)
      continue;
    if (ends_with(f, kStatsSuffix))
      run.tables.push_back(read_table(p.string()));
    else if (ends_with(f, ".yaml") && f != run.config_file &&
             f != "status.yaml")
      run.other_yaml.emplace_back(f, read_text_file(p.string()));
  }
  for (const auto& p : entries)
    if (fs::is_directory(p) && p.filename().string().rfind("test_", 0) == 0 &&
        is_run_folder(p.string()))
      run.tests.push_back(
          read_run(p.string(), name + "/" + p.filename().string()));
  const fs::path vis = d / "visualization";
  if (fs::is_directory(vis)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(vis))
      if (e.path().extension() == ".json" &&
          e.path().filename().string().find(".tmp.") == std::string::npos)
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      run.recordings.push_back(read_recording(f.string()));
  }
  return run;
}

void find_folders(const std::string& dir,
                  int depth,
                  const std::function<bool(const std::string&)>& wanted,
                  std::vector<std::string>& out) {
  if (wanted(dir)) {
    out.push_back(dir);
    return;
  }
  if (depth == 0)
    return;
  std::vector<fs::path> subdirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && !e.is_symlink(ec))
      subdirs.push_back(e.path());
  std::sort(subdirs.begin(), subdirs.end());
  for (const auto& s : subdirs)
    find_folders(s.string(), depth - 1, wanted, out);
}

std::vector<std::string> find_runs(const std::string& folder) {
  const fs::path dir(expand_user(folder));
  MIP_CHECK(fs::exists(dir), ConfigError, "mip-report: [", folder,
            "] does not exist; give an experiment folder "
            "(<expdir>/<problem>/<model>/<time>) or a folder holding several");
  MIP_CHECK(fs::is_directory(dir), ConfigError, "mip-report: [", folder,
            "] is a file; give an experiment folder (the folder holding "
            "training_configuration.yaml) or a folder holding several");
  std::vector<std::string> runs;
  find_folders(fs::canonical(dir).string(), kSearchDepth, is_run_folder, runs);
  MIP_CHECK(!runs.empty(), ConfigError, "mip-report: [", folder,
            "] is not an experiment folder (no ", kTrainingConfig, " or ",
            kTestingConfig, ") and holds none up to ", kSearchDepth,
            " levels below; give a folder written by mip-online-trainer, "
            "mip-offline-trainer or mip-tester, or one holding several (a "
            "grid)");
  return runs;
}

}  // namespace mip::report
