// The recall and temporal manipulation tasks (plugins mip_recall and
// mip_manipulation_temporal) through the real loader: every batch checked
// against the task's definition, computed from the items the test reads back
// from the batch itself; then each task trained briefly by the real
// mip-online-trainer with the LSTM.
#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <mip/sdk/sequence.hpp>

#include "common/components.hpp"
#include "common/sequences.hpp"
#include "common/test_util.hpp"
#include "common/worker_runs.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace recall_tasks_test {

using test::seeded;

/// The answer a task gives to the stored `items` [L, D].
using AnswerOf = std::function<at::Tensor(const at::Tensor& items)>;

// --- the definitions, item by item
// --------------------------------------------

at::Tensor serial(const at::Tensor& items) {
  return items;
}

at::Tensor reversed(const at::Tensor& items) {
  std::vector<at::Tensor> out;
  for (int64_t j = items.size(0) - 1; j >= 0; --j)
    out.push_back(items[j]);
  return at::stack(out);
}

/// Items start, start + step, ... in order (empty when start >= L).
AnswerOf skipped(int64_t start, int64_t step) {
  return [=](const at::Tensor& items) {
    std::vector<at::Tensor> out;
    for (int64_t j = start; j < items.size(0); j += step)
      out.push_back(items[j]);
    return out.empty() ? items.slice(0, 0, 0) : at::stack(out);
  };
}

/// Item j answered at step j + n (mod L); |n| < 1 is a fraction of L,
/// rounded half to even.
AnswerOf rotated(double n) {
  return [=](const at::Tensor& items) {
    const int64_t len = items.size(0);
    const double amount = std::fabs(n) < 1 ? n * double(len) : n;
    const int64_t shift =
        ((static_cast<int64_t>(std::nearbyint(amount)) % len) + len) % len;
    at::Tensor out = at::empty_like(items);
    for (int64_t j = 0; j < len; ++j)
      out[(j + shift) % len].copy_(items[j]);
    return out;
  };
}

// --- reading a batch back
// -----------------------------------------------------

/// The control part [C] of a step holding only control line `line`.
at::Tensor one_hot(int64_t control_bits, int64_t line) {
  at::Tensor v = at::zeros({control_bits});
  if (line >= 0)
    v[line] = 1.0;
  return v;
}

/// The command lines a batch shows during its answer steps: those of sample
/// 0's first answer step (right after its first recall marker), checked to
/// be one line in [2, C), or none when `expect_line` is false.
at::Tensor command_lines(const sdk::DataDict& b,
                         int64_t control_bits,
                         bool expect_line) {
  const at::Tensor x = b.at("sequences")[0];
  int64_t recall = 0;
  while (x[recall][1].item<float>() != 1.f)
    ++recall;
  const at::Tensor c = x[recall + 1].slice(0, 0, control_bits);
  EXPECT_EQ(c.slice(0, 0, 2).sum().item<float>(), 0.f);
  EXPECT_EQ(c.sum().item<float>(), expect_line ? 1.f : 0.f)
      << "command lines " << c;
  return c;
}

/// Checks that steps [from, T) of sample `i` are padding: zero, not counted.
void expect_padding(const sdk::DataDict& b, int64_t i, int64_t from) {
  EXPECT_EQ(b.at("sequences")[i].slice(0, from).abs().sum().item<float>(), 0.f);
  EXPECT_EQ(b.at("masks")[i].slice(0, from).sum().item<int64_t>(), 0);
}

/// Checks steps [pos, pos + A) of sample `i`: no data, the command lines
/// `cmd`, targets `answer` [A, D], all counted.
void expect_answer(const sdk::DataDict& b,
                   int64_t i,
                   int64_t pos,
                   const at::Tensor& answer,
                   const at::Tensor& cmd) {
  const int64_t c = cmd.size(0), a = answer.size(0);
  const at::Tensor x = b.at("sequences")[i].slice(0, pos, pos + a);
  ASSERT_EQ(x.size(0), a) << "answer runs past the end";
  EXPECT_EQ(x.slice(1, c).sum().item<float>(), 0.f) << "data while recalling";
  EXPECT_TRUE(x.slice(1, 0, c).equal(cmd.expand({a, c})));
  EXPECT_TRUE(b.at("targets")[i].slice(0, pos, pos + a).equal(answer));
  EXPECT_TRUE(b.at("masks")[i].slice(0, pos, pos + a).eq(1).all().item<bool>());
}

