#pragma once

// What mip-grid-trainer and mip-grid-tester share (internal to core).

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <mip/core/logging.hpp>
#include <mip/sdk/error.hpp>

#include "grid.hpp"

namespace mip::grid {

/// A bad command line (exit code 2).
struct UsageError : ConfigError {
  using ConfigError::ConfigError;
};

/// The greatest name of a folder in `dir` that starts with `prefix` and ends
/// with `suffix` (timestamped names: the newest), or "".
std::string newest_match(const std::filesystem::path& dir,
                         const std::string& prefix,
                         const std::string& suffix);

/// Runs the children `todo` of `status` on `slots`, writing `<grid>/<file>`
/// at every start and end; `args(i, slot)` gives child i's arguments,
/// `after(run)` completes its record when it ends (its folder, its cause).
/// Returns the grid's exit code: 0 all finished, 1 some failed, 130 stopped.
int drive(
    const std::string& grid_dir,
    const std::string& file,
    GridStatus& status,
    const std::vector<size_t>& todo,
    const std::vector<Slot>& slots,
    const std::function<std::vector<std::string>(size_t, const Slot&)>& args,
    const std::function<void(GridRun&)>& after,
    Logger& log);

/// Runs a grid tool's body: a UsageError exits 2, a ConfigError 3, any other
/// error 1, each logged.
int run_tool(const std::string& tool, const std::function<int()>& body);

}  // namespace mip::grid
