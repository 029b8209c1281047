// mip-report: the command line, and the page written atomically.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <mip/core/files.hpp>
#include <mip/core/report.hpp>
#include <mip/core/text.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/error.hpp>

#include "report_data.hpp"

namespace fs = std::filesystem;

namespace mip {

namespace {

constexpr const char* kUsage =
    "Usage: mip-report <folder> [--output FILE]\n\n"
    "Writes one static HTML page (no network, nothing fetched) of an\n"
    "experiment folder, a test folder, or a folder holding several\n"
    "experiments (a grid): curves of every statistic of every section with\n"
    "the best model marked, status, configuration, other YAML files beside\n"
    "it (provenance), test results, and what --visualize recorded as heat\n"
    "maps with a time slider. Several runs get one table and overlaid\n"
    "curves.\n\n"
    "  --output FILE   where to write (default: <folder>/report.html)\n"
    "  -h, --help      show this help\n";

}  // namespace

std::string write_report(const std::string& folder, const std::string& output) {
  const std::vector<std::string> found = report::find_runs(folder);
  const fs::path root = fs::canonical(fs::path(expand_user(folder)));
  std::vector<report::RunData> runs;
  for (const auto& dir : found) {
    std::string name = fs::relative(dir, root).generic_string();
    if (name == ".")
      name = root.filename().string();
    runs.push_back(report::read_run(dir, name));
  }
  const std::string title =
      "MI-Prometheus report: " + root.string() +
      (runs.size() > 1 ? " (" + std::to_string(runs.size()) + " runs)" : "");
  std::optional<GridAnalysis> analysis;
  const bool trainings =
      std::any_of(runs.begin(), runs.end(), [](const report::RunData& r) {
        return r.config_file == "training_configuration.yaml";
      });
  if (runs.size() > 1 && trainings)  // not only test folders
    analysis = analyze_grid(root.string());
  const std::string path = output.empty()
                               ? (root / "report.html").string()
                               : fs::absolute(expand_user(output)).string();
  const fs::path parent = fs::path(path).parent_path();
  MIP_CHECK(fs::is_directory(parent), ConfigError, "mip-report: --output [",
            output, "]: folder [", parent.string(),
            "] does not exist; create it or choose another file");
  write_file_atomic(
      path, report::render_page(title, runs, analysis ? &*analysis : nullptr));
  return path;
}

int run_report(int argc, char** argv) {
  std::string folder, output;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return kExitOk;
    }
    if (a == "--output" || a.rfind("--output=", 0) == 0) {
      if (a == "--output") {
        if (i + 1 >= argc) {
          std::cerr << "mip-report: --output needs a file name\n\n" << kUsage;
          return kExitUsage;
        }
        output = argv[++i];
      } else {
        output = a.substr(9);
      }
    } else if (!a.empty() && a[0] == '-') {
      std::cerr << "mip-report: unknown option [" << a << "]\n\n" << kUsage;
      return kExitUsage;
    } else if (folder.empty()) {
      folder = a;
    } else {
      std::cerr << "mip-report: one folder only, got [" << folder << "] and ["
                << a << "]\n\n"
                << kUsage;
      return kExitUsage;
    }
  }
  if (folder.empty()) {
    std::cerr << "mip-report: which folder?\n\n" << kUsage;
    return kExitUsage;
  }
  try {
    std::cout << "Report written to " << write_report(folder, output) << "\n";
    return kExitOk;
  } catch (const ConfigError& e) {
    std::cerr << e.what() << "\n";
    return kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "mip-report: " << e.what() << "\n";
    return kExitFailed;
  }
}

}  // namespace mip
