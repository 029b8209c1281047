// Statistics tables, CSV files, the handshake and atomic files.
#include <mip/core/experiment.hpp>
#include <mip/core/files.hpp>
#include <mip/core/handshake.hpp>
#include <mip/core/statistics.hpp>
#include <mip/sdk/error.hpp>

#include "common/test_util.hpp"

namespace mip {
namespace {

TEST(Statistics, FormatsLikeMiPrometheus) {
  EXPECT_EQ(format_statistic("{:12.10f}", 0.5), "0.5000000000");
  EXPECT_EQ(format_statistic("{:06d}", 42), "000042");
  EXPECT_EQ(format_statistic("{:d}", 7.0), "7");
  EXPECT_EQ(format_statistic("{:02d}", 3), "03");
  EXPECT_THROW(format_statistic("{:q}", 1.0), Error);
}

TEST(Statistics, CollectorKeepsOrderAndLastValues) {
  StatisticsCollector col;
  col.add_statistic("loss", "{:12.10f}");
  col.add_statistic("episode", "{:06d}");
  col.add_statistic("acc", "{:12.10f}");
  col.collect("loss", 0.25);
  col.collect("episode", 0);
  col.collect("acc", 0.5);
  col.collect("loss", 0.125);
  col.collect("episode", 1);
  col.collect("acc", 0.75);
  EXPECT_EQ(col.csv_header(), "loss,episode,acc");
  EXPECT_EQ(col.csv_row(), "0.1250000000,000001,0.7500000000");
  EXPECT_EQ(col.line("Training"),
            "loss 0.1250000000; episode 000001; acc 0.7500000000; [Training]");
  EXPECT_EQ(col.count(), 2u);
  col.reset();
  EXPECT_EQ(col.count(), 0u);
  EXPECT_THROW(col.collect("undeclared", 1.0), Error);
}

TEST(Statistics, MeanStdMinMaxAndSum) {
  StatisticsCollector col;
  col.add_statistic("acc", "{:12.10f}");
  col.add_statistic("batch_size", "{:06d}");
  for (double v : {0.5, 0.75, 1.0})
    col.collect("acc", v);
  for (double v : {64, 64, 32})
    col.collect("batch_size", v);
  StatisticsAggregator agg;
  sdk::add_mean_std_aggregators(agg, "acc", "{:12.10f}");
  agg.add_aggregator("samples_aggregated", "{:06d}");
  sdk::aggregate_mean_std(col, agg, "acc");
  sdk::aggregate_sum(col, agg, "batch_size", "samples_aggregated");
  EXPECT_EQ(agg.csv_header(), "acc,acc_min,acc_max,acc_std,samples_aggregated");
  EXPECT_DOUBLE_EQ(agg.get("acc"), 0.75);
  EXPECT_DOUBLE_EQ(agg.get("acc_min"), 0.5);
  EXPECT_DOUBLE_EQ(agg.get("acc_max"), 1.0);
  EXPECT_DOUBLE_EQ(agg.get("acc_std"), 0.25);  // unbiased
  EXPECT_EQ(agg.csv_row(),
            "0.7500000000,0.5000000000,1.0000000000,0.2500000000,000160");
  StatisticsCollector one;
  one.add_statistic("acc", "{:12.10f}");
  one.collect("acc", 0.3);
  sdk::aggregate_mean_std(one, agg, "acc");
  EXPECT_DOUBLE_EQ(agg.get("acc_std"), 0.0);
}

TEST(Statistics, CsvWriterCreatesThenAppends) {
  test::TempDir d;
  const std::string path = (d.path() / "s.csv").string();
  {
    CsvWriter w;
    w.open(path, "a,b", false);
    w.write("1,2");
  }
  {
    CsvWriter w;
    w.open(path, "a,b", true);
    w.write("3,4");
  }
  EXPECT_EQ(test::read(path), "a,b\n1,2\n3,4\n");
}

sdk::DataDefinition def(std::vector<int64_t> shape,
                        c10::ScalarType t = c10::ScalarType::Float) {
  return {std::move(shape), t, ""};
}

TEST(Handshake, UnknownDimensionsMatchAnything) {
  EXPECT_TRUE(definition_compatible(def({-1, -1, 11}), def({-1, 5, 11})));
  EXPECT_FALSE(definition_compatible(def({-1, -1, 11}), def({-1, -1, 10})));
  EXPECT_FALSE(definition_compatible(def({-1, 11}), def({-1, -1, 11})));
  EXPECT_FALSE(
      definition_compatible(def({-1}), def({-1}, c10::ScalarType::Long)));
}

TEST(Handshake, MismatchPrintsBothDefinitions) {
  const sdk::DataDefinitions problem = {{"sequences", def({-1, -1, 11})}};
  const sdk::DataDefinitions needs = {{"predictions", def({-1, -1, 8})}};
  EXPECT_NO_THROW(check_handshake("P", problem, needs, "M",
                                  {{"sequences", def({-1, -1, 11})}},
                                  {{"predictions", def({-1, -1, 8})}}));
  try {
    check_handshake("P", problem, needs, "M",
                    {{"sequences", def({-1, -1, 12})}},
                    {{"logits", def({-1, -1, 8})}});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(
        msg.find(
            "model M needs [sequences] [-1, -1, 12] Float, problem P provides "
            "[sequences] [-1, -1, 11] Float"),
        std::string::npos)
        << msg;
    EXPECT_NE(
        msg.find(
            "needs [predictions] [-1, -1, 8] Float, which model M does not "
            "provide (it provides: logits)"),
        std::string::npos)
        << msg;
  }
}

TEST(Files, AtomicWriteReplacesWholeAndLeavesNoTemporary) {
  test::TempDir d;
  const std::string path = (d.path() / "status.yaml").string();
  write_file_atomic(path, "state: running\n");
  write_file_atomic(path, "state: finished\n");
  EXPECT_EQ(test::read(path), "state: finished\n");
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(d.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
  EXPECT_THROW(write_file_atomic((d.path() / "no/such/dir/x").string(), "x"),
               Error);
}

TEST(Experiment, FolderLayoutAndStatus) {
  test::TempDir d;
  const std::string dir = create_experiment_dir(d.str(), "Prob", "Mod", "tag");
  EXPECT_TRUE(
      std::filesystem::is_directory(std::filesystem::path(dir) / "models"));
  EXPECT_EQ(std::filesystem::path(dir).parent_path(),
            d.path() / "Prob" / "Mod");
  EXPECT_NE(dir.find("_tag"), std::string::npos);
  const std::string second =
      create_experiment_dir(d.str(), "Prob", "Mod", "tag");
  EXPECT_NE(dir, second);
  RunStatus s;
  s.state = RunState::kInterrupted;
  s.terminal_cause = "Interrupted by SIGINT";
  write_status(dir, s);
  const std::string text =
      test::read(std::filesystem::path(dir) / "status.yaml");
  EXPECT_NE(text.find("state: interrupted"), std::string::npos) << text;
  EXPECT_NE(text.find("terminal_cause: Interrupted by SIGINT"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace mip
