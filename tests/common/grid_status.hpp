#pragma once

// Helpers of the grid trainer's tests: a grid folder, the runs of its
// status file, waiting for a state.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

namespace mip::test {

/// A grid folder `<root>/exp_*`, or an empty path while there is none.
inline std::filesystem::path started_grid(const std::filesystem::path& root) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root, ec))
    if (e.path().filename().string().rfind("exp_", 0) == 0)
      return e.path();
  return {};
}

/// The runs of a grid status file, by id.
inline std::map<std::string, YAML::Node> runs_of(
    const std::filesystem::path& file) {
  std::map<std::string, YAML::Node> runs;
  const YAML::Node list = YAML::LoadFile(file.string())["runs"];
  for (size_t k = 0; k < list.size(); ++k)
    runs.emplace(list[k]["id"].as<std::string>(), list[k]);
  return runs;
}

/// Waits up to `seconds` for `done()`.
template <typename F>
bool wait_until(F&& done, double seconds) {
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (done())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace mip::test
