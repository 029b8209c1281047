#pragma once

// What the dual distraction tasks share (DistractionCarry, DistractionForget,
// DistractionIgnore, ReadingSpan): a random number of subsequences per batch
// (num_subseq_min / num_subseq_max), each of its own random length, and the
// control lines that mark them.

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <mip/sdk/sdk.hpp>
#include <mip/sdk/sequence.hpp>

namespace mip::plugins::dual_distraction {

/// Control lines of the three distraction tasks (MI-Prometheus's layout):
/// a marker before each primary subsequence X_i, a marker before each
/// distractor Y_i, a marker before a part that recalls distractor items and
/// a marker before the part that recalls the primary items.
inline constexpr int64_t kPrimaryLine = 0;
inline constexpr int64_t kDistractorLine = 1;
inline constexpr int64_t kRecallDistractorLine = 2;
inline constexpr int64_t kRecallPrimaryLine = 3;

/// Subsequences of one batch: items[i] is [B, L_i, data_bits].
struct Subsequences {
  std::vector<at::Tensor> items;

  /// The longest L_i.
  int64_t longest() const {
    int64_t n = 0;
    for (const at::Tensor& t : items)
      n = std::max(n, t.size(1));
    return n;
  }
  /// All subsequences one after the other along time.
  at::Tensor joined() const { return at::cat(items, 1); }
};

/// A distraction task's batch: n primary subsequences X_1..X_n and n
/// distractors Y_1..Y_n, presented in pairs.
struct Pairs {
  Subsequences primary, distractor;
  int64_t count() const { return int64_t(primary.items.size()); }
  /// The longest subsequence, primary or distractor.
  int64_t longest() const {
    return std::max(primary.longest(), distractor.longest());
  }
};

/// The base of the four tasks: MI-Prometheus's sequence parameters plus
/// num_subseq_min / num_subseq_max.
class DualTaskProblem : public sdk::seq::AlgorithmicSeqToSeqProblem {
 public:
  DualTaskProblem(sdk::Context& ctx, int64_t min_control_bits)
      : AlgorithmicSeqToSeqProblem(ctx, {-1, min_control_bits}) {
    const sdk::ParamView& p = ctx.params();
    num_subseq_min_ = p.get<int64_t>("num_subseq_min");
    num_subseq_max_ = p.get<int64_t>("num_subseq_max");
    MIP_CHECK(num_subseq_min_ >= 1, ParameterError, "[", where(),
              "num_subseq_min] must be >= 1, got ", num_subseq_min_);
    MIP_CHECK(num_subseq_max_ >= num_subseq_min_, ParameterError, "[", where(),
              "num_subseq_max] (", num_subseq_max_,
              ") must be >= num_subseq_min (", num_subseq_min_, ")");
  }

 protected:
  /// The number of subsequences (or pairs): uniform in [min, max].
  int64_t draw_count(at::Generator& gen) const {
    return sdk::seq::draw_int(num_subseq_min_, num_subseq_max_, gen);
  }

  /// `n` subsequences of `batch` samples: their lengths first (each in
  /// [min_sequence_length, current maximum]), then their bits.
  Subsequences draw_subsequences(int64_t batch,
                                 int64_t n,
                                 at::Generator& gen) const {
    std::vector<int64_t> lengths;
    for (int64_t i = 0; i < n; ++i)
      lengths.push_back(draw_length(gen));
    Subsequences s;
    for (int64_t len : lengths)
      s.items.push_back(random_bits({batch, len, data_bits()}, gen));
    return s;
  }

  /// The pairs of a distraction task: n, then the primaries, then the
  /// distractors (each with its own length).
  Pairs draw_pairs(int64_t batch, at::Generator& gen) const {
    const int64_t n = draw_count(gen);
    Pairs p;
    p.primary = draw_subsequences(batch, n, gen);
    p.distractor = draw_subsequences(batch, n, gen);
    return p;
  }

  /// Appends pair i: the primary marker and X_i, the distractor marker and
  /// Y_i (nothing to answer).
  static void present_pair(sdk::seq::SequenceBuilder& b,
                           const Pairs& p,
                           size_t i) {
    b.marker(kPrimaryLine)
        .present(p.primary.items[i])
        .marker(kDistractorLine)
        .present(p.distractor.items[i]);
  }

  /// Appends every pair, one after the other.
  static void present_pairs(sdk::seq::SequenceBuilder& b, const Pairs& p) {
    for (size_t i = 0; i < p.primary.items.size(); ++i)
      present_pair(b, p, i);
  }

  /// Appends the final part (the primary recall marker, then every X_i in
  /// order as the answer) and builds the batch: sequences_length is the
  /// longest subsequence, num_subsequences counts X and Y (2n).
  static sdk::DataDict recall_primaries(sdk::seq::SequenceBuilder& b,
                                        const Pairs& p) {
    return b.marker(kRecallPrimaryLine)
        .answer(p.primary.joined())
        .build(p.longest(), 2 * p.count());
  }

 private:
  int64_t num_subseq_min_ = 1, num_subseq_max_ = 1;
};

}  // namespace mip::plugins::dual_distraction
