// BatchStream: every batch is a function of (seed, stream, index); each epoch
// visits every sample once, in an order drawn from (seed, epoch).
#include <gtest/gtest.h>

#include <set>

#include <mip/core/batches.hpp>
#include <mip/core/registry.hpp>

#include "common/test_util.hpp"
#include "unit/index_problem.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace batch_stream_test {

using test::IndexProblem;
using test::indices_of;
using test::same_batch;

SamplerSpec sampler_from(const std::string& yaml_overrides) {
  ParamRegistry r;
  if (!yaml_overrides.empty())
    r.apply_override(yaml_overrides);
  return SamplerSpec::from_config(r, "training");
}

TEST(BatchStream, SameSeedAndStreamGiveTheSameBatches) {
  auto problem = std::make_shared<IndexProblem>(10);
  BatchStream a(problem, 3, 42, 0, {});
  BatchStream b(problem, 3, 42, 0, {});
  BatchStream other_stream(problem, 3, 42, 1, {});
  BatchStream other_seed(problem, 3, 43, 0, {});
  for (int64_t i = 0; i < 12; ++i) {
    const sdk::DataDict x = a.batch(i);
    EXPECT_TRUE(same_batch(x, b.batch(i))) << "batch " << i;
    EXPECT_FALSE(torch::equal(x.at("noise"), other_stream.batch(i).at("noise")))
        << "batch " << i;
    EXPECT_FALSE(torch::equal(x.at("noise"), other_seed.batch(i).at("noise")))
        << "batch " << i;
  }
}

TEST(BatchStream, ABatchDoesNotDependOnTheBatchesMadeBeforeIt) {
  auto problem = std::make_shared<IndexProblem>(10);
  BatchStream in_order(problem, 4, 7, 0, {});
  BatchStream jumping(problem, 4, 7, 0, {});
  std::vector<sdk::DataDict> expected;
  for (int64_t i = 0; i < 9; ++i)
    expected.push_back(in_order.batch(i));
  for (int64_t i : {8, 2, 5, 0, 7, 1, 6, 3, 4})
    EXPECT_TRUE(same_batch(jumping.batch(i), expected[static_cast<size_t>(i)]))
        << "batch " << i;
}

TEST(BatchStream, EachEpochVisitsEverySampleOnceInANewOrder) {
  auto problem = std::make_shared<IndexProblem>(10);
  BatchStream s(problem, 3, 5, 0, {});
  ASSERT_EQ(s.batches_per_epoch(), 4);  // 3 + 3 + 3 + 1
  std::vector<std::vector<int64_t>> orders;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> order;
    for (int64_t b = 0; b < 4; ++b) {
      const auto idx = indices_of(s.batch(epoch * 4 + b));
      EXPECT_EQ(idx.size(), b < 3 ? 3u : 1u);
      order.insert(order.end(), idx.begin(), idx.end());
    }
    const std::set<int64_t> visited(order.begin(), order.end());
    EXPECT_EQ(visited.size(), 10u) << "epoch " << epoch;
    EXPECT_EQ(*visited.begin(), 0);
    EXPECT_EQ(*visited.rbegin(), 9);
    orders.push_back(order);
  }
  EXPECT_NE(orders[0], orders[1]);
  EXPECT_NE(orders[1], orders[2]);
}

TEST(BatchStream, WithoutShuffleAnEpochIsInSampleOrder) {
  auto problem = std::make_shared<IndexProblem>(5);
  BatchStream s(problem, 2, 5, 0,
                sampler_from("training.dataloader.shuffle=false"));
  std::vector<int64_t> seen;
  for (int64_t b = 0; b < 6; ++b) {
    const auto idx = indices_of(s.batch(b));
    seen.insert(seen.end(), idx.begin(), idx.end());
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4}));
}

TEST(BatchStream, SubsetRandomSamplerVisitsOnlyItsIndices) {
  auto problem = std::make_shared<IndexProblem>(20);
  ParamRegistry r;
  r.apply_override("training.sampler.name=SubsetRandomSampler");
  r.apply_override("training.sampler.indices=[3, 7, 11, 19]");
  BatchStream s(problem, 3, 1, 0, SamplerSpec::from_config(r, "training"));
  EXPECT_EQ(s.size(), 4);
  ASSERT_EQ(s.batches_per_epoch(), 2);
  std::multiset<int64_t> seen;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i : indices_of(s.batch(b)))
      seen.insert(i);
  EXPECT_EQ(seen, (std::multiset<int64_t>{3, 7, 11, 19}));
}

TEST(BatchStream, BadSizesAreErrors) {
  auto problem = std::make_shared<IndexProblem>(5);
  EXPECT_HAS(test::error_of([&] { BatchStream(problem, 0, 1, 0, {}); }),
             "batch_size must be > 0, got 0");
  SamplerSpec outside;
  outside.indices = {1, 9};
  EXPECT_HAS(test::error_of([&] { BatchStream(problem, 2, 1, 0, outside); }),
             "sampler index 9 is outside the problem's 5 samples");
  EXPECT_HAS(test::error_of([&] {
               BatchStream(std::make_shared<IndexProblem>(0), 2, 1, 0, {});
             }),
             "the problem reports 0 samples");
}

}  // namespace batch_stream_test
}  // namespace mip