/// Checks sample `i` of a store-then-recall batch: a store marker, L items
/// with no control line and nothing to answer, then recall parts (a recall
/// marker, then steps answering answer_of(items) with the command lines
/// `cmd`), then padding. Returns the number of recall parts.
int64_t expect_recall_sample(const sdk::DataDict& b,
                             int64_t i,
                             const AnswerOf& answer_of,
                             const at::Tensor& cmd) {
  const int64_t c = cmd.size(0);
  const at::Tensor x = b.at("sequences")[i];
  const at::Tensor m = b.at("masks")[i];
  const int64_t len = b.at("sequences_length")[i][0].item<int64_t>();
  const int64_t steps = x.size(0);
  EXPECT_TRUE(x[0].slice(0, 0, c).equal(one_hot(c, 0))) << "store marker";
  EXPECT_EQ(x[0].slice(0, c).sum().item<float>(), 0.f);
  EXPECT_EQ(x.slice(0, 1, len + 1).slice(1, 0, c).sum().item<float>(), 0.f);
  EXPECT_EQ(m.slice(0, 0, len + 1).sum().item<int64_t>(), 0);
  const at::Tensor items = x.slice(0, 1, len + 1).slice(1, c);
  const at::Tensor answer = answer_of(items);
  int64_t pos = len + 1, recalls = 0;
  while (pos < steps && x[pos][1].item<float>() == 1.f) {
    EXPECT_TRUE(x[pos].slice(0, 0, c).equal(one_hot(c, 1))) << "recall marker";
    EXPECT_EQ(x[pos].slice(0, c).sum().item<float>(), 0.f);
    EXPECT_EQ(m[pos].item<int64_t>(), 0);
    expect_answer(b, i, pos + 1, answer, cmd);
    pos += answer.size(0) + 1;
    ++recalls;
  }
  EXPECT_GE(recalls, 1) << "no recall marker after the items";
  expect_padding(b, i, pos);
  EXPECT_EQ(m.sum().item<int64_t>(), recalls * answer.size(0));
  EXPECT_EQ(b.at("num_subsequences")[i][0].item<int>(), 1);
  return recalls;
}

/// What many batches of a task showed.
struct Seen {
  std::set<int64_t> lengths, recalls, lines;
};

/// A task's parameters for the batch checks.
struct TaskCase {
  std::string name;
  std::string yaml;  ///< the flow map, without braces, e.g. "num_items: 2"
  AnswerOf answer_of;
};

/// Test names show the task, not the bytes of the case.
void PrintTo(const TaskCase& t, std::ostream* os) {
  *os << t.name;
}

class RecallTasks : public test::Components {
 protected:
  /// 40 seeds of `t` with 4 control lines, 5 data bits, lengths in [lo, hi]:
  /// each batch checked against the definition, one length and one number
  /// of recalls per batch ("optimized"), the same seed giving the same batch.
  Seen check_seeds(const TaskCase& t, int64_t lo, int64_t hi) {
    const std::string params =
        "{batch_size: 4, control_bits: 4, data_bits: 5, min_sequence_length: " +
        std::to_string(lo) + ", max_sequence_length: " + std::to_string(hi) +
        (t.yaml.empty() ? "" : ", " + t.yaml) + "}";
    auto p = problem(t.name, params);
    Seen seen;
    for (uint64_t seed = 0; seed < 40; ++seed) {
      at::Generator gen = seeded(seed);
      const sdk::DataDict b = p->get_batch(test::range(4), gen);
      test::expect_sequence_batch(b, 4, 4, 5, 5, lo, hi);
      const at::Tensor cmd = command_lines(b, 4, true);
      seen.lines.insert(cmd.argmax().item<int64_t>());
      std::set<int64_t> recalls;
      for (int64_t i = 0; i < 4; ++i)
        recalls.insert(expect_recall_sample(b, i, t.answer_of, cmd));
      EXPECT_EQ(recalls.size(), 1u) << "one number of recalls per batch";
      seen.recalls.insert(*recalls.begin());
      const at::Tensor len = b.at("sequences_length");
      EXPECT_TRUE(len.eq(len[0][0]).all().item<bool>());
      seen.lengths.insert(len[0][0].item<int64_t>());
      at::Generator again = seeded(seed);
      EXPECT_TRUE(test::same_batch(b, p->get_batch(test::range(4), again)))
          << t.name << " seed " << seed;
    }
    // Randomized command lines: both extra lines show up.
    EXPECT_EQ(seen.lines, (std::set<int64_t>{2, 3})) << t.name;
    return seen;
  }
};

