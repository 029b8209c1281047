// mip-tester: multi_tests and seeds of generated test sets.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <thread>
#include <vector>

#include <mip/core/checkpoint.hpp>

#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace tester_test {

using namespace test;

TEST(Tester, MultiTestsRunOneTestPerValue) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  RunResult r;
  const std::string overlay = d.write("multi.yaml",
                                      "testing:\n  problem: {size: 128}\n"
                                      "  multi_tests: {min_sequence_length: "
                                      "[3, 7], max_sequence_length: [3, 7]}\n");
  r = run(kTester + " --model " + exp.string() + " --config " + overlay +
          " --expdir " + d.str() + "/t");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(
      r.output.find("Test 2 of 2: min_sequence_length=7 max_sequence_length=7"),
      std::string::npos)
      << r.output;
  fs::path test_dir;
  for (const auto& e : fs::directory_iterator(d.path() / "t"))
    test_dir = e.path();
  // Two tests of 2 batches each; the second one on sequences of 7 items.
  EXPECT_EQ(lines(test_dir / "testing_set_agg_statistics.csv"), 1u + 2u);
  const std::string rows = read(test_dir / "testing_statistics.csv");
  EXPECT_EQ(lines(test_dir / "testing_statistics.csv"), 1u + 4u);
  EXPECT_NE(rows.find(",3,3,000064\n"), std::string::npos) << rows;
  EXPECT_NE(rows.find(",7,7,000064\n"), std::string::npos) << rows;
  const std::string bad =
      d.write("bad.yaml", "testing:\n  multi_tests: {max_lenght: [1, 2]}\n");
  r = run(kTester + " --model " + exp.string() + " --config " + bad);
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(
      r.output.find(
          "[testing.multi_tests.max_lenght]: no key of the testing section"),
      std::string::npos)
      << r.output;
}

TEST(Tester, SeedMakesAGeneratedTestSetRepeat) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  RunResult r;
  std::vector<std::string> csvs;
  for (const char* tag : {"a", "b", "c"}) {
    const std::string seed = std::string(tag) == "c" ? "4" : "3";
    r = run(kTester + " --model " + exp.string() + " --seed " + seed +
            " --savetag " + tag + " --expdir " + d.str() + "/t" + tag);
    ASSERT_EQ(r.code, 0) << r.output;
    for (const auto& e :
         fs::directory_iterator(d.path() / ("t" + std::string(tag))))
      csvs.push_back(read(e.path() / "testing_statistics.csv"));
  }
  ASSERT_EQ(csvs.size(), 3u);
  EXPECT_EQ(csvs[0], csvs[1]);
  EXPECT_NE(csvs[0], csvs[2]);
  r = run(kTester + " --config " + kSerialRecall);
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("--model is required"), std::string::npos);
}
}  // namespace tester_test
}  // namespace mip
