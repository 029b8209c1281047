// The spatial manipulation tasks (ManipulationSpatialNot,
// ManipulationSpatialRotation) and the comparison tasks
// (SequenceComparison / Equality / SymmetryCommandLines) through the real
// loader and the real trainer: every batch is checked against the task's
// definition, recomputed from the items the batch itself presents.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/components.hpp"
#include "common/sequences.hpp"
#include "common/test_util.hpp"
#include "common/worker_runs.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace spatial_comparison_tasks_test {

using test::seeded;

/// One sample of a batch, split along the layout that all five tasks share:
/// a store marker, L items (first), a recall marker, L answer steps (second:
/// their data lines), then zero padding.
struct Sample {
  int64_t len = 0;
  int64_t line = -1;  ///< the command line on during the answer steps
  at::Tensor first, second, targets, masks;
};

/// Checks the shared layout of sample `i` and returns its parts.
Sample sample_of(const sdk::DataDict& b, int64_t i, int64_t c) {
  const at::Tensor x = b.at("sequences")[i];
  const at::Tensor y = b.at("targets")[i];
  const at::Tensor m = b.at("masks")[i];
  Sample s;
  s.len = b.at("sequences_length")[i][0].item<int64_t>();
  const int64_t len = s.len, end = 2 * len + 2;
  EXPECT_GE(x.size(0), end);
  const auto one_hot = [&](int64_t line) {
    at::Tensor v = at::zeros({x.size(1)});
    v[line] = 1.0;
    return v;
  };
  EXPECT_TRUE(x[0].equal(one_hot(0)))
      << "store marker alone on step 0: " << x[0];
  EXPECT_TRUE(x[len + 1].equal(one_hot(1)))
      << "recall marker alone: " << x[len + 1];
  EXPECT_EQ(x.slice(0, 1, len + 1).slice(1, 0, c).sum().item<float>(), 0.f)
      << "no control line while the first sequence is presented";
  // Answer part: lines 0 and 1 off; at most one other line, on at every step.
  const at::Tensor ctrl = x.slice(0, len + 2, end).slice(1, 0, c);
  EXPECT_EQ(ctrl.slice(1, 0, 2).sum().item<float>(), 0.f);
  const at::Tensor per_line = ctrl.sum(0);
  for (int64_t l = 2; l < c; ++l) {
    const auto on = per_line[l].item<int64_t>();
    EXPECT_TRUE(on == 0 || on == len) << "line " << l << " on " << on;
    if (on == len) {
      EXPECT_EQ(s.line, -1) << "two command lines";
      s.line = l;
    }
  }
  // Nothing before the answer part counts; the padding is empty.
  EXPECT_EQ(m.slice(0, 0, len + 2).sum().item<int64_t>(), 0);
  EXPECT_EQ(x.slice(0, end).sum().item<float>(), 0.f);
  EXPECT_EQ(m.slice(0, end).sum().item<int64_t>(), 0);
  s.first = x.slice(0, 1, len + 1).slice(1, c);
  s.second = x.slice(0, len + 2, end).slice(1, c);
  s.targets = y.slice(0, len + 2, end);
  s.masks = m.slice(0, len + 2, end);
  return s;
}

/// Per item [L, 1]: 1. where the two [L, D] sequences hold the same item.
at::Tensor same_items(const at::Tensor& a, const at::Tensor& b) {
  return a.eq(b).all(1, true).to(at::kFloat);
}

/// What each task answers, recomputed from a sample's own items.
using Check = std::function<void(const Sample&)>;

void expect_not(const Sample& s) {
  EXPECT_EQ(s.second.sum().item<float>(), 0.f) << "dummy steps carry no data";
  EXPECT_TRUE(s.targets.equal(1 - s.first)) << "answer = NOT item";
  EXPECT_EQ(s.masks.sum().item<int64_t>(), s.len);
}

