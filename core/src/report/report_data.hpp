#pragma once

// mip-report's reading side: what one experiment (or test) folder holds, as
// the page needs it. Internal to libmip_core.

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <mip/core/grid_analysis.hpp>

namespace mip::report {

/// One statistics file: its columns (the header) and their values.
struct Table {
  std::string file;     ///< the file's name in its folder
  std::string section;  ///< "training", "validation_set_agg", "testing", ...
  std::vector<std::string> columns;
  std::vector<std::vector<double>> values;  ///< one vector per column
  bool cut_last_line = false;  ///< a last row still being written was left out

  /// The column `name`, or nullptr.
  const std::vector<double>* column(const std::string& name) const;
  size_t rows() const { return values.empty() ? 0 : values[0].size(); }
};

/// A recorded tensor: its shape and values (NaN where not finite).
struct RecordedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<double> data;
};

/// One --visualize recording (visualization/<name>.json).
struct Recording {
  std::string file;
  std::string section, kind, model;
  int64_t episode = 0, batch = 0, sample = 0;
  std::vector<RecordedTensor> inputs, predictions, steps;
  std::vector<std::string> skipped;
};

/// An experiment folder (or a test folder inside one).
struct RunData {
  std::string dir;          ///< absolute
  std::string name;         ///< relative to the folder the report is of
  std::string config_file;  ///< training_configuration.yaml or testing_...
  std::string config_text;
  std::vector<std::pair<std::string, std::string>> status;  ///< in file order
  /// Other *.yaml files beside the configuration (provenance, ...).
  std::vector<std::pair<std::string, std::string>> other_yaml;
  std::vector<Table> tables;
  std::vector<RunData> tests;  ///< test_*/ folders
  std::vector<Recording> recordings;
  int64_t best_episode = -1;
  double best_loss = 0.0;
  /// The configuration's leaves as dotted keys and their values.
  std::vector<std::pair<std::string, std::string>> flat_config;

  /// The value of status.yaml's `key`, or "".
  std::string status_value(const std::string& key) const;
  /// The table of `section`, or nullptr.
  const Table* table(const std::string& section) const;
};

/// The leaves of the YAML file `path` as dotted keys ("a.b.c") and values
/// (a list as flow YAML), in file order; throws mip::DataError naming the
/// file and line of bad YAML.
std::vector<std::pair<std::string, std::string>> read_flat_yaml(
    const std::string& path);
/// Reads the statistics CSV `path` (section from its name).
Table read_table(const std::string& path);
/// Reads a visualization file.
Recording read_recording(const std::string& path);
/// Reads an experiment or test folder (tests and recordings included).
RunData read_run(const std::string& dir, const std::string& name);
/// The experiment or test folders at or below `folder` (not below one
/// another, except the tests their runs hold); throws mip::ConfigError when
/// there is none.
std::vector<std::string> find_runs(const std::string& folder);
/// Appends to `out` the folders at or below `dir` (up to `depth` levels
/// down, symbolic links not followed, sorted by name) that are `wanted`;
/// the search does not go below a wanted folder.
void find_folders(const std::string& dir,
                  int depth,
                  const std::function<bool(const std::string&)>& wanted,
                  std::vector<std::string>& out);
/// True when `dir` holds training_configuration.yaml or
/// testing_configuration.yaml.
bool is_run_folder(const std::string& dir);

/// The page (HTML) of the runs found in `title`'s folder; several runs get
/// `analysis` (their folder's) as a sortable table.
std::string render_page(const std::string& title,
                        const std::vector<RunData>& runs,
                        const GridAnalysis* analysis);

}  // namespace mip::report
