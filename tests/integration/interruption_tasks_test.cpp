// The four dual interruption tasks (plugins/problems/dual_interruption)
// through the real plugin loader: every sample is parsed from its own control
// lines and its targets and masks are recomputed from its own input items;
// then each task trains briefly with the LSTM through mip-online-trainer.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <functional>
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
namespace interruption_tasks_test {

using test::seeded;

// --- the definitions, item by item
// -------------------------------------------

/// Right-rotation shift of `amount` over `n` elements: a fraction of n when
/// |amount| < 1 (rounded half to even), else a count; modulo n.
int64_t shift_of(double amount, int64_t n) {
  if (std::fabs(amount) < 1.0)
    amount = std::nearbyint(amount * static_cast<double>(n));
  const auto s = static_cast<int64_t>(amount);
  return ((s % n) + n) % n;
}

/// `y` [T, D] with element j of dimension `dim` moved to j + shift.
at::Tensor rotated(const at::Tensor& y, double amount, int64_t dim) {
  const int64_t n = y.size(dim);
  const int64_t s = shift_of(amount, n);
  at::Tensor out = at::empty_like(y);
  for (int64_t j = 0; j < n; ++j)
    out.select(dim, (j + s) % n).copy_(y.select(dim, j));
  return out;
}

at::Tensor negated(const at::Tensor& y, double /*rotation*/) {
  return (y == 0).to(at::kFloat);
}

at::Tensor reversed(const at::Tensor& y, double /*rotation*/) {
  at::Tensor out = at::empty_like(y);
  const int64_t n = y.size(0);
  for (int64_t j = 0; j < n; ++j)
    out[j].copy_(y[n - 1 - j]);
  return out;
}

at::Tensor items_rotated(const at::Tensor& y, double rotation) {
  return rotated(y, rotation, 0);
}

at::Tensor bits_rotated(const at::Tensor& y, double rotation) {
  return rotated(y, rotation, 1);
}

/// A task: its name, what it answers to an interruption y [|y|, D], and
/// whether its interruptions are single items (OperationSpan).
struct Task {
  std::string name;
  std::function<at::Tensor(const at::Tensor&, double)> answer;
  bool rotates = false;      ///< reads num_rotation
  bool single_item = false;  ///< one-item interruptions
};

const Task kNot{"InterruptionNot", negated};
const Task kReverse{"InterruptionReverseRecall", reversed};
const Task kSwap{"InterruptionSwapRecall", items_rotated, true};
const Task kSpan{"OperationSpan", bits_rotated, true, true};

/// The parameters a check needs.
struct Case {
  int64_t batch = 4, control_bits = 4, data_bits = 8;
  int64_t min_len = 1, max_len = 4, nmin = 1, nmax = 3;
  double rotation = 0.5;
  bool per_sample = false;

