// How the console shows numbers, statistics lines and the progress line, and
// the summary's text and YAML.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <limits>
#include <string>

#include <mip/core/console_format.hpp>
#include <mip/core/statistics.hpp>
#include <mip/core/summary.hpp>

namespace mip {
// Named: each test executable is one unity build.
namespace console_format_test {

TEST(ConsoleFormat, ShortValuesKeepFourDecimalsOrThreeDigits) {
  EXPECT_EQ(short_value("{:12.10f}", 0.6931471806), "0.6931");
  EXPECT_EQ(short_value("{:12.10f}", 12.5), "12.5000");
  EXPECT_EQ(short_value("{:12.10f}", 0.0), "0.0000");
  EXPECT_EQ(short_value("{:12.10f}", 1.23456e-5), "1.235e-05");
  EXPECT_EQ(short_value("{:12.10f}", -2.5e7), "-2.500e+07");
  EXPECT_EQ(short_value("{:06d}", 100.0), "100");
  EXPECT_EQ(short_value("{:d}", 2.6), "3");
  EXPECT_EQ(short_value("{:12.10f}", std::nan("")), "nan");
}

TEST(ConsoleFormat, DurationsAndShellWords) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(61.4), "1:01");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "--:--");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::infinity()), "--:--");
  EXPECT_EQ(shell_quote("/exp/Serial/LSTM/20261124_193257"),
            "/exp/Serial/LSTM/20261124_193257");
  EXPECT_EQ(shell_quote("/my exp/run"), "'/my exp/run'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
}

TEST(ConsoleFormat, MainStatisticIsAccElseTheFirstNonInteger) {
  StatisticsCollector col;
  col.add_statistic("loss", "{:12.10f}");
  col.add_statistic("episode", "{:06d}");
  col.add_statistic("batch_size", "{:06d}");
  EXPECT_EQ(main_statistic(col), "");
  col.add_statistic("bleu_score", "{:12.10f}");
  EXPECT_EQ(main_statistic(col), "bleu_score");
  col.add_statistic("acc", "{:12.10f}");
  EXPECT_EQ(main_statistic(col), "acc");
}

TEST(ConsoleFormat, StatisticsLinesAreShortAndAligned) {
  StatisticsCollector col;
  col.add_statistic("loss", "{:12.10f}");
  col.add_statistic("episode", "{:06d}");
  col.add_statistic("seq_length", "{:d}");
  ConsoleLines lines;
  col.collect("loss", 0.6931471806);
  col.collect("episode", 0);
  col.collect("seq_length", 3);
  const std::string first = lines.line(col, "Training");
  EXPECT_EQ(first, "loss 0.6931; episode      0; seq_length 3; [Training]");
  col.collect("loss", 0.01);
  col.collect("episode", 1200);
  col.collect("seq_length", 12);
  const std::string second = lines.line(col, "Training");
  EXPECT_EQ(second, "loss 0.0100; episode   1200; seq_length 12; [Training]");
  // A column once widened stays wide.
  col.collect("seq_length", 4);
  EXPECT_EQ(lines.line(col, "Training"),
            "loss 0.0100; episode   1200; seq_length  4; [Training]");
  StatisticsAggregator agg;
  agg.add_aggregator("loss", "{:12.10f}");
  agg.set("loss", 0.25);
  EXPECT_EQ(lines.line(agg, "Full Validation"),
            "loss 0.2500; [Full Validation]");
}

