// mip-grid-analyzer: the command line; the CSV written atomically, the same
// table in Markdown on the console.
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>

#include <mip/core/files.hpp>
#include <mip/core/grid_analysis.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/text.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/error.hpp>

namespace fs = std::filesystem;

namespace mip {

namespace {

constexpr const char* kUsage =
    "Usage: mip-grid-analyzer <folder> [--output FILE] [--ll LEVEL]\n"
    "       mip-grid-analyzer --expdir <folder> ...   (MI-Prometheus's form)\n"
    "\n"
    "Gathers every experiment folder at or below <folder> (a grid, or any\n"
    "--expdir) into one CSV: one row per test of each experiment (one row\n"
    "for an experiment without a test), with the configuration values that\n"
    "differ between the experiments, the seeds, how each run ended, the\n"
    "training and validation statistics of its best model and the test\n"
    "results. The same table is printed in Markdown. Runs that failed, were\n"
    "killed or are still running appear with their state; a file that\n"
    "cannot be read is a warning naming it. Columns: docs/grids.md.\n\n"
    "  --output FILE   where to write the CSV\n"
    "                  (default: "
    "<folder>/<YYYYMMDD_HHMMSS>_grid_analysis.csv)\n"
    "  --ll LEVEL      console log level (info; warning hides the list of\n"
    "                  experiments)\n"
    "  --li N          accepted for MI-Prometheus's scripts; no effect\n"
    "  -h, --help      show this help\n";

std::string timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d_%H%M%S", &tm);
  return buf;
}

int usage_error(const std::string& message) {
  std::cerr << "mip-grid-analyzer: " << message << "\n\n" << kUsage;
  return kExitUsage;
}

}  // namespace

int run_grid_analyzer(int argc, char** argv) {
  std::string folder, output, level = "info";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return kExitOk;
    }
    const bool takes_value = a == "--output" || a == "--expdir" ||
                             a == "--ll" || a == "--log-level" || a == "--li";
    if (takes_value && i + 1 >= argc)
      return usage_error(a + " needs a value");
    if (a == "--output") {
      output = argv[++i];
    } else if (a == "--ll" || a == "--log-level") {
      level = argv[++i];
    } else if (a == "--li") {
      ++i;
    } else if (a == "--expdir" || (a.empty() || a[0] != '-')) {
      const std::string f = a == "--expdir" ? argv[++i] : a;
      if (!folder.empty())
        return usage_error("one folder only, got [" + folder + "] and [" + f +
                           "]");
      folder = f;
    } else {
      return usage_error("unknown option [" + a + "]");
    }
  }
  if (folder.empty())
    return usage_error("which folder? give the grid's folder");
  try {
    logging_set_console_level(parse_log_level(level));
  } catch (const Error& e) {
    return usage_error(std::string("--ll: ") + e.what());
  }
  Logger& log = logger("mip-grid-analyzer");
  try {
    const GridAnalysis a = analyze_grid(folder);
    const std::string path =
        output.empty()
            ? (fs::path(a.folder) / (timestamp() + "_grid_analysis.csv"))
                  .string()
            : fs::absolute(expand_user(output)).string();
    const fs::path parent = fs::path(path).parent_path();
    MIP_CHECK(fs::is_directory(parent), ConfigError,
              "mip-grid-analyzer: --output [", output, "]: folder [",
              parent.string(),
              "] does not exist; create it or choose another file");
    for (const auto& w : a.warnings)
      log.warn("cannot read " + w);
    write_file_atomic(path, analysis_csv(a));
    std::cout << analysis_markdown(a) << std::flush;
    log.info("Analysed " + std::to_string(a.experiments) + " experiment(s) (" +
             std::to_string(a.rows.size()) + " row(s)) under " + a.folder);
    log.info("Results stored in " + path);
    logging_flush();
    return kExitOk;
  } catch (const ConfigError& e) {
    log.error(e.what());
    logging_flush();
    return kExitConfig;
  } catch (const std::exception& e) {
    log.error(e.what());
    logging_flush();
    return kExitFailed;
  }
}

}  // namespace mip