std::set<int64_t> all_of(int64_t lo, int64_t hi) {
  std::set<int64_t> s;
  for (int64_t v = lo; v <= hi; ++v)
    s.insert(v);
  return s;
}

// --- the store-then-recall tasks, one by one
// -----------------------------------

TEST_F(RecallTasks, RepeatSerialRecallRepeatsTheItemsNTimes) {
  const TaskCase t{"RepeatSerialRecallCommandLines", "", serial};
  const Seen a = check_seeds(t, 1, 4);
  EXPECT_EQ(a.lengths, all_of(1, 4));
  EXPECT_EQ(a.recalls, all_of(1, 5)) << "defaults 1..5";
  const Seen b = check_seeds(
      {t.name, "min_recall_number: 2, max_recall_number: 3", serial}, 6, 9);
  EXPECT_EQ(b.lengths, all_of(6, 9));
  EXPECT_EQ(b.recalls, all_of(2, 3));
}

TEST_F(RecallTasks, ReverseRecallAnswersLastItemFirst) {
  const Seen a = check_seeds({"ReverseRecallCommandLines", "", reversed}, 1, 6);
  EXPECT_EQ(a.lengths, all_of(1, 6));
  EXPECT_EQ(a.recalls, all_of(1, 1));
  check_seeds({"ReverseRecallCommandLines", "", reversed}, 10, 12);
}

TEST_F(RecallTasks, RepeatReverseRecallRepeatsTheReversedItems) {
  const TaskCase t{"RepeatReverseRecallCommandLines", "", reversed};
  const Seen a = check_seeds(t, 2, 5);
  EXPECT_EQ(a.lengths, all_of(2, 5));
  EXPECT_EQ(a.recalls, all_of(1, 5));
  const Seen b = check_seeds(
      {t.name, "min_recall_number: 4, max_recall_number: 4", reversed}, 7, 7);
  EXPECT_EQ(b.recalls, all_of(4, 4));
}

TEST_F(RecallTasks, SkipRecallAnswersEverySkipStepThItemFromSeqStart) {
  // Defaults: seq_start 0, skip_step 2 (odd recall).
  const Seen a =
      check_seeds({"SkipRecallCommandLines", "", skipped(0, 2)}, 1, 7);
  EXPECT_EQ(a.lengths, all_of(1, 7));
  EXPECT_EQ(a.recalls, all_of(1, 1));
  check_seeds(
      {"SkipRecallCommandLines", "seq_start: 1, skip_step: 3", skipped(1, 3)},
      2, 10);
  check_seeds(
      {"SkipRecallCommandLines", "seq_start: 2, skip_step: 1", skipped(2, 1)},
      3, 6);
}

TEST_F(RecallTasks, TemporalRotationRotatesByNumItems) {
  // Default 0.5: half the length, rounded half to even.
  const Seen a =
      check_seeds({"ManipulationTemporalRotation", "", rotated(0.5)}, 1, 6);
  EXPECT_EQ(a.lengths, all_of(1, 6));
  check_seeds({"ManipulationTemporalRotation", "num_items: 2", rotated(2)}, 1,
              6);
  check_seeds({"ManipulationTemporalRotation", "num_items: -1", rotated(-1)}, 2,
              6);
  check_seeds(
      {"ManipulationTemporalRotation", "num_items: -0.25", rotated(-0.25)}, 4,
      8);
}

// --- scratch pad -------------------------------------------------------------

