#pragma once

// Helpers of the grid workers' tests: a grid folder, the runs of its
// status file, waiting for a state, a grid worker started in the background
// and the processes of its children.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/test_util.hpp"

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

/// Starts `argv` with its output in `log`; returns its pid.
inline pid_t spawn(const std::vector<std::string>& args,
                   const std::string& log) {
  std::vector<char*> argv;
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

/// Waits for `pid`; its exit code (128 + signal when killed).
inline int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// The pid of the running child whose command line holds `--savetag <id>`
/// under `grid` (0 when none).
inline pid_t child_pid(const std::filesystem::path& grid,
                       const std::string& id) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::string cmd = read(e.path() / "cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find("--savetag " + id) != std::string::npos &&
        cmd.find(grid.string()) != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return 0;
}

/// Whether an experiment folder of run `id` (any run with "") under `grid`
/// holds models/model_last.pt.
inline bool has_checkpoint(const std::filesystem::path& grid,
                           const std::string& id = "") {
  std::error_code ec;
  for (auto e = std::filesystem::recursive_directory_iterator(grid, ec);
       !ec && e != std::filesystem::recursive_directory_iterator();
       e.increment(ec))
    if (e->path().filename() == "model_last.pt" &&
        (id.empty() ||
         e->path().string().find("_" + id + "/") != std::string::npos))
      return true;
  return false;
}

}  // namespace mip::test