/// Bit j of each answer is bit (j - k) mod D of the item, k the shift in
/// bits (|shift| < 1: a fraction of D, rounded half to even).
Check rotation(double shift) {
  return [shift](const Sample& s) {
    EXPECT_EQ(s.second.sum().item<float>(), 0.f);
    const int64_t d = s.first.size(1);
    const double bits = std::abs(shift) < 1 ? shift * double(d) : shift;
    const auto k = static_cast<int64_t>(std::nearbyint(bits));
    for (int64_t j = 0; j < d; ++j) {
      const int64_t from = (((j - k) % d) + d) % d;
      EXPECT_TRUE(s.targets.select(1, j).equal(s.first.select(1, from)))
          << "shift " << shift << ": answer bit " << j << " is item bit "
          << from;
    }
    EXPECT_EQ(s.masks.sum().item<int64_t>(), s.len);
  };
}

/// Every second-part step answers whether its item equals the stored one.
Check comparison(bool inequality) {
  return [inequality](const Sample& s) {
    const at::Tensor same = same_items(s.first, s.second);
    EXPECT_TRUE(s.targets.equal(inequality ? 1 - same : same));
    EXPECT_EQ(s.masks.sum().item<int64_t>(), s.len);
  };
}

/// One answer on the last step: whether the second sequence equals the first
/// (reversed: the first reversed); `negate` for inequality / antisymmetry.
/// With `hard`, a mismatch is in one item at most.
Check whole_match(bool reversed, bool negate, bool hard) {
  return [=](const Sample& s) {
    const at::Tensor ref = reversed ? s.first.flip({0}) : s.first;
    const at::Tensor same = same_items(ref, s.second);
    const float match = same.min().item<float>();
    const int64_t last = s.len - 1;
    EXPECT_EQ(s.targets[last][0].item<float>(), negate ? 1 - match : match);
    EXPECT_EQ(s.targets.slice(0, 0, last).sum().item<float>(), 0.f);
    EXPECT_EQ(s.masks[last][0].item<int64_t>(), 1);
    EXPECT_EQ(s.masks.sum().item<int64_t>(), 1) << "only the last step counts";
    if (hard)
      EXPECT_LE(s.len - same.sum().item<int64_t>(), 1) << "hard: one item";
  };
}

/// How often, over a run of batches, the answers and the data came out.
struct Tally {
  int64_t answers = 0, ones = 0, samples = 0, differing_items_max = 0;
  std::set<int64_t> lengths, lines;
};

class SpatialComparisonTasks : public test::Components {
 protected:
  /// 40 seeds of `name` with `yaml`: every batch of `batch` samples follows
  /// the layout and `check`, lengths lie in [lo, hi], and the same seed
  /// gives the same batch. Returns what was seen.
  Tally many_seeds(const std::string& name,
                   const std::string& yaml,
                   int64_t batch,
                   int64_t c,
                   int64_t d,
                   int64_t out,
                   int64_t lo,
                   int64_t hi,
                   const Check& check) {
    auto p = problem(name, yaml);
    Tally t;
    for (uint64_t seed = 0; seed < 40; ++seed) {
      at::Generator gen = seeded(seed);
      const sdk::DataDict b = p->get_batch(test::range(batch), gen);
      test::expect_sequence_batch(b, batch, c, d, out, lo, hi);
      std::set<int64_t> batch_lines;
      for (int64_t i = 0; i < batch; ++i) {
        const Sample s = sample_of(b, i, c);
        check(s);
        t.lengths.insert(s.len);
        t.lines.insert(s.line);
        batch_lines.insert(s.line);
        const at::Tensor counted =
            s.targets.masked_select(s.masks.to(at::kBool));
        t.answers += counted.numel();
        t.ones += counted.sum().item<int64_t>();
        t.samples += 1;
        const bool reversed = name.find("Symmetry") != std::string::npos;
        const at::Tensor ref = reversed ? s.first.flip({0}) : s.first;
        t.differing_items_max =
            std::max(t.differing_items_max,
                     s.len - same_items(ref, s.second).sum().item<int64_t>());
      }
      EXPECT_EQ(batch_lines.size(), 1u) << "one command line per batch";
      at::Generator again = seeded(seed);
      EXPECT_TRUE(test::same_batch(b, p->get_batch(test::range(batch), again)))
          << "seed " << seed;
    }
    return t;
  }
};

// --- the spatial manipulations
// ----------------------------------------------------