/// Checks sample `i` of a scratch pad batch: K subsequences, each a store
/// marker and its items, then a recall marker and the last subsequence as
/// the answer, then padding. Returns the subsequence lengths.
std::vector<int64_t> expect_scratch_pad_sample(const sdk::DataDict& b,
                                               int64_t i,
                                               const at::Tensor& cmd) {
  const int64_t c = cmd.size(0);
  const at::Tensor x = b.at("sequences")[i];
  const at::Tensor m = b.at("masks")[i];
  std::vector<int64_t> lengths;
  at::Tensor last;
  int64_t pos = 0;
  while (pos < x.size(0) && x[pos][0].item<float>() == 1.f) {
    EXPECT_TRUE(x[pos].slice(0, 0, c).equal(one_hot(c, 0))) << "store marker";
    EXPECT_EQ(x[pos].slice(0, c).sum().item<float>(), 0.f);
    const int64_t start = ++pos;
    while (pos < x.size(0) && x[pos].slice(0, 0, c).sum().item<float>() == 0.f)
      ++pos;
    lengths.push_back(pos - start);
    last = x.slice(0, start, pos).slice(1, c);
  }
  EXPECT_EQ(m.slice(0, 0, pos + 1).sum().item<int64_t>(), 0)
      << "counted before the recall";
  EXPECT_FALSE(lengths.empty());
  if (lengths.empty() || pos >= x.size(0))
    return lengths;
  EXPECT_TRUE(x[pos].slice(0, 0, c).equal(one_hot(c, 1))) << "recall marker";
  expect_answer(b, i, pos + 1, last, cmd);
  expect_padding(b, i, pos + 1 + last.size(0));
  EXPECT_EQ(b.at("num_subsequences")[i][0].item<int64_t>(),
            static_cast<int64_t>(lengths.size()));
  EXPECT_EQ(b.at("sequences_length")[i][0].item<int64_t>(),
            *std::max_element(lengths.begin(), lengths.end()));
  return lengths;
}

TEST_F(RecallTasks, ScratchPadAnswersTheLastSubsequenceOnly) {
  for (const auto& [lo, hi, kmin, kmax] :
       std::vector<std::array<int64_t, 4>>{{1, 4, 1, 3}, {3, 8, 2, 5}}) {
    auto p = problem(
        "ScratchPadCommandLines",
        "{batch_size: 4, control_bits: 4, data_bits: 5, min_sequence_length: " +
            std::to_string(lo) + ", max_sequence_length: " +
            std::to_string(hi) + ", num_subseq_min: " + std::to_string(kmin) +
            ", num_subseq_max: " + std::to_string(kmax) + "}");
    std::set<int64_t> counts, lengths, lines;
    for (uint64_t seed = 0; seed < 40; ++seed) {
      at::Generator gen = seeded(seed);
      const sdk::DataDict b = p->get_batch(test::range(4), gen);
      test::expect_sequence_batch(b, 4, 4, 5, 5, lo, hi);
      const at::Tensor cmd = command_lines(b, 4, true);
      lines.insert(cmd.argmax().item<int64_t>());
      std::vector<int64_t> first;
      for (int64_t i = 0; i < 4; ++i) {
        const std::vector<int64_t> l = expect_scratch_pad_sample(b, i, cmd);
        if (i == 0)
          first = l;
        // One draw per batch: every sample has the same subsequences.
        EXPECT_EQ(l, first);
      }
      counts.insert(static_cast<int64_t>(first.size()));
      lengths.insert(first.begin(), first.end());
      at::Generator again = seeded(seed);
      EXPECT_TRUE(test::same_batch(b, p->get_batch(test::range(4), again)));
    }
    EXPECT_EQ(counts, all_of(kmin, kmax));
    EXPECT_EQ(lengths, all_of(lo, hi));
    EXPECT_EQ(lines, (std::set<int64_t>{2, 3}));
  }
}

// --- all six: generation modes, command lines, curriculum
// ----------------------

/// Every task with the parameters it needs besides the common ones, and its
/// definition (ScratchPad has its own).
const std::vector<TaskCase>& all_tasks() {
  static const std::vector<TaskCase> tasks{
      {"RepeatSerialRecallCommandLines", "", serial},
      {"ScratchPadCommandLines", "num_subseq_min: 1, num_subseq_max: 3",
       nullptr},
      {"ReverseRecallCommandLines", "", reversed},
      {"RepeatReverseRecallCommandLines", "", reversed},
      {"SkipRecallCommandLines", "", skipped(0, 2)},
      {"ManipulationTemporalRotation", "", rotated(0.5)},
  };
  return tasks;
}

/// Checks every sample of `b` against task `t`'s definition.
void expect_task_batch(const TaskCase& t,
                       const sdk::DataDict& b,
                       const at::Tensor& cmd) {
  for (int64_t i = 0; i < b.at("sequences").size(0); ++i) {
    if (t.answer_of)
      expect_recall_sample(b, i, t.answer_of, cmd);
    else
      expect_scratch_pad_sample(b, i, cmd);
  }
}

std::string with(const TaskCase& t, const std::string& params) {
  return "{" + params + (t.yaml.empty() ? "" : ", " + t.yaml) + "}";
}