  /// The problem section as a flow map (num_rotation for the tasks that
  /// read it).
  std::string yaml(const Task& task) const {
    std::ostringstream s;
    s << "{batch_size: " << batch << ", control_bits: " << control_bits
      << ", data_bits: " << data_bits << ", min_sequence_length: " << min_len
      << ", max_sequence_length: " << max_len << ", num_subseq_min: " << nmin
      << ", num_subseq_max: " << nmax;
    if (task.rotates)
      s << ", num_rotation: " << rotation;
    s << (per_sample ? ", generation_mode: not_optimized" : "") << "}";
    return s.str();
  }
};

/// What one sample turned out to hold.
struct Sample {
  int64_t pairs = 0;
  std::vector<int64_t> x_lengths, y_lengths;
  int64_t command_line = -1;  ///< on during the answers; -1: none
};

/// Parses sample `i` of `b` from its marker lines (0: primary, 1:
/// interruption, 2: its answer, 3: final recall) and checks it against the
/// definition: inputs, targets, masks, command lines, lengths and counts.
Sample expect_sample(const sdk::DataDict& b,
                     int64_t i,
                     const Case& s,
                     const Task& task) {
  Sample out;
  const at::Tensor x = b.at("sequences")[i];
  const at::Tensor y = b.at("targets")[i];
  const at::Tensor m = b.at("masks")[i];
  const int64_t steps = x.size(0), c = s.control_bits;
  const at::Tensor data = x.slice(1, c);
  const at::Tensor commands = x.slice(1, 4, c);
  // The marker line of each step: -1 none, -2 several.
  const at::Tensor lines = x.slice(1, 0, 4).contiguous();
  const auto on = lines.accessor<float, 2>();
  std::vector<int64_t> marker(size_t(steps), -1);
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t line = 0; line < 4; ++line)
      if (on[t][line] == 1.f)
        marker[size_t(t)] = marker[size_t(t)] == -1 ? line : -2;
  const auto run_from = [&](int64_t t) {
    int64_t e = t;
    while (e < steps && marker[size_t(e)] == -1)
      ++e;
    return e - t;
  };
  const auto zero = [](const at::Tensor& v) {
    return v.eq(0).all().item<bool>();
  };
  at::Tensor want_y = at::zeros_like(y), want_m = at::zeros_like(m);
  std::vector<at::Tensor> primaries;
  int64_t t = 0;
  // The steps after the marker `line` at step t, up to the next marker (t
  // moves past them); undefined when that marker is not there.
  const auto steps_after = [&](int64_t line) -> at::Tensor {
    if (t >= steps || marker[size_t(t)] != line) {
      ADD_FAILURE() << "no marker on line " << line << " at step " << t;
      return {};
    }
    EXPECT_TRUE(zero(data[t]) && zero(commands[t])) << "marker step " << t;
    const int64_t len = run_from(t + 1);
    t += 1 + len;
    return data.slice(0, t - len, t);
  };
  // The answer steps ending at step `to` answer `target`.
  const auto expect_answer = [&](int64_t to, const at::Tensor& target) {
    const int64_t from = to - target.size(0);
    want_y.slice(0, from, to).copy_(target);
    want_m.slice(0, from, to).fill_(1);
  };

  while (t < steps && marker[size_t(t)] == 0) {
    const at::Tensor xk = steps_after(0);
    const at::Tensor yk = steps_after(1);
    const at::Tensor answer = steps_after(2);
    if (!yk.defined() || !answer.defined())
      return out;
    EXPECT_EQ(answer.size(0), yk.size(0)) << "the answer is as long as y";
    expect_answer(t, task.answer(yk, s.rotation));
    primaries.push_back(xk);
    out.x_lengths.push_back(xk.size(0));
    out.y_lengths.push_back(yk.size(0));
    ++out.pairs;
  }
  if (primaries.empty()) {
    ADD_FAILURE() << "no pair";
    return out;
  }
  // The recall, then only padding (not_optimized): the rest of the steps.
  const at::Tensor rest = steps_after(3);
  const at::Tensor recall = at::cat(primaries, 0);
  if (!rest.defined() || rest.size(0) < recall.size(0)) {
    ADD_FAILURE() << "the final recall is missing or short";
    return out;
  }
  const int64_t recall_end = steps - rest.size(0) + recall.size(0);
  expect_answer(recall_end, recall);
  EXPECT_TRUE(zero(x.slice(0, recall_end))) << "padding";

  EXPECT_TRUE(y.equal(want_y)) << "targets of sample " << i;
  EXPECT_TRUE(m.equal(want_m)) << "masks of sample " << i;
  // Answer steps: no data; one command line (if any), the same throughout;
  // no command line elsewhere.
  const at::Tensor answering = want_m.view({-1}).to(at::kBool);
  EXPECT_TRUE(zero(data.index({answering})));
  EXPECT_TRUE(zero(commands.index({~answering})));
  const at::Tensor lines_on = commands.index({answering});
  EXPECT_TRUE(lines_on.eq(lines_on[0]).all().item<bool>());
  EXPECT_EQ(lines_on[0].sum().item<float>(), c > 4 ? 1.f : 0.f);
  if (c > 4)
    out.command_line = 4 + lines_on[0].argmax().item<int64_t>();