TEST_F(SpatialComparisonTasks, NotNegatesEveryBitOnManySeedsAndLengths) {
  const Tally t = many_seeds("ManipulationSpatialNot",
                             "{batch_size: 6, control_bits: 4, data_bits: 5, "
                             "min_sequence_length: 2, max_sequence_length: 8}",
                             6, 4, 5, 5, 2, 8, expect_not);
  EXPECT_GE(t.lengths.size(), 5u) << "lengths drawn across [2, 8]";
  // A command line among the extra ones (2, 3), drawn per batch.
  EXPECT_EQ(t.lines, (std::set<int64_t>{2, 3}));
  // Two control lines: no command line at all.
  const Tally two = many_seeds(
      "manipulation_spatial_not",
      "{batch_size: 3, min_sequence_length: 1, max_sequence_length: 3}", 3, 2,
      8, 8, 1, 3, expect_not);
  EXPECT_EQ(two.lines, (std::set<int64_t>{-1}));
}

TEST_F(SpatialComparisonTasks, RotationShiftsBitsByTheParameter) {
  // Fractions of data_bits (0.5 of 6 = 3, 0.25 of 6 = 1.5 -> 2 halves to
  // even, -0.375 of 8 = -3), whole bits, and shifts beyond data_bits.
  const std::vector<std::pair<double, int64_t>> cases = {
      {0.5, 6}, {0.25, 6}, {-0.375, 8}, {1, 5}, {-1, 5}, {3, 4}, {11, 4}};
  for (const auto& [shift, d] : cases) {
    std::ostringstream yaml;
    yaml << "{batch_size: 4, control_bits: 3, data_bits: " << d
         << ", min_sequence_length: 1, max_sequence_length: 6, "
            "num_bits_shifted: "
         << shift << "}";
    SCOPED_TRACE(yaml.str());
    const Tally t = many_seeds("ManipulationSpatialRotation", yaml.str(), 4, 3,
                               d, d, 1, 6, rotation(shift));
    EXPECT_GE(t.lengths.size(), 4u);
    EXPECT_EQ(t.lines, (std::set<int64_t>{2}));
  }
  // The default is half of the bits; num_bits (its older name) wins when set.
  many_seeds("manipulation_spatial_rotation",
             "{batch_size: 2, min_sequence_length: 1, max_sequence_length: 4}",
             2, 2, 8, 8, 1, 4, rotation(0.5));
  many_seeds("ManipulationSpatialRotation",
             "{batch_size: 2, min_sequence_length: 1, max_sequence_length: 4, "
             "num_bits: 2}",
             2, 2, 8, 8, 1, 4, rotation(2));
}

// --- the comparisons
// --------------------------------------------------------------

TEST_F(SpatialComparisonTasks, ComparisonAnswersEveryItemOnManySeeds) {
  for (const bool inequality : {false, true}) {
    const std::string yaml =
        std::string(
            "{batch_size: 8, control_bits: 5, data_bits: 4, "
            "min_sequence_length: 1, max_sequence_length: 9, "
            "inequality: ") +
        (inequality ? "true}" : "false}");
    SCOPED_TRACE(yaml);
    const Tally t = many_seeds("SequenceComparisonCommandLines", yaml, 8, 5, 4,
                               1, 1, 9, comparison(inequality));
    EXPECT_GE(t.lengths.size(), 6u);
    EXPECT_EQ(t.lines, (std::set<int64_t>{2, 3, 4}));
    // About half of the items are kept (a scrambled one may stay equal by
    // chance: 1/16 with 4 bits); both answers occur often.
    const double kept =
        double(inequality ? t.answers - t.ones : t.ones) / double(t.answers);
    EXPECT_GT(kept, 0.4);
    EXPECT_LT(kept, 0.7);
  }
}