TEST_F(RecallTasks, NotOptimizedDrawsPerSampleAndPads) {
  for (const TaskCase& t : all_tasks()) {
    SCOPED_TRACE(t.name);
    auto p = problem(t.name, with(t,
                                  "batch_size: 16, min_sequence_length: 1, "
                                  "max_sequence_length: 8, "
                                  "generation_mode: not_optimized"));
    at::Generator gen = seeded(5);
    const sdk::DataDict b = p->get_batch(test::range(16), gen);
    test::expect_sequence_batch(b, 16, 2, 8, 8, 1, 8);
    expect_task_batch(t, b, one_hot(2, -1));
    const at::Tensor len = b.at("sequences_length");
    EXPECT_GT(len.max().item<int64_t>(), len.min().item<int64_t>());
  }
}

TEST_F(RecallTasks, CommandLinesFollowTheSettings) {
  for (const TaskCase& t : all_tasks()) {
    SCOPED_TRACE(t.name);
    const std::string common =
        "batch_size: 3, min_sequence_length: 2, max_sequence_length: 6, ";
    // The last line when not randomized; none when switched off or when
    // there are only the two markers.
    auto last = problem(
        t.name, with(t, common + "control_bits: 5, randomize_control_lines: "
                                 "false"));
    auto off = problem(
        t.name, with(t, common + "control_bits: 5, use_control_lines: false"));
    auto two = problem(t.name, with(t, common + "control_bits: 2"));
    for (uint64_t seed = 0; seed < 10; ++seed) {
      at::Generator g1 = seeded(seed), g2 = seeded(seed), g3 = seeded(seed);
      const sdk::DataDict a = last->get_batch(test::range(3), g1);
      expect_task_batch(t, a, one_hot(5, 4));
      expect_task_batch(t, off->get_batch(test::range(3), g2), one_hot(5, -1));
      expect_task_batch(t, two->get_batch(test::range(3), g3), one_hot(2, -1));
    }
  }
}

TEST_F(RecallTasks, LengthsFollowTheCurriculum) {
  for (const TaskCase& t : all_tasks()) {
    SCOPED_TRACE(t.name);
    // 8 samples per epoch in batches of 4: the maximum grows every 2
    // episodes, from 2 to 6.
    auto p = problem(t.name, with(t,
                                  "batch_size: 4, size: 8, "
                                  "min_sequence_length: 1, "
                                  "max_sequence_length: 6"));
    start_curriculum(*p, 2);
    for (const int64_t episode : {0, 1, 3, 5, 7, 9}) {
      const bool done = p->curriculum_learning_update_params(episode);
      const int64_t cap = std::min<int64_t>(2 + (episode + 1) / 2, 6);
      EXPECT_EQ(done, 2 + (episode + 1) / 2 > 6) << "episode " << episode;
      std::set<int64_t> seen;
      for (uint64_t seed = 0; seed < 30; ++seed) {
        at::Generator gen = seeded(seed);
        const sdk::DataDict b = p->get_batch(test::range(4), gen);
        test::expect_sequence_batch(b, 4, 2, 8, 8, 1, cap);
        expect_task_batch(t, b, one_hot(2, -1));
        seen.insert(b.at("sequences_length").max().item<int64_t>());
      }
      EXPECT_EQ(*seen.rbegin(), cap) << "episode " << episode;
    }
  }
}

// --- parameters and names ----------------------------------------------------

