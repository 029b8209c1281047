// The dual distraction tasks (DistractionCarry, DistractionForget,
// DistractionIgnore, ReadingSpan) through the real plugin loader: every batch
// is read back step by step (markers, subsequences, answer parts) and its
// targets and masks are recomputed from the items it shows; then each task
// trains with the LSTM through the real mip-online-trainer.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/components.hpp"
#include "common/sequences.hpp"
#include "common/test_util.hpp"
#include "common/worker_runs.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace distraction_tasks_test {

namespace fs = std::filesystem;
using test::seeded;

enum class Task { kCarry, kForget, kIgnore, kSpan };

struct TaskCase {
  Task task;
  const char* name;
  const char* alias;
  int64_t min_control_bits;
  /// Whether the small LSTM's accuracy rises within 200 episodes (measured:
  /// DistractionIgnore, whose only answer is the long-range recall of every
  /// primary, stays at chance that early).
  bool learns_early;
};

const TaskCase kTasks[] = {
    {Task::kCarry, "DistractionCarry", "distraction_carry", 4, true},
    {Task::kForget, "DistractionForget", "distraction_forget", 4, true},
    {Task::kIgnore, "DistractionIgnore", "distraction_ignore", 4, false},
    {Task::kSpan, "ReadingSpan", "reading_span", 2, true},
};

/// A marker step (exactly one control line on, no data) and the run of
/// non-marker steps that follows it up to the next marker.
struct Segment {
  int64_t line = -1;
  int64_t at = 0;
  at::Tensor items;  // [L, data_bits]
};

/// Splits sample `x` [T, C+D] at its marker steps.
std::vector<Segment> segments(const at::Tensor& x, int64_t c) {
  const at::Tensor ctrl = x.slice(1, 0, c);
  const at::Tensor marked = (ctrl.sum(1) > 0).contiguous();
  const auto on = marked.accessor<bool, 1>();
  std::vector<Segment> out;
  for (int64_t t = 0; t < x.size(0); ++t) {
    if (!on[t])
      continue;
    EXPECT_EQ(ctrl[t].sum().item<float>(), 1.f) << "step " << t;
    EXPECT_EQ(x[t].slice(0, c).sum().item<float>(), 0.f)
        << "data on marker step " << t;
    out.push_back({ctrl[t].argmax().item<int64_t>(), t, {}});
  }
  for (size_t k = 0; k < out.size(); ++k) {
    const int64_t end = k + 1 < out.size() ? out[k + 1].at : x.size(0);
    out[k].items = x.slice(0, out[k].at + 1, end).slice(1, c);
  }
  return out;
}

/// What one sample must hold, recomputed from the items it shows.
struct Expected {
  at::Tensor targets, masks;  // [T, D], [T, 1]
  int64_t pairs = 0;          // n
  int64_t subsequences = 0;   // num_subsequences
  int64_t longest = 0;        // sequences_length
  int64_t used = 0;           // steps before any padding
  std::vector<int64_t> lengths;
};

/// Writes `answer` [L, D] as the target of the L steps after marker `s` (the
/// inputs there must be zero) and marks them.
void expect_answer(Expected& e, const Segment& s, const at::Tensor& answer) {
  const int64_t len = answer.size(0);
  ASSERT_GE(s.items.size(0), len) << "answer part after step " << s.at;
  EXPECT_EQ(s.items.sum().item<float>(), 0.f)
      << "inputs during the answer part after step " << s.at;
  e.targets.slice(0, s.at + 1, s.at + 1 + len).copy_(answer);
  e.masks.slice(0, s.at + 1, s.at + 1 + len).fill_(1);
  e.used = s.at + 1 + len;
}