  EXPECT_GE(out.pairs, s.nmin);
  EXPECT_LE(out.pairs, s.nmax);
  EXPECT_EQ(b.at("num_subsequences")[i][0].item<int64_t>(), 2 * out.pairs);
  int64_t longest = 0;
  for (int64_t lx : out.x_lengths) {
    EXPECT_GE(lx, s.min_len);
    EXPECT_LE(lx, s.max_len);
    longest = std::max(longest, lx);
  }
  for (int64_t ly : out.y_lengths) {
    if (task.single_item) {
      EXPECT_EQ(ly, 1);
    } else {
      EXPECT_GE(ly, s.min_len);
      EXPECT_LE(ly, s.max_len);
    }
    longest = std::max(longest, ly);
  }
  EXPECT_EQ(b.at("sequences_length")[i][0].item<int64_t>(), longest);
  return out;
}

class InterruptionTasks : public test::Components {
 protected:
  /// 40 seeds of `task` under `s`: every sample against the definition, the
  /// same seed giving the same batch, the drawn counts, lengths and command
  /// lines covering their ranges; with not_optimized, samples differing.
  void check(const Task& task, const Case& s) {
    SCOPED_TRACE(task.name + " " + s.yaml(task));
    auto p = problem(task.name, s.yaml(task));
    std::set<int64_t> pairs, lengths, command_lines;
    bool samples_differ = false;
    for (uint64_t seed = 0; seed < 40; ++seed) {
      at::Generator gen = seeded(seed);
      const sdk::DataDict b = p->get_batch(test::range(s.batch), gen);
      test::expect_sequence_batch(b, s.batch, s.control_bits, s.data_bits,
                                  s.data_bits, s.min_len, s.max_len);
      for (int64_t i = 0; i < s.batch; ++i) {
        const Sample one = expect_sample(b, i, s, task);
        pairs.insert(one.pairs);
        lengths.insert(one.x_lengths.begin(), one.x_lengths.end());
        command_lines.insert(one.command_line);
        // "optimized": one draw of pairs and lengths for the whole batch.
        const bool same = b.at("masks")[i].equal(b.at("masks")[0]);
        EXPECT_TRUE(same || s.per_sample);
        samples_differ = samples_differ || !same;
      }
      at::Generator again = seeded(seed);
      EXPECT_TRUE(
          test::same_batch(b, p->get_batch(test::range(s.batch), again)));
      if (HasFailure())
        return;
    }
    EXPECT_EQ(*pairs.begin(), s.nmin);
    EXPECT_EQ(*pairs.rbegin(), s.nmax);
    EXPECT_EQ(*lengths.begin(), s.min_len);
    EXPECT_EQ(*lengths.rbegin(), s.max_len);
    EXPECT_EQ(samples_differ, s.per_sample);
    // Command lines: none with 4 control lines, else each extra one.
    std::set<int64_t> all_lines = {-1};
    if (s.control_bits > 4) {
      all_lines.clear();
      for (int64_t line = 4; line < s.control_bits; ++line)
        all_lines.insert(line);
    }
    EXPECT_EQ(command_lines, all_lines);
  }

  /// The definition checks of `task` under several setups.
  void check_setups(const Task& task, std::vector<double> rotations) {
    Case plain;
    plain.data_bits = 5;
    check(task, plain);
    Case lines;  // command lines 4 and 5, two to four pairs
    lines.control_bits = 6;
    lines.data_bits = 3;
    lines.min_len = 2;
    lines.max_len = 6;
    lines.nmin = 2;
    lines.nmax = 4;
    check(task, lines);
    Case padded;  // one draw per sample
    padded.batch = 6;
    padded.max_len = 5;
    padded.per_sample = true;
    check(task, padded);
    for (double r : rotations) {
      Case rotation;
      rotation.rotation = r;
      rotation.max_len = 6;
      check(task, rotation);
    }
  }
};

