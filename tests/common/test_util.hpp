#pragma once

// Small helpers shared by the tests: temporary folders, files, processes.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <mip/sdk/error.hpp>

/// Expects `part` inside the string `text`, printing both when it is not.
#define EXPECT_HAS(text, part)                    \
  EXPECT_NE((text).find(part), std::string::npos) \
      << "[" << (text) << "] lacks [" << (part) << "]"

namespace mip::test {

/// A fresh folder under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  /// A new folder in `under`, or in the system's temporary folder.
  explicit TempDir(const std::filesystem::path& under = {}) {
    std::string tmpl =
        ((under.empty() ? std::filesystem::temp_directory_path() : under) /
         "mip-test-XXXXXX")
            .string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    if (!::testing::Test::HasFailure())
      std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  /// Writes `content` to `name` (folders created) and returns the full path.
  std::string write(const std::string& name, const std::string& content) const {
    const auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << content;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

/// Reads a whole file.
inline std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The message of the mip::Error that `f` throws, or "(no error)".
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

/// Number of lines of a text file.
/// How many times `part` occurs in `text`, not overlapping (Python's
/// str.count).
inline size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + part.size()))
    ++n;
  return n;
}

inline size_t lines(const std::filesystem::path& p) {
  const std::string s = read(p);
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

/// The only experiment folder (holding `marker`) under `root`; the test
/// fails when there is not exactly one.
inline std::filesystem::path only_experiment(
    const std::filesystem::path& root,
    const std::string& marker = "status.yaml") {
  std::vector<std::filesystem::path> found;
  if (std::filesystem::exists(root))
    for (const auto& e : std::filesystem::recursive_directory_iterator(root))
      if (e.is_regular_file() && e.path().filename() == marker)
        found.push_back(e.path().parent_path());
  EXPECT_EQ(found.size(), 1u) << "experiment folders under " << root;
  return found.empty() ? std::filesystem::path() : found[0];
}

/// Rows of a CSV file split on commas, the header first.
inline std::vector<std::vector<std::string>> csv_rows(
    const std::filesystem::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::stringstream in(read(p));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ','))
      cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

/// Result of a child process.
struct RunResult {
  int code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs a shell command, capturing its output and exit code.
inline RunResult run(const std::string& command) {
  RunResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe)
    return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0)
    r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace mip::test