/// The definition of `task`, read from sample `x` [T, C+D].
Expected expected(Task task, const at::Tensor& x, int64_t c) {
  const std::vector<Segment> segs = segments(x, c);
  Expected e;
  e.targets = at::zeros({x.size(0), x.size(1) - c});
  e.masks = at::zeros({x.size(0), 1}, at::kByte);
  if (segs.empty() || segs.front().at != 0) {
    ADD_FAILURE() << "a sample does not start with a marker";
    return e;
  }
  auto note = [&e](const at::Tensor& items) {
    e.lengths.push_back(items.size(0));
    e.longest = std::max(e.longest, items.size(0));
  };
  size_t k = 0;
  if (task == Task::kSpan) {
    // 0 X_1 ... 0 X_n 1 (last item of each X_i).
    std::vector<at::Tensor> last;
    for (; k < segs.size() && segs[k].line == 0; ++k) {
      note(segs[k].items);
      if (segs[k].items.size(0) > 0)
        last.push_back(segs[k].items.slice(0, -1));
    }
    e.pairs = e.subsequences = int64_t(last.size());
    EXPECT_EQ(k + 1, segs.size()) << "one recall marker, at the end";
    if (k < segs.size() && !last.empty()) {
      EXPECT_EQ(segs[k].line, 1) << "recall marker";
      expect_answer(e, segs[k], at::cat(last, 0));
    }
    return e;
  }
  // 0 X_i 1 Y_i [2 (answer Y_i) for Forget] per pair, [2 (answer Y_n) for
  // Carry], 3 (answer X_1..X_n).
  std::vector<at::Tensor> xs, ys;
  while (k + 1 < segs.size() && segs[k].line == 0) {
    EXPECT_EQ(segs[k + 1].line, 1) << "distractor marker after X_i";
    xs.push_back(segs[k].items);
    ys.push_back(segs[k + 1].items);
    note(segs[k].items);
    note(segs[k + 1].items);
    k += 2;
    if (task == Task::kForget) {
      if (k >= segs.size() || segs[k].line != 2) {
        ADD_FAILURE() << "no distractor recall marker after Y_i";
        return e;
      }
      expect_answer(e, segs[k], ys.back());
      EXPECT_EQ(e.used, k + 1 < segs.size() ? segs[k + 1].at : e.used)
          << "the next pair follows the recall of Y_i at once";
      ++k;
    }
  }
  e.pairs = int64_t(xs.size());
  e.subsequences = 2 * e.pairs;
  if (xs.empty()) {
    ADD_FAILURE() << "no pair";
    return e;
  }
  if (task == Task::kCarry) {
    if (k >= segs.size() || segs[k].line != 2) {
      ADD_FAILURE() << "no recall marker for the last distractor";
      return e;
    }
    expect_answer(e, segs[k], ys.back());
    ++k;
    EXPECT_TRUE(k < segs.size() && segs[k].at == e.used)
        << "the primary recall follows the distractor recall at once";
  }
  if (k + 1 != segs.size() || segs[k].line != 3) {
    ADD_FAILURE() << "the last marker is not the primary recall (line 3)";
    return e;
  }
  expect_answer(e, segs[k], at::cat(xs, 0));
  return e;
}

struct Ranges {
  int64_t lo, hi, nmin, nmax;
};

/// Pair counts and subsequence lengths seen.
struct Seen {
  std::vector<int64_t> counts, lengths;
  void add(const Seen& o) {
    counts.insert(counts.end(), o.counts.begin(), o.counts.end());
    lengths.insert(lengths.end(), o.lengths.begin(), o.lengths.end());
  }
};

/// Checks every sample of `b` against the definition.
Seen expect_task_batch(Task task,
                       const sdk::DataDict& b,
                       int64_t batch,
                       int64_t c,
                       int64_t d,
                       const Ranges& r,
                       bool padded) {
  test::expect_sequence_batch(b, batch, c, d, d, r.lo, r.hi);
  const at::Tensor& x = b.at("sequences");
  Seen seen;
  int64_t longest_used = 0;
  for (int64_t i = 0; i < batch; ++i) {
    const Expected e = expected(task, x[i], c);
    seen.counts.push_back(e.pairs);
    seen.lengths.insert(seen.lengths.end(), e.lengths.begin(), e.lengths.end());
    longest_used = std::max(longest_used, e.used);
    EXPECT_TRUE(b.at("targets")[i].equal(e.targets)) << "sample " << i;
    EXPECT_TRUE(b.at("masks")[i].equal(e.masks)) << "sample " << i;
    EXPECT_GE(e.pairs, r.nmin);
    EXPECT_LE(e.pairs, r.nmax);
    for (int64_t len : e.lengths) {
      EXPECT_GE(len, r.lo);
      EXPECT_LE(len, r.hi);
    }
    EXPECT_EQ(b.at("sequences_length")[i][0].item<int64_t>(), e.longest);
    EXPECT_EQ(b.at("num_subsequences")[i][0].item<int64_t>(), e.subsequences);
    if (!padded)
      EXPECT_EQ(e.used, x.size(1)) << "no padding in optimized mode";
  }
  EXPECT_EQ(longest_used, x.size(1)) << "padded to the longest sample";
  return seen;
}