TEST(ConsoleFormat, ProgressLineFitsTheWidthAndKeepsTheEta) {
  ProgressView v;
  v.label = "Training";
  v.done = 2100;
  v.total = 5000;
  v.has_loss = true;
  v.loss = 0.41234;
  v.stat = "acc";
  v.stat_value = 0.8125;
  v.has_stat = true;
  v.stat_format = "{:12.10f}";
  v.rate = 81.2;
  const std::string wide = render_progress(v, 120);
  EXPECT_EQ(wide,
            "Training   42% [########............] 2100/5000  loss 0.4123  acc "
            "0.8125  81.2 ep/s  ETA 0:36");
  for (int width : {100, 60, 40, 20, 5}) {
    const std::string line = render_progress(v, width);
    EXPECT_LT(static_cast<int>(line.size()), std::max(width, 11)) << line;
    EXPECT_EQ(line.rfind("Training", 0), 0u) << line;
  }
  EXPECT_NE(render_progress(v, 60).find("ETA 0:36"), std::string::npos)
      << render_progress(v, 60);
  v.total = -1;
  v.rate = 0;
  EXPECT_EQ(render_progress(v, 120), "Training  2100  loss 0.4123  acc 0.8125");
  v.total = 40;
  v.done = 40;
  v.epoch = 3;
  v.epochs = 4;
  v.stat.clear();
  EXPECT_EQ(render_progress(v, 120),
            "Training  100% [####################] 40/40  epoch 3/4  loss "
            "0.4123  ETA --:--");
}

RunSummary finished_summary() {
  RunSummary s;
  s.worker = "mip-online-trainer";
  s.state = RunState::kFinished;
  s.cause = "Not converged: Episode Limit reached";
  s.folder = "/exp/run";
  s.episodes = 260;
  s.episodes_this_run = 160;
  s.seconds = 3.25;
  s.episodes_per_second = 80;
  s.best_loss = 0.123456789;
  s.best_episode = 250;
  s.best_statistics = {{"loss", 0.123456789}, {"acc", 0.75}};
  s.main_statistic = "acc";
  s.main_format = "{:12.10f}";
  s.best_checkpoint = "/exp/run/models/model_best.pt";
  s.last_checkpoint = "/exp/run/models/model_last.pt";
  s.test_command = "mip-tester --model /exp/run";
  s.continue_command = "mip-online-trainer --resume /exp/run";
  return s;
}

TEST(RunSummaryText, NamesEveryPartOnItsOwnRow) {
  EXPECT_EQ(summary_text(finished_summary()),
            "Summary: finished, Not converged: Episode Limit reached\n"
            "  episodes     260 (160 in this run), 3.2 s, 80.0 episodes/s\n"
            "  best model   episode 250, validation loss 0.1235, acc 0.7500\n"
            "  checkpoints  /exp/run/models/model_best.pt\n"
            "               /exp/run/models/model_last.pt\n"
            "  folder       /exp/run\n"
            "  test it      mip-tester --model /exp/run\n"
            "  continue     mip-online-trainer --resume /exp/run\n");
}

TEST(RunSummaryText, YamlHoldsTheSameValues) {
  YAML::Emitter out;
  emit_summary(out, finished_summary());
  const YAML::Node n = YAML::Load(out.c_str());
  EXPECT_EQ(n["state"].as<std::string>(), "finished");
  EXPECT_EQ(n["episodes"].as<int>(), 260);
  EXPECT_EQ(n["episodes_this_run"].as<int>(), 160);
  EXPECT_DOUBLE_EQ(n["best_validation_loss"].as<double>(), 0.123456789);
  EXPECT_EQ(n["best_episode"].as<int>(), 250);
  EXPECT_DOUBLE_EQ(n["best_statistics"]["acc"].as<double>(), 0.75);
  EXPECT_EQ(n["checkpoints"]["last"].as<std::string>(),
            "/exp/run/models/model_last.pt");
  EXPECT_EQ(n["commands"]["continue"].as<std::string>(),
            "mip-online-trainer --resume /exp/run");
  // A status.yaml with a summary keeps its other keys as they were.
  RunStatus st;
  st.state = RunState::kFinished;
  st.terminal_cause = "done";
  const RunSummary s = finished_summary();
  const std::string with = status_text(st, &s);
  const std::string without = status_text(st);
  const YAML::Node a = YAML::Load(with), b = YAML::Load(without);
  for (const auto& kv : b) {
    const std::string key = kv.first.as<std::string>();
    if (key != "updated") {
      EXPECT_EQ(a[key].as<std::string>(), kv.second.as<std::string>()) << key;
    }
  }
  EXPECT_EQ(a["summary"]["folder"].as<std::string>(), "/exp/run");
}

}  // namespace console_format_test
}  // namespace mip
