// Statistics tables and CSV files.
#include <mip/core/statistics.hpp>
#include <mip/sdk/error.hpp>

#include "common/test_util.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace statistics_test {

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

}  // namespace statistics_test
}  // namespace mip
