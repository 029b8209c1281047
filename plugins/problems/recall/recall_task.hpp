#pragma once

// What the recall and temporal manipulation tasks share: a store part
// followed by one or more recall parts, and [min, max] parameter pairs.
// Included by plugins/problems/recall and plugins/problems/
// manipulation_temporal.

#include <cstdint>
#include <limits>
#include <string>

#include <mip/sdk/sequence.hpp>

namespace mip::recall {

/// An inclusive range of integers read from a pair of keys.
struct Range {
  int64_t lo = 1, hi = 1;
};

/// A sequence task of the store-then-recall kind.
class RecallTask : public sdk::seq::AlgorithmicSeqToSeqProblem {
 public:
  explicit RecallTask(sdk::Context& ctx) : AlgorithmicSeqToSeqProblem(ctx) {}

 protected:
  /// A store marker, `items` [B, L, D], then `times` times a recall marker
  /// followed by steps answering `answer` (command line `line` on, if >= 0).
  sdk::seq::SequenceBuilder store_then_recall(const at::Tensor& items,
                                              const at::Tensor& answer,
                                              int64_t line,
                                              int64_t times = 1) const {
    sdk::seq::SequenceBuilder b = builder(items.size(0));
    b.marker(store_bit()).present(items);
    for (int64_t r = 0; r < times; ++r)
      b.marker(recall_bit()).answer(answer, line);
    return b;
  }

  /// [lo_key, hi_key] from `p`, checked 1 <= lo <= hi <= most; errors name
  /// the keys.
  Range read_range(const sdk::ParamView& p,
                   const std::string& lo_key,
                   const std::string& hi_key,
                   int64_t most = std::numeric_limits<int64_t>::max()) const {
    const Range r{p.get<int64_t>(lo_key), p.get<int64_t>(hi_key)};
    MIP_CHECK(r.lo >= 1 && r.lo <= r.hi, ParameterError, "[", where(), lo_key,
              "] (", r.lo, ") must be >= 1 and <= ", hi_key, " (", r.hi, ")");
    MIP_CHECK(r.hi <= most, ParameterError, "[", where(), hi_key,
              "] must be <= ", most, ", got ", r.hi);
    return r;
  }
};

/// A store marker, L items, then N times a recall marker and L steps whose
/// answer is the items (last first when `kReversed`); N drawn per batch in
/// [min_recall_number, max_recall_number]. MI-Prometheus's
/// RepeatSerialRecallCommandLines and RepeatReverseRecallCommandLines.
template <bool kReversed>
class RepeatedRecall final : public RecallTask {
 public:
  explicit RepeatedRecall(sdk::Context& ctx)
      : RecallTask(ctx),
        recalls_(read_range(
            ctx.params(), "min_recall_number", "max_recall_number")) {}

 protected:
  sdk::DataDict generate_batch(int64_t batch, at::Generator& gen) override {
    // Draw order: command line, length, number of recalls, bits.
    const int64_t line = draw_command_line(2, gen);
    const int64_t len = draw_length(gen);
    const int64_t times = sdk::seq::draw_int(recalls_.lo, recalls_.hi, gen);
    const at::Tensor bits = random_bits({batch, len, data_bits()}, gen);
    return store_then_recall(bits, kReversed ? bits.flip({1}) : bits, line,
                             times)
        .build(len);
  }

 private:
  Range recalls_;
};

}  // namespace mip::recall
