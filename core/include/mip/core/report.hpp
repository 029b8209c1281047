#pragma once

// mip-report: one static HTML page (inline SVG and CSS, a few lines of
// inline JavaScript for the time sliders, nothing fetched) for an
// experiment folder, a test folder, or a folder holding several experiments
// (a grid). No LibTorch: it reads the CSV, YAML and visualization files.

#include <string>

namespace mip {

/// Writes the report of `folder` to `output` ("" : <folder>/report.html),
/// atomically; returns the path written. Throws mip::ConfigError for a
/// folder that is not an experiment and holds none, mip::DataError naming
/// the file (and line) of a file it cannot read.
std::string write_report(const std::string& folder, const std::string& output);

/// mip-report's command line.
int run_report(int argc, char** argv);

}  // namespace mip
