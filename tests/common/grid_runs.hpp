#pragma once

// A small grid as a grid trainer leaves it, made by the real workers: two
// learning rates x two seeds of serial recall, tests of some experiments,
// and one run killed mid-training. Used by the analyzer's and the report's
// tests.

#include <string>
#include <vector>

#include "common/worker_runs.hpp"

namespace mip::test {

inline const std::string kGridAnalyzer = kBin + "/mip-grid-analyzer";

/// Rows of a CSV file (RFC 4180 quoting), the header first.
inline std::vector<std::vector<std::string>> quoted_csv_rows(
    const fs::path& p) {
  const std::string text = read(p);
  std::vector<std::vector<std::string>> rows(1);
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        cell += text[++i];
      else if (c == '"')
        quoted = false;
      else
        cell += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(cell);
      cell.clear();
    } else if (c == '\n') {
      rows.back().push_back(cell);
      cell.clear();
      rows.emplace_back();
    } else {
      cell += c;
    }
  }
  if (rows.back().empty())
    rows.pop_back();
  return rows;
}

/// The experiment folders of a grid made by make_grid(), in creation order.
struct Grid {
  fs::path root;
  std::vector<fs::path> runs;  ///< lr 0.01 s1, 0.01 s2, 0.003 s1, 0.003 s2
  fs::path killed;             ///< lr 0.01 s3, SIGKILL after episode 15
};

/// A grid under `d`/grid: 30 episodes each, validated every 10. Runs 0 and 3
/// are tested (run 0 twice, the second time on 128 samples); the killed run
/// too (its best model so far).
inline Grid make_grid(const TempDir& d) {
  Grid g;
  g.root = d.path() / "grid";
  const auto train = [&](const std::string& lr, const std::string& seed,
                         const std::string& env) {
    const std::string tag = "lr" + lr + "_s" + seed;
    const RunResult r =
        run(env + kOnline + " --config " + kSerialRecall + " --expdir " +
            g.root.string() + " --savetag " + tag + " --seed " + seed +
            " --set training.optimizer.lr=" + lr +
            " --set training.terminal_conditions.episode_limit=30"
            " --set validation.partial_validation_interval=10 --li 10");
    for (const auto& e : fs::recursive_directory_iterator(g.root))
      if (e.is_directory() &&
          e.path().filename().string().size() > tag.size() &&
          e.path().filename().string().substr(
              e.path().filename().string().size() - tag.size()) == tag)
        return std::make_pair(r, e.path());
    ADD_FAILURE() << "no experiment folder for " << tag << ":\n" << r.output;
    return std::make_pair(r, fs::path());
  };
  for (const char* lr : {"0.01", "0.003"})
    for (const char* seed : {"1", "2"}) {
      const auto [r, dir] = train(lr, seed, "");
      EXPECT_EQ(r.code, 0) << r.output;
      g.runs.push_back(dir);
    }
  const auto [k, killed] = train("0.01", "3", "MIP_FAULT_KILL_AT_EPISODE=15 ");
  EXPECT_NE(k.code, 0) << "killed at episode 15: " << k.output;
  g.killed = killed;
  for (const auto& [dir, extra] : std::vector<std::pair<fs::path, std::string>>{
           {g.runs[0], ""},
           {g.runs[0], " --set testing.problem.size=128"},
           {g.runs[3], ""},
           {g.killed, ""}}) {
    const RunResult t = run(kTester + " --model " + dir.string() + extra);
    EXPECT_EQ(t.code, 0) << t.output;
  }
  return g;
}

}  // namespace mip::test
