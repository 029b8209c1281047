#pragma once

// mip-grid-analyzer: one table of a folder tree of experiments (a grid, or
// any folder holding experiment folders as the workers write them), one row
// per test. The columns and their order are documented in docs/grids.md
// ("Analysing a grid"). No LibTorch: it reads the YAML and CSV files.

#include <string>
#include <vector>

namespace mip {

/// The analysis of a folder tree: its header, one row per test (per
/// experiment without a test), and a warning per file it could not read.
struct GridAnalysis {
  std::string folder;  ///< the folder analysed (absolute)
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;  ///< as many cells as columns
  std::vector<std::string> warnings;           ///< "<file>:<line>: what"
  size_t experiments = 0;

  /// The column `name`'s index, or -1.
  int column(const std::string& name) const;
};

/// Analyses every experiment folder (holding training_configuration.yaml)
/// at or below `folder`; throws mip::ConfigError when there is none. A file
/// it cannot read is a warning, never an error: its row keeps what was read.
GridAnalysis analyze_grid(const std::string& folder);

/// The analysis as CSV (RFC 4180: cells holding a comma, a quote or a line
/// break are quoted).
std::string analysis_csv(const GridAnalysis& a);

/// The analysis as a Markdown table.
std::string analysis_markdown(const GridAnalysis& a);

/// mip-grid-analyzer's command line.
int run_grid_analyzer(int argc, char** argv);

}  // namespace mip
