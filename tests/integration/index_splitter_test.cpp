// mip-index-splitter: index files from a length or a problem's size (MNIST
// files written by the test, the real plugin), read by the offline trainer's
// SubsetRandomSampler.
#include <algorithm>
#include <filesystem>
#include <numeric>
#include <regex>
#include <string>
#include <vector>

#include "common/worker_runs.hpp"

namespace mip::test {
// Named: each test executable is one unity build.
namespace index_splitter_test {

const std::string kSplitter = kBin + "/mip-index-splitter";

std::vector<int64_t> indices_in(const fs::path& file) {
  std::vector<int64_t> out;
  std::string text = read(file);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << "one line";
  std::stringstream in(text);
  std::string cell;
  while (std::getline(in, cell, ','))
    out.push_back(std::stoll(cell));
  return out;
}

TEST(IndexSplitter, LengthSplitsIntoTwoDisjointFilesReproducibly) {
  TempDir d;
  const auto split = [&](const std::string& dir, const std::string& args) {
    const RunResult r = run(kSplitter + " --length 10 --split 3 --outdir " +
                            d.str() + "/" + dir + " " + args);
    EXPECT_EQ(r.code, 0) << r.output;
    return r;
  };
  split("a", "--seed 7");
  const auto a = indices_in(d.path() / "a/split_a.txt");
  const auto b = indices_in(d.path() / "a/split_b.txt");
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(b.size(), 7u);
  std::vector<int64_t> all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want(10);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(all, want) << "two disjoint parts of 0..9";
  EXPECT_FALSE(fs::exists(d.path() / "asplit_a.txt"))
      << "MI-Prometheus's missing separator is not copied";

  // The same seed, the same files; another seed, another permutation.
  split("same", "--seed 7");
  EXPECT_EQ(read(d.path() / "same/split_a.txt"),
            read(d.path() / "a/split_a.txt"));
  EXPECT_EQ(read(d.path() / "same/split_b.txt"),
            read(d.path() / "a/split_b.txt"));
  split("other", "--seed 8");
  EXPECT_NE(read(d.path() / "other/split_b.txt"),
            read(d.path() / "a/split_b.txt"));
  // A drawn seed is logged, and gives the same files again.
  const RunResult drawn = split("drawn", "");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(drawn.output, m, std::regex("--seed (\\d+)")))
      << drawn.output;
  split("redrawn", "--seed " + m[1].str());
  EXPECT_EQ(read(d.path() / "redrawn/split_b.txt"),
            read(d.path() / "drawn/split_b.txt"));

  // Ranges, with MI-Prometheus's abbreviations: the two ends of each.
  const RunResult r =
      run(kSplitter + " --l 10 --s 4 --o " + d.str() + "/ranges --r");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read(d.path() / "ranges/split_a.txt"), "0,4\n");
  EXPECT_EQ(read(d.path() / "ranges/split_b.txt"), "4,10\n");
  for (const auto& e : fs::directory_iterator(d.path() / "ranges"))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos);
}

TEST(IndexSplitter, ProblemSizeAndTheSamplersReadTheFiles) {
  TempDir d;
  write_idx(d, "train", 600, 1);
  write_idx(d, "t10k", 100, 2);
  const RunResult s =
      run(kSplitter + " --problem MNIST --set data_folder=" + d.str() +
          "/mnist --split 450 --outdir " + d.str() + "/idx --seed 3");
  ASSERT_EQ(s.code, 0) << s.output;
  EXPECT_HAS(s.output, "Problem MNIST holds 600 samples");
  EXPECT_EQ(indices_in(d.path() / "idx/split_a.txt").size(), 450u);
  EXPECT_EQ(indices_in(d.path() / "idx/split_b.txt").size(), 150u);

  // One epoch of the offline trainer on split a, validated on split b.
  const std::string problem =
      "{name: MNIST, batch_size: 50, data_folder: " + d.str() +
      "/mnist, padding: [2, 2, 2, 2]}";
  const std::string config = d.write(
      "mnist.yaml",
      "training:\n  problem: " + problem +
          "\n  sampler: {name: SubsetRandomSampler, indices: " + d.str() +
          "/idx/split_a.txt}\n"
          "  optimizer: {name: Adam, lr: 0.002}\n"
          "  terminal_conditions: {epoch_limit: 1}\n"
          "validation:\n  problem: " +
          problem + "\n  sampler: {name: SubsetRandomSampler, indices: " +
          d.str() + "/idx/split_b.txt}\nmodel: {name: LeNet5}\n");
  const RunResult t = run(kOffline + " --config " + config + " --expdir " +
                          d.str() + "/exp --seed 1");
  ASSERT_EQ(t.code, 0) << t.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  EXPECT_EQ(
      csv_column(exp / "training_set_agg_statistics.csv", "samples_aggregated"),
      std::vector<double>{450});
  EXPECT_EQ(csv_column(exp / "validation_set_agg_statistics.csv",
                       "samples_aggregated")
                .back(),
            150);
}

TEST(IndexSplitter, BadCommandLinesSayWhatToDo) {
  TempDir d;
  const std::string out = " --outdir " + d.str() + "/out";
  const auto expect = [&](const std::string& args, int code,
                          const std::string& text) {
    const RunResult r = run(kSplitter + " " + args + out);
    EXPECT_EQ(r.code, code) << args << "\n" << r.output;
    EXPECT_HAS(r.output, text);
  };
  expect("--split 3", 2, "give the data set's size: --length N, or --problem");
  expect("--length 10 --problem MNIST --split 3", 2, "exclusive");
  expect("--length 10", 2, "--split S");
  expect("--length 10 --split 0", 3, "--split [0] must lie within 1..9");
  expect("--length 10 --split 10", 3, "--split [10] must lie within 1..9");
  expect("--length 10 --split 8", 3, "a random part of exactly two indices");
  expect("--length ten --split 3", 2, "--length [ten] is not an integer");
  expect("--length 10 --split 3 --set a=1", 2, "--set sets parameters of");
  expect("--problem MNST --split 3", 4, "MNIST");
  expect("--problem MNIST --set data_fodler=/x --split 3", 3, "data_fodler");
  EXPECT_FALSE(fs::exists(d.path() / "out/split_a.txt"));
  // Two indices in ranges mode are fine: they are a range's ends.
  expect("--length 10 --split 8 --random_sampling_off", 0, "Wrote");
  EXPECT_EQ(read(d.path() / "out/split_b.txt"), "8,10\n");
}

}  // namespace index_splitter_test
}  // namespace mip::test