std::string params(int64_t c,
                   int64_t d,
                   const Ranges& r,
                   const std::string& extra = "") {
  std::ostringstream s;
  s << "{batch_size: 3, control_bits: " << c << ", data_bits: " << d
    << ", min_sequence_length: " << r.lo << ", max_sequence_length: " << r.hi
    << ", num_subseq_min: " << r.nmin << ", num_subseq_max: " << r.nmax << extra
    << "}";
  return s.str();
}

class DistractionTasks : public test::Components,
                         public ::testing::WithParamInterface<TaskCase> {};

TEST_P(DistractionTasks, BatchesFollowTheDefinitionOnManySeeds) {
  const TaskCase t = GetParam();
  // Control lines at the minimum and beyond it, one and several bits,
  // lengths and counts fixed or ranging.
  const struct {
    int64_t c, d;
    Ranges r;
  } settings[] = {{t.min_control_bits, 8, {1, 6, 1, 3}},
                  {t.min_control_bits + 1, 1, {2, 2, 1, 1}},
                  {t.min_control_bits, 3, {3, 7, 4, 4}},
                  {t.min_control_bits, 5, {1, 3, 2, 5}}};
  for (const auto& s : settings) {
    auto p = problem(t.name, params(s.c, s.d, s.r));
    Seen seen;
    for (uint64_t seed = 0; seed < 40; ++seed) {
      SCOPED_TRACE(std::string(t.name) + " seed " + std::to_string(seed) +
                   " control_bits " + std::to_string(s.c));
      at::Generator gen = seeded(seed);
      const sdk::DataDict b = p->get_batch(test::range(3), gen);
      seen.add(expect_task_batch(t.task, b, 3, s.c, s.d, s.r, false));
      at::Generator again = seeded(seed);
      EXPECT_TRUE(test::same_batch(b, p->get_batch(test::range(3), again)));
    }
    // Over 40 seeds the draws reach both ends of their ranges.
    const auto [nmin, nmax] =
        std::minmax_element(seen.counts.begin(), seen.counts.end());
    const auto [lmin, lmax] =
        std::minmax_element(seen.lengths.begin(), seen.lengths.end());
    EXPECT_EQ(*nmin, s.r.nmin);
    EXPECT_EQ(*nmax, s.r.nmax);
    EXPECT_EQ(*lmin, s.r.lo);
    EXPECT_EQ(*lmax, s.r.hi);
  }
}

TEST_P(DistractionTasks, NotOptimizedDrawsPerSampleAndPads) {
  const TaskCase t = GetParam();
  const Ranges r{1, 5, 1, 3};
  auto p = problem(t.name, params(t.min_control_bits, 4, r,
                                  ", generation_mode: not_optimized"));
  for (uint64_t seed = 0; seed < 30; ++seed) {
    at::Generator gen = seeded(seed);
    const sdk::DataDict b = p->get_batch(test::range(3), gen);
    expect_task_batch(t.task, b, 3, t.min_control_bits, 4, r, true);
  }
  at::Generator gen = seeded(7);
  const sdk::DataDict b = p->get_batch(test::range(12), gen);
  const Seen seen =
      expect_task_batch(t.task, b, 12, t.min_control_bits, 4, r, true);
  const auto [lo, hi] =
      std::minmax_element(seen.counts.begin(), seen.counts.end());
  EXPECT_LT(*lo, *hi) << "each sample draws its own count";
}

TEST_P(DistractionTasks, CurriculumCapsEverySubsequence) {
  const TaskCase t = GetParam();
  auto p =
      problem(t.name, params(t.min_control_bits, 4, {1, 9, 2, 3}, ", size: 6"));
  start_curriculum(*p, 2);
  EXPECT_FALSE(p->curriculum_learning_update_params(0));
  for (uint64_t seed = 0; seed < 30; ++seed) {
    at::Generator gen = seeded(seed);
    expect_task_batch(t.task, p->get_batch(test::range(3), gen), 3,
                      t.min_control_bits, 4, {1, 2, 2, 3}, false);
  }
  EXPECT_TRUE(p->curriculum_learning_update_params(100));
}