TEST_F(SpatialComparisonTasks, EqualityAnswersOnTheLastStepOnManySeeds) {
  for (const bool hard : {false, true})
    for (const bool inequality : {false, true}) {
      std::ostringstream yaml;
      yaml << std::boolalpha
           << "{batch_size: 8, control_bits: 3, data_bits: 6, "
              "min_sequence_length: 3, max_sequence_length: 10, hard: "
           << hard << ", inequality: " << inequality << "}";
      SCOPED_TRACE(yaml.str());
      const Tally t =
          many_seeds("SequenceEqualityCommandLines", yaml.str(), 8, 3, 6, 1, 3,
                     10, whole_match(false, inequality, hard));
      EXPECT_GE(t.lengths.size(), 6u);
      EXPECT_EQ(t.answers, t.samples) << "one answer per sample";
      const double matched =
          double(inequality ? t.samples - t.ones : t.ones) / double(t.samples);
      EXPECT_GT(matched, 0.35);
      EXPECT_LT(matched, 0.65);
      // Hard changes one item; otherwise every item is scrambled.
      if (hard)
        EXPECT_EQ(t.differing_items_max, 1);
      else
        EXPECT_GE(t.differing_items_max, 5);
    }
}

TEST_F(SpatialComparisonTasks, SymmetryComparesWithTheReversedFirst) {
  for (const bool hard : {false, true})
    for (const bool antisymmetry : {false, true}) {
      std::ostringstream yaml;
      yaml << std::boolalpha
           << "{batch_size: 8, control_bits: 2, data_bits: 5, "
              "min_sequence_length: 2, max_sequence_length: 7, hard: "
           << hard << ", antisymmetry: " << antisymmetry << "}";
      SCOPED_TRACE(yaml.str());
      const Tally t =
          many_seeds("SequenceSymmetryCommandLines", yaml.str(), 8, 2, 5, 1, 2,
                     7, whole_match(true, antisymmetry, hard));
      EXPECT_GE(t.lengths.size(), 5u);
      EXPECT_EQ(t.lines, (std::set<int64_t>{-1}));
      const double matched =
          double(antisymmetry ? t.samples - t.ones : t.ones) /
          double(t.samples);
      EXPECT_GT(matched, 0.35);
      EXPECT_LT(matched, 0.65);
      if (hard)
        EXPECT_EQ(t.differing_items_max, 1);
      else
        EXPECT_GE(t.differing_items_max, 4);
    }
  // A symmetric second sequence is generally not equal to the first: the
  // answer is about reversal, not equality.
  auto p = problem("SequenceSymmetry",
                   "{batch_size: 64, min_sequence_length: 4, "
                   "max_sequence_length: 4}");
  at::Generator gen = seeded(5);
  const sdk::DataDict b = p->get_batch(test::range(64), gen);
  int64_t symmetric_not_equal = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const Sample s = sample_of(b, i, 2);
    if (s.targets[3][0].item<float>() == 1.f && !s.first.equal(s.second))
      ++symmetric_not_equal;
  }
  EXPECT_GT(symmetric_not_equal, 10);
}

// --- what all five share
// ----------------------------------------------------------

struct Task {
  std::string name;
  int64_t out_bits;
  Check check;
};

std::vector<Task> all_tasks() {
  return {{"ManipulationSpatialNot", 8, expect_not},
          {"ManipulationSpatialRotation", 8, rotation(0.5)},
          {"SequenceComparisonCommandLines", 1, comparison(false)},
          {"SequenceEqualityCommandLines", 1, whole_match(false, false, false)},
          {"SequenceSymmetryCommandLines", 1, whole_match(true, false, false)}};
}

TEST_F(SpatialComparisonTasks, NotOptimizedDrawsALengthPerSampleAndPads) {
  for (const Task& task : all_tasks()) {
    SCOPED_TRACE(task.name);
    auto p = problem(task.name,
                     "{batch_size: 16, min_sequence_length: 1, "
                     "max_sequence_length: 9, control_bits: 3, "
                     "randomize_control_lines: false, "
                     "generation_mode: not_optimized}");
    at::Generator gen = seeded(7);
    const sdk::DataDict b = p->get_batch(test::range(16), gen);
    test::expect_sequence_batch(b, 16, 3, 8, task.out_bits, 1, 9);
    for (int64_t i = 0; i < 16; ++i) {
      const Sample s = sample_of(b, i, 3);
      task.check(s);
      EXPECT_EQ(s.line, 2) << "randomize_control_lines off: the last line";
    }
    const at::Tensor len = b.at("sequences_length").view({16});
    EXPECT_GT(len.max().item<int64_t>(), len.min().item<int64_t>());
    EXPECT_EQ(b.at("sequences").size(1), 2 * len.max().item<int64_t>() + 2);
  }
}

