#pragma once

// What MI-Prometheus's four dual interruption tasks (InterruptionNot,
// InterruptionReverseRecall, InterruptionSwapRecall, OperationSpan) share:
// n pairs of a primary subsequence x_k, to be kept for the end, and an
// interrupting subsequence y_k, to be answered at once; after the last pair,
// the recall of every x_k in order. A task says only what it answers to y_k
// (and, for OperationSpan, how long y_k is).
//
// One sample, with k = 1..n (n in [num_subseq_min, num_subseq_max]):
//   inputs:  #0 x_k  #1 y_k  #2 .... (|y_k| steps) ...  #3 .... (sum |x_k|)
//   targets:                    F(y_k)                       x_1 x_2 ... x_n
//   masks:                      1 ... 1                      1 ......... 1
// where #j is a marker step (control line j on, data lines zero) and the
// answer steps have zero data lines (and the command line on, if any).

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include <mip/sdk/sdk.hpp>
#include <mip/sdk/sequence.hpp>

namespace mip::plugins::dual_interruption {

/// The base of the four tasks: reads num_subseq_min / num_subseq_max and
/// lays out the pairs; a task writes answer_interruption().
class InterruptionTask : public sdk::seq::AlgorithmicSeqToSeqProblem {
 public:
  /// Control lines of the markers (MI-Prometheus's layout).
  static constexpr int64_t kPrimaryLine = 0;       ///< before each x_k
  static constexpr int64_t kInterruptionLine = 1;  ///< before each y_k
  static constexpr int64_t kAnswerLine = 2;        ///< before F(y_k)
  static constexpr int64_t kRecallLine = 3;        ///< before the final recall
  static constexpr int64_t kMarkers = 4;

  explicit InterruptionTask(sdk::Context& ctx)
      : AlgorithmicSeqToSeqProblem(ctx, {-1, kMarkers}) {
    const sdk::ParamView& p = ctx.params();
    num_subseq_min_ = p.get<int64_t>("num_subseq_min");
    num_subseq_max_ = p.get<int64_t>("num_subseq_max");
    MIP_CHECK(num_subseq_min_ >= 1, ParameterError, "[", where(),
              "num_subseq_min] must be >= 1, got ", num_subseq_min_);
    // num_subsequences counts x's and y's in an int8: 2 n <= 127.
    MIP_CHECK(num_subseq_max_ >= num_subseq_min_ && num_subseq_max_ <= 63,
              ParameterError, "[", where(), "num_subseq_max] (",
              num_subseq_max_, ") must be >= num_subseq_min (", num_subseq_min_,
              ") and <= 63");
  }

 protected:
  /// What the sample answers right after y [B, |y|, data_bits] (the same
  /// shape).
  virtual at::Tensor answer_interruption(const at::Tensor& y) const = 0;

  /// The length of one interrupting subsequence: drawn as the primary ones
  /// (OperationSpan: one item).
  virtual int64_t draw_interruption_length(at::Generator& gen) const {
    return draw_length(gen);
  }

  /// The sample (or the batch, all sharing n and the lengths). Draw order:
  /// command line, n, the x lengths, the y lengths, the x bits, the y bits.
  /// sequences_length is the longest subsequence, num_subsequences 2 n.
  sdk::DataDict generate_batch(int64_t batch, at::Generator& gen) override {
    const int64_t line = draw_command_line(kMarkers, gen);
    const int64_t n = sdk::seq::draw_int(num_subseq_min_, num_subseq_max_, gen);
    std::vector<int64_t> x_lengths, y_lengths;
    for (int64_t k = 0; k < n; ++k)
      x_lengths.push_back(draw_length(gen));
    for (int64_t k = 0; k < n; ++k)
      y_lengths.push_back(draw_interruption_length(gen));
    std::vector<at::Tensor> xs, ys;
    for (int64_t len : x_lengths)
      xs.push_back(random_bits({batch, len, data_bits()}, gen));
    for (int64_t len : y_lengths)
      ys.push_back(random_bits({batch, len, data_bits()}, gen));

    sdk::seq::SequenceBuilder b = builder(batch);
    for (size_t k = 0; k < xs.size(); ++k)
      b.marker(kPrimaryLine)
          .present(xs[k])
          .marker(kInterruptionLine)
          .present(ys[k])
          .marker(kAnswerLine)
          .answer(answer_interruption(ys[k]), line);
    b.marker(kRecallLine).answer(at::cat(xs, 1), line);
    const int64_t longest =
        std::max(*std::max_element(x_lengths.begin(), x_lengths.end()),
                 *std::max_element(y_lengths.begin(), y_lengths.end()));
    return b.build(longest, 2 * n);
  }

 private:
  int64_t num_subseq_min_ = 1, num_subseq_max_ = 1;
};

/// A task answering y rotated to the right along `dim` (1: items, 2: bits)
/// by num_rotation, a fraction of that size when |num_rotation| < 1.
class RotationTask : public InterruptionTask {
 public:
  RotationTask(sdk::Context& ctx, int64_t dim)
      : InterruptionTask(ctx),
        rotation_(ctx.params().get<double>("num_rotation")),
        dim_(dim) {}

 protected:
  at::Tensor answer_interruption(const at::Tensor& y) const override {
    return sdk::seq::rotate(y, rotation_, dim_);
  }

 private:
  double rotation_;
  int64_t dim_;
};

}  // namespace mip::plugins::dual_interruption
