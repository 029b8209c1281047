// The sequence SDK (mip/sdk/sequence.hpp) and the task built on it as its
// reference, serial recall, through the real plugin loader: batches checked
// against the task's definition on many seeds and lengths.
#include <ATen/ATen.h>

#include <string>

#include <mip/sdk/sequence.hpp>

#include "common/components.hpp"
#include "common/sequences.hpp"
#include "common/test_util.hpp"
#include "common/worker_runs.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace sequence_test {

using at::indexing::Slice;
using test::seeded;

// --- the helpers
// --------------------------------------------------------------

TEST(SequenceSdk, RotateMovesElementsForwardAndTakesFractions) {
  const at::Tensor x = at::arange(5).view({1, 5, 1});
  // Element i moves to i + 2: [3, 4, 0, 1, 2].
  EXPECT_TRUE(sdk::seq::rotate(x, 2, 1).view({5}).equal(
      at::tensor({3, 4, 0, 1, 2}, at::kLong)));
  EXPECT_TRUE(sdk::seq::rotate(x, -1, 1).view({5}).equal(
      at::tensor({1, 2, 3, 4, 0}, at::kLong)));
  // 0.5 of 5 is 2.5, rounded half to even: 2.
  EXPECT_TRUE(sdk::seq::rotate(x, 0.5, 1).equal(sdk::seq::rotate(x, 2, 1)));
  EXPECT_TRUE(sdk::seq::rotate(x, 7, 1).equal(sdk::seq::rotate(x, 2, 1)));
  EXPECT_TRUE(sdk::seq::rotate(x, 5, 1).equal(x));
}

TEST(SequenceSdk, MaskedLossAndAccuracyCountOnlyMaskedSteps) {
  // Two steps of two bits; only the second step counts.
  const at::Tensor targets = at::tensor({0.f, 1.f, 1.f, 0.f}).view({1, 2, 2});
  const at::Tensor masks = at::tensor({0, 1}, at::kByte).view({1, 2, 1});
  // Step 1 wrong on both bits, step 2 right on one bit of two.
  const at::Tensor logits = at::tensor({5.f, -5.f, 3.f, 2.f}).view({1, 2, 2});
  EXPECT_DOUBLE_EQ(sdk::seq::bit_accuracy(logits, targets, masks), 0.5);
  EXPECT_DOUBLE_EQ(sdk::seq::bit_accuracy(logits, targets), 0.25);
  const double expected = (at::binary_cross_entropy_with_logits(
                               at::tensor({3.f, 2.f}), at::tensor({1.f, 0.f})))
                              .item<double>();
  EXPECT_NEAR(
      sdk::seq::masked_bce_with_logits(logits, targets, masks).item<double>(),
      expected, 1e-6);
  // Nothing counted: a zero loss, not NaN.
  EXPECT_EQ(sdk::seq::masked_bce_with_logits(logits, targets, masks * 0)
                .item<double>(),
            0.0);
}

TEST(SequenceSdk, BuilderLaysOutStepsAndRefusesWrongShapes) {
  const at::Tensor items = at::ones({2, 3, 4});
  const sdk::DataDict b = sdk::seq::SequenceBuilder(2, 3, 4, 4)
                              .marker(0)
                              .present(items, 2)
                              .marker(1)
                              .answer(items * 0 + 1)
                              .build(3, 1);
  test::expect_sequence_batch(b, 2, 3, 4, 4, 3, 3);
  const at::Tensor& x = b.at("sequences");
  ASSERT_EQ(x.size(1), 8);
  EXPECT_TRUE(
      x.index({Slice(), 0})
          .equal(
              at::tensor({1.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}).expand({2, 7})));
  EXPECT_TRUE(x.index({Slice(), Slice(1, 4), 2}).eq(1).all().item<bool>());
  EXPECT_TRUE(x.index({Slice(), 4, 1}).eq(1).all().item<bool>());
  EXPECT_EQ(b.at("masks").sum().item<int64_t>(), 2 * 3);
  EXPECT_HAS(
      test::error_of([] {
        sdk::seq::SequenceBuilder(2, 3, 4, 4).present(at::ones({2, 3, 5}));
      }),
      "SequenceBuilder::present: expected [2, T, 4], got [2, 3, 5]");
  EXPECT_HAS(
      test::error_of([] { sdk::seq::SequenceBuilder(2, 3, 4, 4).marker(3); }),
      "control line 3 is not in [0, 3)");
}