TEST_F(SpatialComparisonTasks, NoCommandLineWhenControlLinesAreOff) {
  for (const Task& task : all_tasks()) {
    SCOPED_TRACE(task.name);
    auto p = problem(task.name,
                     "{batch_size: 4, min_sequence_length: 2, "
                     "max_sequence_length: 5, control_bits: 4, "
                     "use_control_lines: false}");
    for (uint64_t seed = 0; seed < 30; ++seed) {
      at::Generator gen = seeded(seed);
      const sdk::DataDict b = p->get_batch(test::range(4), gen);
      for (int64_t i = 0; i < 4; ++i) {
        const Sample s = sample_of(b, i, 4);
        task.check(s);
        EXPECT_EQ(s.line, -1);
      }
    }
  }
}

TEST_F(SpatialComparisonTasks, CurriculumBoundsTheLengths) {
  // 8 samples per epoch in batches of 4: the maximum grows every 2 episodes.
  for (const Task& task : all_tasks()) {
    SCOPED_TRACE(task.name);
    auto p = problem(task.name,
                     "{batch_size: 4, size: 8, min_sequence_length: 2, "
                     "max_sequence_length: 6}");
    start_curriculum(*p, 3);
    EXPECT_FALSE(p->curriculum_learning_update_params(0));
    std::set<int64_t> seen;
    for (uint64_t seed = 0; seed < 30; ++seed) {
      at::Generator gen = seeded(seed);
      const sdk::DataDict b = p->get_batch(test::range(4), gen);
      test::expect_sequence_batch(b, 4, 2, 8, task.out_bits, 2, 3);
      for (int64_t i = 0; i < 4; ++i)
        task.check(sample_of(b, i, 2));
      seen.insert(b.at("sequences_length")[0][0].item<int64_t>());
    }
    EXPECT_EQ(seen, (std::set<int64_t>{2, 3}));
    EXPECT_FALSE(p->curriculum_learning_update_params(3));  // 2 epochs: 3 + 2
    seen.clear();
    for (uint64_t seed = 0; seed < 40; ++seed) {
      at::Generator gen = seeded(seed);
      seen.insert(p->get_batch(test::range(4), gen)
                      .at("sequences_length")[0][0]
                      .item<int64_t>());
    }
    EXPECT_EQ(*seen.rbegin(), 5);
    EXPECT_TRUE(p->curriculum_learning_update_params(7));  // capped at 6: done
  }
}

TEST_F(SpatialComparisonTasks, AliasesResolveToTheTasks) {
  const std::vector<std::pair<std::string, std::string>> aliases = {
      {"manipulation_spatial_not", "ManipulationSpatialNot"},
      {"manipulation_spatial_rotation", "ManipulationSpatialRotation"},
      {"SequenceComparison", "SequenceComparisonCommandLines"},
      {"sequence_comparison_cl", "SequenceComparisonCommandLines"},
      {"sequence_comparison", "SequenceComparisonCommandLines"},
      {"comparison", "SequenceComparisonCommandLines"},
      {"SequenceEquality", "SequenceEqualityCommandLines"},
      {"sequence_equality_cl", "SequenceEqualityCommandLines"},
      {"sequence_equality", "SequenceEqualityCommandLines"},
      {"equality", "SequenceEqualityCommandLines"},
      {"SequenceSymmetry", "SequenceSymmetryCommandLines"},
      {"sequence_symmetry_cl", "SequenceSymmetryCommandLines"},
      {"sequence_symmetry", "SequenceSymmetryCommandLines"}};
  for (const auto& [alias, name] : aliases)
    EXPECT_EQ(loader_.find(sdk::ComponentKind::kProblem, alias).name, name)
        << alias;
  // Only declared names: no guessing from case or underscores.
  EXPECT_HAS(test::error_of([&] {
               loader_.find(sdk::ComponentKind::kProblem, "sequenceequality");
             }),
             "sequenceequality");
}