// --- the generators against their definitions
// ---------------------------------

TEST_F(InterruptionTasks, InterruptionNotAnswersNegatedAndRecallsPrimaries) {
  check_setups(kNot, {});
}

TEST_F(InterruptionTasks, ReverseRecallAnswersReversedAndRecallsPrimaries) {
  check_setups(kReverse, {});
}

TEST_F(InterruptionTasks, SwapRecallAnswersRotatedItemsAndRecallsPrimaries) {
  check_setups(kSwap, {2.0, -1.0, 0.25});
}

TEST_F(InterruptionTasks, OperationSpanAnswersRotatedBitsOfOneItem) {
  check_setups(kSpan, {3.0, -0.25, 1.0});
}

TEST_F(InterruptionTasks, FixedLengthsGiveTheDocumentedLayout) {
  // Two pairs of length 3 (OperationSpan: one-item interruptions):
  // per pair 3 markers + |x| + 2|y|, then 1 marker + sum |x|.
  for (const Task* task : {&kNot, &kReverse, &kSwap, &kSpan}) {
    Case s;
    s.min_len = s.max_len = 3;
    s.nmin = s.nmax = 2;
    auto p = problem(task->name, s.yaml(*task));
    at::Generator gen = seeded(5);
    const sdk::DataDict b = p->get_batch(test::range(4), gen);
    const int64_t ly = task->single_item ? 1 : 3;
    EXPECT_EQ(b.at("sequences").size(1), 2 * (3 + 3 + 2 * ly) + 1 + 6)
        << task->name;
    EXPECT_EQ(b.at("masks").sum().item<int64_t>(), 4 * (2 * ly + 6));
    // Markers: 0 at step 0, 1 after x_1, 2 after y_1, 3 before the recall.
    const at::Tensor& x = b.at("sequences");
    EXPECT_TRUE(x.select(1, 0).select(1, 0).eq(1).all().item<bool>());
    EXPECT_TRUE(x.select(1, 4).select(1, 1).eq(1).all().item<bool>());
    EXPECT_TRUE(x.select(1, 5 + ly).select(1, 2).eq(1).all().item<bool>());
    EXPECT_TRUE(
        x.select(1, x.size(1) - 7).select(1, 3).eq(1).all().item<bool>());
    EXPECT_EQ(b.at("num_subsequences").sum().item<int64_t>(), 4 * 4);
  }
}

TEST_F(InterruptionTasks, LegacyNamesBuildTheSameTask) {
  const std::vector<std::pair<std::string, std::string>> names = {
      {"interruption_not", "InterruptionNot"},
      {"interruption_reverse_recall", "InterruptionReverseRecall"},
      {"reverse_recall_distraction", "InterruptionReverseRecall"},
      {"interruption_swap_recall", "InterruptionSwapRecall"},
      {"swap_recall_interruption", "InterruptionSwapRecall"},
      {"operation_span", "OperationSpan"}};
  const std::string yaml =
      "{batch_size: 3, min_sequence_length: 1, max_sequence_length: 5}";
  for (const auto& [alias, canonical] : names) {
    at::Generator a = seeded(11), b = seeded(11);
    EXPECT_TRUE(test::same_batch(
        problem(alias, yaml)->get_batch(test::range(3), a),
        problem(canonical, yaml)->get_batch(test::range(3), b)))
        << alias;
  }
}