TEST(SequenceSdk, CollatePaddedPadsWithUncountedZeros) {
  const sdk::DataDict a = sdk::seq::SequenceBuilder(1, 2, 1, 1)
                              .answer(at::ones({1, 2, 1}))
                              .build(2);
  const sdk::DataDict b = sdk::seq::SequenceBuilder(1, 2, 1, 1)
                              .answer(at::ones({1, 4, 1}))
                              .build(4);
  const sdk::DataDict c = sdk::seq::collate_padded({a, b});
  test::expect_sequence_batch(c, 2, 2, 1, 1, 2, 4);
  EXPECT_EQ(c.at("masks")[0].sum().item<int64_t>(), 2);
  EXPECT_EQ(c.at("masks")[1].sum().item<int64_t>(), 4);
  EXPECT_TRUE(
      c.at("sequences_length").view({2}).equal(at::tensor({2, 4}, at::kInt)));
}

// --- serial recall, the reference task
// ------------------------------------------

class SerialRecallTask : public test::Components {};

/// Checks one serial recall batch against the definition: a store marker,
/// L items, a recall marker, L answers equal to the items.
void expect_serial_recall(const sdk::DataDict& b, int64_t control_bits) {
  const at::Tensor& x = b.at("sequences");
  const at::Tensor& y = b.at("targets");
  const at::Tensor& m = b.at("masks");
  for (int64_t i = 0; i < x.size(0); ++i) {
    const int64_t len = b.at("sequences_length")[i][0].item<int64_t>();
    const int64_t c = control_bits;
    const at::Tensor data = x[i].slice(0, 1, len + 1).slice(1, c);
    EXPECT_EQ(x[i][0][0].item<float>(), 1.f) << "store marker";
    EXPECT_EQ(x[i][0].sum().item<float>(), 1.f);
    EXPECT_EQ(x[i][len + 1][1].item<float>(), 1.f) << "recall marker";
    EXPECT_EQ(x[i][len + 1].sum().item<float>(), 1.f);
    // No control line while storing; data lines empty while recalling.
    EXPECT_EQ(x[i].slice(0, 1, len + 1).slice(1, 0, c).sum().item<float>(),
              0.f);
    EXPECT_EQ(
        x[i].slice(0, len + 2, 2 * len + 2).slice(1, c).sum().item<float>(),
        0.f);
    EXPECT_TRUE(y[i].slice(0, len + 2, 2 * len + 2).equal(data));
    EXPECT_EQ(m[i].slice(0, len + 2, 2 * len + 2).sum().item<int64_t>(), len);
    EXPECT_EQ(m[i].sum().item<int64_t>(), len);
  }
}

TEST_F(SerialRecallTask, BatchesFollowTheDefinitionOnManySeeds) {
  auto p = problem("SerialRecallCommandLines",
                   "{batch_size: 4, control_bits: 4, data_bits: 5, "
                   "min_sequence_length: 2, max_sequence_length: 9}");
  for (uint64_t seed = 0; seed < 40; ++seed) {
    at::Generator gen = seeded(seed);
    const sdk::DataDict b = p->get_batch(test::range(4), gen);
    test::expect_sequence_batch(b, 4, 4, 5, 5, 2, 9);
    expect_serial_recall(b, 4);
    const int64_t len = b.at("sequences_length")[0][0].item<int64_t>();
    EXPECT_EQ(b.at("sequences").size(1), 2 * len + 2);
    // One command line (2 or 3) during the recall part, the same per batch.
    const at::Tensor lines = b.at("sequences")
                                 .slice(1, len + 2)
                                 .slice(2, 2, 4)
                                 .sum(at::IntArrayRef{0, 1});
    EXPECT_EQ((lines > 0).sum().item<int64_t>(), 1);
    at::Generator again = seeded(seed);
    EXPECT_TRUE(test::same_batch(b, p->get_batch(test::range(4), again)));
  }
}