TEST_F(SpatialComparisonTasks, ParameterErrorsNameTheKey) {
  const std::string lengths =
      "batch_size: 4, min_sequence_length: 1, max_sequence_length: 3";
  EXPECT_HAS(test::error_of([&] {
               problem("ManipulationSpatialRotation",
                       "{data_bits: 1, " + lengths + "}");
             }),
             "[training.problem.data_bits] must be >= 2 (bits to rotate), "
             "got 1");
  EXPECT_HAS(test::error_of([&] {
               problem("ManipulationSpatialRotation",
                       "{num_bits_shifted: half, " + lengths + "}");
             }),
             "[training.problem.num_bits_shifted]");
  EXPECT_HAS(test::error_of([&] {
               problem("SequenceComparisonCommandLines",
                       "{control_bits: 1, " + lengths + "}");
             }),
             "[training.problem.control_bits] must be >= 2");
  EXPECT_HAS(test::error_of([&] {
               problem("SequenceComparisonCommandLines",
                       "{inequality: maybe, " + lengths + "}");
             }),
             "[training.problem.inequality]");
  EXPECT_HAS(test::error_of([&] {
               problem("SequenceEqualityCommandLines",
                       "{hard: 3, " + lengths + "}");
             }),
             "[training.problem.hard]");
  EXPECT_HAS(test::error_of([&] {
               problem("SequenceSymmetryCommandLines",
                       "{antisymmetry: often, " + lengths + "}");
             }),
             "[training.problem.antisymmetry]");
  EXPECT_HAS(test::error_of([&] {
               problem("ManipulationSpatialNot", "{max_sequence_length: 3}");
             }),
             "[training.problem.min_sequence_length] is required");
}

// --- training with the LSTM
// -------------------------------------------------------

/// 200 episodes of `name` with a small LSTM: exit 0, one statistics row per
/// episode with acc in [0, 1] and seq_length in [1, 5].
void expect_trains(const std::string& name, const std::string& extra) {
  test::TempDir d;
  const std::string problem = "{name: " + name +
                              ", control_bits: 3, batch_size: 16, "
                              "min_sequence_length: 1, max_sequence_length: "
                              "5" +
                              extra;
  const auto exp = test::short_lstm_run(d, problem + ", size: 1600}");
  ASSERT_FALSE(exp.empty());
  const auto rows = test::csv_rows(exp / "training_statistics.csv");
  ASSERT_EQ(rows.size(), 1u + 200u);
  const auto& header = rows[0];
  const auto col = [&](const char* key) {
    const auto it = std::find(header.begin(), header.end(), key);
    EXPECT_NE(it, header.end()) << key;
    return static_cast<size_t>(it - header.begin());
  };
  const size_t acc = col("acc"), len = col("seq_length");
  std::set<std::string> lengths;
  double acc_first = 0, acc_last = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const double a = std::stod(rows[i].at(acc));
    EXPECT_GE(a, 0.0);
    EXPECT_LE(a, 1.0);
    const int l = std::stoi(rows[i].at(len));
    EXPECT_GE(l, 1);
    EXPECT_LE(l, 5);
    lengths.insert(rows[i].at(len));
    if (i <= 50)
      acc_first += a;
    if (i > 150)
      acc_last += a;
  }
  EXPECT_GE(lengths.size(), 4u) << "lengths drawn per batch";
  std::cout << name << ": mean acc over episodes 1-50 " << acc_first / 50
            << ", 151-200 " << acc_last / 50 << "\n";
}

TEST(SpatialComparisonTraining, ManipulationSpatialNotTrainsWithTheLstm) {
  expect_trains("ManipulationSpatialNot", "");
}

TEST(SpatialComparisonTraining, ManipulationSpatialRotationTrainsWithTheLstm) {
  expect_trains("ManipulationSpatialRotation", ", num_bits_shifted: 1");
}

TEST(SpatialComparisonTraining, SequenceComparisonTrainsWithTheLstm) {
  expect_trains("SequenceComparisonCommandLines", "");
}

TEST(SpatialComparisonTraining, SequenceEqualityTrainsWithTheLstm) {
  expect_trains("SequenceEqualityCommandLines", ", hard: true");
}

TEST(SpatialComparisonTraining, SequenceSymmetryTrainsWithTheLstm) {
  expect_trains("SequenceSymmetryCommandLines", ", antisymmetry: true");
}

}  // namespace spatial_comparison_tasks_test
}  // namespace mip