TEST_F(InterruptionTasks, CurriculumBoundsEverySubsequence) {
  // 8 samples per epoch in batches of 4: the maximum grows every 2 episodes.
  Case s;
  auto p = problem("InterruptionSwapRecall",
                   "{batch_size: 4, size: 8, min_sequence_length: 1, "
                   "max_sequence_length: 6}");
  start_curriculum(*p, 2);
  EXPECT_FALSE(p->curriculum_learning_update_params(0));
  s.max_len = 2;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    at::Generator gen = seeded(seed);
    const sdk::DataDict b = p->get_batch(test::range(4), gen);
    for (int64_t i = 0; i < 4; ++i)
      expect_sample(b, i, s, kSwap);
  }
  EXPECT_TRUE(p->curriculum_learning_update_params(9));  // 2 + 5 > 6
  s.max_len = 6;
  at::Generator gen = seeded(1);
  int64_t longest = 0;
  for (int k = 0; k < 40; ++k)
    longest = std::max(longest, p->get_batch(test::range(4), gen)
                                    .at("sequences_length")
                                    .max()
                                    .item<int64_t>());
  EXPECT_EQ(longest, 6);
}

TEST_F(InterruptionTasks, ParameterErrorsNameTheKey) {
  const std::string lengths = "min_sequence_length: 1, max_sequence_length: 3";
  const auto error = [&](const std::string& name, const std::string& keys) {
    return test::error_of([&] {
      problem(name, "{batch_size: 2, " + lengths + ", " + keys + "}");
    });
  };
  EXPECT_HAS(error("InterruptionNot", "num_subseq_min: 0"),
             "[training.problem.num_subseq_min] must be >= 1, got 0");
  EXPECT_HAS(error("InterruptionReverseRecall",
                   "num_subseq_min: 3, num_subseq_max: 2"),
             "[training.problem.num_subseq_max] (2) must be >= "
             "num_subseq_min (3) and <= 63");
  EXPECT_HAS(error("OperationSpan", "num_subseq_max: 64"),
             "[training.problem.num_subseq_max] (64)");
  EXPECT_HAS(error("InterruptionSwapRecall", "control_bits: 3"),
             "[training.problem.control_bits] must be >= 4");
  EXPECT_HAS(error("InterruptionSwapRecall", "num_rotation: half"),
             "training.problem.num_rotation");
  EXPECT_HAS(error("OperationSpan", "num_rotation: ~"),
             "training.problem.num_rotation");
}

// --- short trainings with the LSTM
// --------------------------------------------

/// 200 episodes of `task` with a small LSTM; checks the exit code and the
/// acc column, which must rise above chance.
void train_briefly(const std::string& task) {
  test::TempDir d;
  const auto exp = test::short_lstm_run(
      d, "{name: " + task +
             ", batch_size: 16, min_sequence_length: 1, "
             "max_sequence_length: 4, num_subseq_min: 1, num_subseq_max: 2, "
             "size: 1600}");
  ASSERT_FALSE(exp.empty());
  const std::vector<double> acc =
      test::csv_column(exp / "training_statistics.csv", "acc");
  ASSERT_EQ(acc.size(), 200u);
  for (double a : acc) {
    EXPECT_GE(a, 0.0);
    EXPECT_LE(a, 1.0);
  }
  const auto mean = [&](size_t from, size_t to) {
    double sum = 0;
    for (size_t k = from; k < to; ++k)
      sum += acc[k];
    return sum / double(to - from);
  };
  const double first = mean(0, 20), last = mean(180, 200);
  EXPECT_LT(first, 0.6) << "near chance at the start";
  EXPECT_GT(last, first + 0.05) << "acc " << first << " -> " << last;
}

TEST(InterruptionTraining, InterruptionNotTrainsWithTheLstm) {
  train_briefly("InterruptionNot");
}

TEST(InterruptionTraining, InterruptionReverseRecallTrainsWithTheLstm) {
  train_briefly("InterruptionReverseRecall");
}

TEST(InterruptionTraining, InterruptionSwapRecallTrainsWithTheLstm) {
  train_briefly("InterruptionSwapRecall");
}

TEST(InterruptionTraining, OperationSpanTrainsWithTheLstm) {
  train_briefly("OperationSpan");
}

}  // namespace interruption_tasks_test
}  // namespace mip
