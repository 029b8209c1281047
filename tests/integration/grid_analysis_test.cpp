// mip-grid-analyzer: a grid made by the real workers (finished, tested and
// killed runs), analysed by the real tool; its CSV checked cell by cell
// against the files the runs wrote.
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/grid_runs.hpp"

namespace mip::test {
// Named: each test executable is one unity build.
namespace grid_analysis_test {

/// The header of a statistics CSV, "episode" left out, each with `prefix`.
std::vector<std::string> stat_columns(const fs::path& csv,
                                      const std::string& prefix) {
  std::vector<std::string> out;
  const auto rows = csv_rows(csv);
  for (const auto& c : rows.at(0))
    if (c != "episode")
      out.push_back(prefix + c);
  return out;
}

/// The `stat` value of `csv`'s row at `episode` (the last such row).
double value_at(const fs::path& csv, const std::string& stat, double episode) {
  const auto episodes = csv_column(csv, "episode");
  const auto values = csv_column(csv, stat);
  double v = NAN;
  for (size_t i = 0; i < episodes.size(); ++i)
    if (episodes[i] == episode)
      v = values[i];
  return v;
}

/// A row of the analysis as column -> value.
using Row = std::map<std::string, std::string>;

std::vector<Row> rows_of(const std::vector<std::vector<std::string>>& csv) {
  std::vector<Row> out;
  for (size_t r = 1; r < csv.size(); ++r) {
    EXPECT_EQ(csv[r].size(), csv[0].size()) << "row " << r;
    Row row;
    for (size_t c = 0; c < csv[0].size() && c < csv[r].size(); ++c)
      row[csv[0][c]] = csv[r][c];
    out.push_back(row);
  }
  return out;
}

TEST(GridAnalyzer, OneRowPerTestInTheDocumentedColumnOrder) {
  TempDir d;
  const Grid g = make_grid(d);
  ASSERT_EQ(g.runs.size(), 4u);
  ASSERT_FALSE(g.killed.empty());
  const fs::path out = d.path() / "analysis.csv";
  const RunResult r =
      run(kGridAnalyzer + " " + g.root.string() + " --output " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto csv = quoted_csv_rows(out);
  ASSERT_FALSE(csv.empty());

  // The header: fixed columns, the one configuration key that differs, the
  // statistics of the best model and of the tests as the workers name them.
  const fs::path& e0 = g.runs[0];
  const fs::path test0 = [&] {
    std::vector<fs::path> t;
    for (const auto& e : fs::directory_iterator(e0))
      if (e.path().filename().string().rfind("test_", 0) == 0)
        t.push_back(e.path());
    std::sort(t.begin(), t.end());
    EXPECT_EQ(t.size(), 2u);
    return t.empty() ? fs::path() : t[0];
  }();
  std::vector<std::string> header = {"experiment",
                                     "problem",
                                     "model",
                                     "training.optimizer.lr",
                                     "training_seed_torch",
                                     "training_seed_numpy",
                                     "state",
                                     "terminal_cause",
                                     "episode",
                                     "epoch",
                                     "best_episode",
                                     "best_validation_loss"};
  for (const auto& c :
       stat_columns(e0 / "training_statistics.csv", "training_"))
    header.push_back(c);
  for (const auto& c :
       stat_columns(e0 / "validation_statistics.csv", "validation_"))
    header.push_back(c);
  for (const char* c :
       {"test", "test_state", "test_seed_torch", "test_seed_numpy"})
    header.push_back(c);
  for (const auto& c :
       stat_columns(test0 / "testing_set_agg_statistics.csv", "test_"))
    header.push_back(c);
  EXPECT_EQ(csv[0], header);

  // One row per test, one per experiment without a test: run 0 twice, runs
  // 1, 2 and 3 once each, the killed run once (tested).
  const auto rows = rows_of(csv);
  ASSERT_EQ(rows.size(), 6u);
  std::map<std::string, int> per_experiment;
  for (const auto& row : rows)
    ++per_experiment[row.at("experiment")];
  const auto name = [&](const fs::path& p) {
    return fs::relative(p, g.root).generic_string();
  };
  EXPECT_EQ(per_experiment[name(g.runs[0])], 2);
  EXPECT_EQ(per_experiment[name(g.runs[1])], 1);
  EXPECT_EQ(per_experiment[name(g.killed)], 1);

  for (const auto& row : rows) {
    const fs::path exp = g.root / row.at("experiment");
    SCOPED_TRACE(row.at("experiment") + " " + row.at("test"));
    const YAML::Node config =
        YAML::LoadFile((exp / "training_configuration.yaml").string());
    EXPECT_EQ(row.at("problem"), "SerialRecallCommandLines");
    EXPECT_EQ(row.at("model"), "LSTM");
    EXPECT_EQ(std::stod(row.at("training.optimizer.lr")),
              config["training"]["optimizer"]["lr"].as<double>());
    EXPECT_EQ(row.at("training_seed_torch"),
              config["training"]["seed_torch"].as<std::string>());
    const YAML::Node status = YAML::LoadFile((exp / "status.yaml").string());
    const double best = status["best_episode"].as<double>();
    EXPECT_EQ(std::stod(row.at("best_episode")), best);
    EXPECT_NEAR(std::stod(row.at("best_validation_loss")),
                status["best_validation_loss"].as<double>(), 1e-9);
    // The best model's statistics: training's at its episode, and the
    // validation it was chosen on.
    EXPECT_NEAR(std::stod(row.at("training_loss")),
                value_at(exp / "training_statistics.csv", "loss", best), 1e-9);
    EXPECT_NEAR(std::stod(row.at("training_acc")),
                value_at(exp / "training_statistics.csv", "acc", best), 1e-9);
    EXPECT_NEAR(std::stod(row.at("validation_loss")),
                status["best_validation_loss"].as<double>(), 1e-9);
    EXPECT_NEAR(std::stod(row.at("validation_acc")),
                value_at(exp / "validation_statistics.csv", "acc", best), 1e-9);
    if (exp == g.killed) {
      EXPECT_EQ(row.at("state"), "killed");
      EXPECT_HAS(row.at("terminal_cause"),
                 "no process holds the folder's lock");
      EXPECT_LE(best, 10) << "a validation before the kill at episode 15";
    } else {
      EXPECT_EQ(row.at("state"), "finished");
      EXPECT_EQ(row.at("terminal_cause"),
                status["terminal_cause"].as<std::string>());
      EXPECT_EQ(row.at("episode"), "29");
    }
    // The test's results.
    if (row.at("test").empty()) {
      EXPECT_TRUE(exp != g.runs[0] && exp != g.runs[3] && exp != g.killed);
      EXPECT_EQ(row.at("test_loss"), "");
      continue;
    }
    const fs::path test = exp / row.at("test");
    const YAML::Node tc =
        YAML::LoadFile((test / "testing_configuration.yaml").string());
    EXPECT_EQ(row.at("test_state"), "finished");
    EXPECT_EQ(row.at("test_seed_numpy"),
              tc["testing"]["seed_numpy"].as<std::string>());
    const fs::path agg = test / "testing_set_agg_statistics.csv";
    EXPECT_NEAR(std::stod(row.at("test_loss")), csv_column(agg, "loss").back(),
                1e-9);
    EXPECT_EQ(std::stod(row.at("test_samples_aggregated")),
              csv_column(agg, "samples_aggregated").back());
  }
  // Run 0's two tests: 640 and 128 samples, oldest first.
  EXPECT_EQ(rows[0].at("experiment"), name(g.runs[0]));
  EXPECT_EQ(rows[0].at("test_samples_aggregated"), "640");
  EXPECT_EQ(rows[1].at("test_samples_aggregated"), "128");

  // The same table in Markdown on the console.
  std::string md_header = "|";
  for (const auto& c : header)
    md_header += " " + c + " |";
  EXPECT_HAS(r.output, md_header + "\n|");
  EXPECT_EQ(occurrences(r.output, "\n| " + name(g.runs[0]) + " |"), 2u);
  EXPECT_HAS(r.output, "Results stored in " + out.string());

  // Without --output: <grid>/<time>_grid_analysis.csv, the same table.
  const RunResult again = run(kGridAnalyzer + " --expdir " + g.root.string());
  ASSERT_EQ(again.code, 0) << again.output;
  std::vector<fs::path> written;
  for (const auto& e : fs::directory_iterator(g.root)) {
    const std::string f = e.path().filename().string();
    EXPECT_EQ(f.find(".tmp."), std::string::npos) << f;
    if (f.size() > 18 && f.substr(f.size() - 18) == "_grid_analysis.csv")
      written.push_back(e.path());
  }
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(read(written[0]), read(out));
}

TEST(GridAnalyzer, DamagedFilesAreWarningsNamingThemAndTheRowStays) {
  TempDir d;
  std::vector<fs::path> exps;
  for (const char* seed : {"1", "2"}) {
    const RunResult r =
        run(kOnline + " --config " + kSerialRecall + " --expdir " + d.str() +
            "/grid --savetag s" + seed + " --seed " + seed +
            " --set training.terminal_conditions.episode_limit=20");
    ASSERT_EQ(r.code, 0) << r.output;
  }
  for (const auto& e : fs::recursive_directory_iterator(d.path() / "grid"))
    if (e.path().filename() == "status.yaml")
      exps.push_back(e.path().parent_path());
  std::sort(exps.begin(), exps.end());
  ASSERT_EQ(exps.size(), 2u);
  // One run's status is bad YAML, the other's training statistics hold a
  // cell that is no number, and a test folder lost its statistics.
  d.write((exps[0] / "status.yaml").string(), "state: [finished\n");
  const std::string csv = read(exps[1] / "training_statistics.csv");
  d.write((exps[1] / "training_statistics.csv").string(),
          csv.substr(0, csv.find('\n') + 1) + "0.5,000000,00,x,1,1,1\n");
  d.write(
      (exps[1] / "test_20990101_000000/testing_configuration.yaml").string(),
      "testing:\n  seed_torch: 7\n  seed_numpy: 8\n");

  const fs::path out = d.path() / "a.csv";
  const RunResult r =
      run(kGridAnalyzer + " " + d.str() + "/grid --output " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, (exps[0] / "status.yaml").string() + ":");
  EXPECT_HAS(r.output, (exps[1] / "training_statistics.csv").string() + ":2:");
  const auto rows = rows_of(quoted_csv_rows(out));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("state"), "unknown");
  EXPECT_EQ(rows[0].at("terminal_cause"), "status.yaml could not be read");
  EXPECT_EQ(rows[1].count("training_loss"), 0u)
      << "neither run's training statistics could be read";
  EXPECT_EQ(rows[1].at("best_episode"),
            YAML::LoadFile((exps[1] / "status.yaml").string())["best_episode"]
                .as<std::string>());
  EXPECT_EQ(rows[0].at("training_seed_torch"), "1") << "its configuration";
  EXPECT_EQ(rows[1].at("state"), "finished");
  EXPECT_EQ(rows[1].at("test"), "test_20990101_000000");
  EXPECT_EQ(rows[1].at("test_seed_numpy"), "8");
  EXPECT_EQ(rows[1].at("test_state"), "");

  // Folders that hold no experiment, bad command lines.
  fs::create_directories(d.path() / "empty/a");
  RunResult e = run(kGridAnalyzer + " " + d.str() + "/empty");
  EXPECT_EQ(e.code, 3) << e.output;
  EXPECT_HAS(e.output, "/empty] holds no experiment folder");
  e = run(kGridAnalyzer + " " + d.str() + "/missing");
  EXPECT_EQ(e.code, 3) << e.output;
  EXPECT_HAS(e.output, "/missing] does not exist");
  e = run(kGridAnalyzer);
  EXPECT_EQ(e.code, 2) << e.output;
  e = run(kGridAnalyzer + " " + d.str() + "/grid --output " + d.str() +
          "/no/such/a.csv");
  EXPECT_EQ(e.code, 3) << e.output;
  EXPECT_HAS(e.output, d.str() + "/no/such] does not exist");
  e = run(kGridAnalyzer + " " + d.str() + "/grid --bogus");
  EXPECT_EQ(e.code, 2) << e.output;
  EXPECT_HAS(e.output, "unknown option [--bogus]");
}

}  // namespace grid_analysis_test
}  // namespace mip::test