TEST_P(DistractionTasks, LegacyNameGivesTheSameBatches) {
  const TaskCase t = GetParam();
  const std::string yaml = params(t.min_control_bits, 8, {1, 4, 1, 3});
  auto canonical = problem(t.name, yaml);
  auto legacy = problem(t.alias, yaml);
  at::Generator g1 = seeded(11), g2 = seeded(11);
  EXPECT_TRUE(test::same_batch(canonical->get_batch(test::range(3), g1),
                               legacy->get_batch(test::range(3), g2)));
}

TEST_P(DistractionTasks, ParameterErrorsNameTheKey) {
  const TaskCase t = GetParam();
  const int64_t c = t.min_control_bits;
  EXPECT_HAS(test::error_of([&] {
               problem(t.name, params(c, 8, {1, 4, 0, 3}));
             }),
             "[training.problem.num_subseq_min] must be >= 1, got 0");
  EXPECT_HAS(test::error_of([&] {
               problem(t.name, params(c, 8, {1, 4, 3, 2}));
             }),
             "[training.problem.num_subseq_max] (2) must be >= "
             "num_subseq_min (3)");
  EXPECT_HAS(test::error_of([&] {
               problem(t.name, params(c - 1, 8, {1, 4, 1, 3}));
             }),
             "[training.problem.control_bits] must be >= " + std::to_string(c));
  EXPECT_HAS(test::error_of([&] {
               problem(t.name, params(c, 8, {5, 4, 1, 3}));
             }),
             "[training.problem.min_sequence_length] (5) must be >= 1 and "
             "<= max_sequence_length (4)");
  EXPECT_HAS(test::error_of([&] {
               problem(t.name, "{batch_size: 3, max_sequence_length: 4}");
             }),
             "[training.problem.min_sequence_length] is required");
}

// --- training with the LSTM through mip-online-trainer ----------------------

TEST_P(DistractionTasks, TrainsWithTheLstmAndReportsAccuracy) {
  const TaskCase t = GetParam();
  test::TempDir d;
  const std::string problem_yaml =
      std::string("{name: ") + t.name +
      ", batch_size: 16, min_sequence_length: 1, max_sequence_length: 4, "
      "num_subseq_min: 1, num_subseq_max: 2, size: 1600}";
  const fs::path exp = test::short_lstm_run(d, problem_yaml);
  ASSERT_FALSE(exp.empty());
  const auto rows = test::csv_rows(exp / "training_statistics.csv");
  ASSERT_EQ(rows.size(), 1u + 200u);
  const auto& head = rows[0];
  const auto col = [&head](const char* name) {
    return size_t(std::find(head.begin(), head.end(), name) - head.begin());
  };
  const size_t acc = col("acc"), len = col("seq_length"),
               bs = col("batch_size");
  ASSERT_LT(acc, head.size());
  ASSERT_LT(len, head.size());
  ASSERT_LT(bs, head.size());
  double first = 0, last = 0;  // mean acc of episodes 0-19 and 150-199
  double lowest = 1, highest = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const double a = std::stod(rows[i].at(acc));
    lowest = std::min(lowest, a);
    highest = std::max(highest, a);
    EXPECT_TRUE(a >= 0.0 && a <= 1.0) << "acc " << a << " at row " << i;
    EXPECT_GE(std::stoi(rows[i].at(len)), 1);
    EXPECT_LE(std::stoi(rows[i].at(len)), 4);
    EXPECT_EQ(std::stoi(rows[i].at(bs)), 16);
    if (i <= 20)
      first += a / 20;
    else if (i > 150)
      last += a / 50;
  }
  RecordProperty("acc_first_20", std::to_string(first));
  RecordProperty("acc_last_50", std::to_string(last));
  std::cout << t.name << ": acc over the first 20 episodes " << first
            << ", over the last 50 " << last << "\n";
  EXPECT_LT(lowest, highest) << "acc is measured on each batch";
  EXPECT_GT(last, 0.45) << "not below chance";
  if (t.learns_early)
    EXPECT_GT(last, first + 0.05) << "the LSTM learns within 200 episodes";
}

INSTANTIATE_TEST_SUITE_P(DualDistraction,
                         DistractionTasks,
                         ::testing::ValuesIn(kTasks),
                         [](const auto& info) {
                           return std::string(info.param.name);
                         });

}  // namespace distraction_tasks_test
}  // namespace mip