TEST_F(RecallTasks, ParameterErrorsNameTheKey) {
  const std::string lens =
      "batch_size: 2, min_sequence_length: 2, "
      "max_sequence_length: 5";
  const auto error = [&](const std::string& name, const std::string& extra) {
    return test::error_of(
        [&] { problem(name, "{" + lens + ", " + extra + "}"); });
  };
  for (const char* name :
       {"RepeatSerialRecallCommandLines", "RepeatReverseRecallCommandLines"}) {
    EXPECT_HAS(error(name, "min_recall_number: 0"),
               "[training.problem.min_recall_number] (0) must be >= 1 and <= "
               "max_recall_number (5)");
    EXPECT_HAS(error(name, "min_recall_number: 4, max_recall_number: 3"),
               "[training.problem.min_recall_number] (4) must be >= 1 and <= "
               "max_recall_number (3)");
  }
  EXPECT_HAS(error("ScratchPadCommandLines", "num_subseq_max: 3"),
             "training.problem.num_subseq_min");
  EXPECT_HAS(
      error("ScratchPadCommandLines", "num_subseq_min: 3, num_subseq_max: 2"),
      "[training.problem.num_subseq_min] (3) must be >= 1 and <= "
      "num_subseq_max (2)");
  EXPECT_HAS(
      error("ScratchPadCommandLines", "num_subseq_min: 1, num_subseq_max: 200"),
      "[training.problem.num_subseq_max] must be <= 127, got 200");
  EXPECT_HAS(error("SkipRecallCommandLines", "seq_start: 2"),
             "[training.problem.seq_start] (2) must be >= 0 and < "
             "min_sequence_length (2)");
  EXPECT_HAS(error("SkipRecallCommandLines", "seq_start: -1"),
             "[training.problem.seq_start] (-1) must be >= 0");
  EXPECT_HAS(error("SkipRecallCommandLines", "skip_step: 0"),
             "[training.problem.skip_step] must be >= 1, got 0");
  EXPECT_HAS(error("ManipulationTemporalRotation", "num_items: half"),
             "training.problem.num_items");
  EXPECT_HAS(error("ReverseRecallCommandLines", "control_bits: 1"),
             "[training.problem.control_bits] must be >= 2");
}

TEST_F(RecallTasks, OlderNamesResolveToTheTasks) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> names{
      {"RepeatSerialRecallCommandLines",
       {"RepeatSerialRecall", "repeat_serial_recall", "repeat_serial_recall_cl",
        "SerialRepeatRecallCommandLines", "serial_repeat_recall_cl"}},
      {"ScratchPadCommandLines", {"ScratchPad", "scratch_pad"}},
      {"ReverseRecallCommandLines",
       {"ReverseRecall", "reverse_recall", "reverse_recall_cl"}},
      {"RepeatReverseRecallCommandLines",
       {"RepeatReverseRecall", "repeat_reverse_recall",
        "repeat_reverse_recall_cl"}},
      {"SkipRecallCommandLines",
       {"SkipRecall", "skip_recall", "skip_recall_cl", "odd_recall"}},
      {"ManipulationTemporalRotation",
       {"ManipulationTemporalSwap", "manipulation_temporal_rotation",
        "manipulation_temporal_swap"}},
  };
  for (const auto& [canonical, aliases] : names)
    for (const std::string& alias : aliases)
      EXPECT_EQ(loader_.find(sdk::ComponentKind::kProblem, alias).name,
                canonical)
          << alias;
  // Only declared names: no guessing from a reordered name.
  EXPECT_HAS(test::error_of([&] {
               loader_.find(sdk::ComponentKind::kProblem, "RecallReverse");
             }),
             "no plugin provides the problem [RecallReverse]");
}

// --- a short training of each task
// ---------------------------------------------

class RecallTaskTraining : public ::testing::TestWithParam<TaskCase> {};

TEST_P(RecallTaskTraining, TrainsTheLstmAndReportsItsStatistics) {
  const TaskCase& t = GetParam();
  test::TempDir d;
  const std::string problem =
      "{name: " + t.name +
      ", control_bits: 3, batch_size: 16, min_sequence_length: 1, "
      "max_sequence_length: 5" +
      (t.yaml.empty() ? "" : ", " + t.yaml) + ", size: 1600}";
  const auto exp = test::short_lstm_run(d, problem);
  ASSERT_FALSE(exp.empty());
  const auto rows = test::csv_rows(exp / "training_statistics.csv");
  ASSERT_GE(rows.size(), 201u) << "a header and a row per episode";
  const auto& header = rows[0];
  const auto col = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return static_cast<size_t>(it - header.begin());
  };
  const size_t acc = col("acc"), len = col("seq_length");
  for (size_t row = 1; row < rows.size(); ++row) {
    ASSERT_EQ(rows[row].size(), header.size()) << "row " << row;
    const double a = std::stod(rows[row][acc]);
    EXPECT_TRUE(a >= 0.0 && a <= 1.0) << "acc " << rows[row][acc];
    const int64_t l = std::stoll(rows[row][len]);
    EXPECT_TRUE(l >= 1 && l <= 5) << "seq_length " << rows[row][len];
  }
}

INSTANTIATE_TEST_SUITE_P(EveryTask,
                         RecallTaskTraining,
                         ::testing::ValuesIn(all_tasks()),
                         [](const auto& info) { return info.param.name; });

}  // namespace recall_tasks_test
}  // namespace mip