TEST_F(SerialRecallTask, NotOptimizedDrawsALengthPerSampleAndPads) {
  auto p = problem("SerialRecallCommandLines",
                   "{batch_size: 16, min_sequence_length: 1, "
                   "max_sequence_length: 12, generation_mode: not_optimized}");
  at::Generator gen = seeded(3);
  const sdk::DataDict b = p->get_batch(test::range(16), gen);
  test::expect_sequence_batch(b, 16, 2, 8, 8, 1, 12);
  expect_serial_recall(b, 2);
  const at::Tensor len = b.at("sequences_length").view({16});
  EXPECT_GT(len.max().item<int64_t>(), len.min().item<int64_t>());
  EXPECT_EQ(b.at("sequences").size(1), 2 * len.max().item<int64_t>() + 2);
}

TEST_F(SerialRecallTask, CurriculumGrowsTheMaximumByEpochAndFinishes) {
  // 8 samples per epoch in batches of 4: the maximum grows every 2 episodes.
  auto p = problem("SerialRecallCommandLines",
                   "{batch_size: 4, size: 8, min_sequence_length: 1, "
                   "max_sequence_length: 5}");
  start_curriculum(*p, 2);
  EXPECT_FALSE(p->curriculum_learning_update_params(0));
  for (uint64_t seed = 0; seed < 20; ++seed) {
    at::Generator gen = seeded(seed);
    EXPECT_LE(p->get_batch(test::range(4), gen)
                  .at("sequences_length")
                  .max()
                  .item<int64_t>(),
              2);
  }
  EXPECT_FALSE(p->curriculum_learning_update_params(5));  // 3 epochs: 2 + 3
  at::Generator gen = seeded(1);
  int64_t longest = 0;
  for (int i = 0; i < 50; ++i)
    longest = std::max(longest, p->get_batch(test::range(4), gen)
                                    .at("sequences_length")
                                    .max()
                                    .item<int64_t>());
  EXPECT_EQ(longest, 5);
  EXPECT_TRUE(p->curriculum_learning_update_params(7));
}

TEST_F(SerialRecallTask, ParameterErrorsNameTheKey) {
  EXPECT_HAS(test::error_of([&] {
               problem("SerialRecall",
                       "{batch_size: 4, min_sequence_length: 3, "
                       "max_sequence_length: 2}");
             }),
             "[training.problem.min_sequence_length] (3) must be >= 1 and "
             "<= max_sequence_length (2)");
  EXPECT_HAS(test::error_of([&] {
               problem("SerialRecall",
                       "{batch_size: 4, min_sequence_length: 1, "
                       "max_sequence_length: 2, generation_mode: fast}");
             }),
             "[training.problem.generation_mode] = fast");
}

TEST(StatisticsErrors, AnUndeclaredStatisticNamesTheComponent) {
  // The fixture declares the accuracy aggregates but not acc / batch_size:
  // the error at the first aggregation names the problem and the key.
  test::TempDir d;
  const std::string cfg = d.write(
      "agg.yaml",
      "training:\n  problem: {name: FixtureProblem, batch_size: 8, size: 16,\n"
      "    accuracy_aggregates: true}\n"
      "  optimizer: {name: SGD, lr: 0.01}\n"
      "  terminal_conditions: {episode_limit: 10}\n"
      "validation:\n  problem: {name: FixtureProblem, batch_size: 8}\n"
      "model: {name: FixtureModel}\n");
  const test::RunResult r =
      test::run(test::kOnline + " --config " + cfg + " --expdir " + d.str() +
                "/exp --plugin-path " +
                std::filesystem::path(MIP_FIXTURE_GOOD).parent_path().string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output,
             "problem [FixtureProblem] aggregates: statistic [acc] was never "
             "declared");
}

}  // namespace sequence_test
}  // namespace mip
