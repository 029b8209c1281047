// MI-Prometheus's comparison tasks: a first sequence is stored, a second one
// is presented after the recall marker, and the one-bit answer says whether
// they match (item by item, as a whole, or the second as the first reversed).
#include <mip/sdk/sdk.hpp>
#include <mip/sdk/sequence.hpp>

#include <string>

namespace {

using mip::sdk::seq::AlgorithmicSeqToSeqProblem;

/// What the comparison tasks share: one output bit, and the layout
/// store marker, L items (first), recall marker, L items (second) with the
/// command line on, answered on the steps of the second part.
class DualComparison : public AlgorithmicSeqToSeqProblem {
 public:
  explicit DualComparison(mip::sdk::Context& ctx)
      : AlgorithmicSeqToSeqProblem(ctx, {.output_bits = 1}) {}

 protected:
  /// The batch from the two sequences [B, L, D], the answer and the mask of
  /// the second part ([B, L, 1] each).
  mip::sdk::DataDict build(int64_t line,
                           const at::Tensor& first,
                           const at::Tensor& second,
                           const at::Tensor& answers,
                           const at::Tensor& masks) const {
    const int64_t batch = first.size(0), len = first.size(1);
    at::Tensor in = at::zeros({batch, len, control_bits() + data_bits()});
    in.narrow(2, control_bits(), data_bits()).copy_(second);
    if (line >= 0)
      in.select(2, line).fill_(1.0);
    return builder(batch)
        .marker(store_bit())
        .present(first)
        .marker(recall_bit())
        .steps(in, answers, masks)
        .build(len);
  }

  /// Bits of [B, L, D] that flip where `flip` [B, L, 1] is set: each flipping
  /// item is XORed with random bits (1 with probability bias), so a flipping
  /// item may by chance stay equal.
  static at::Tensor scramble(const at::Tensor& items,
                             const at::Tensor& scrambler,
                             const at::Tensor& flip) {
    return at::logical_xor(items, scrambler * flip).to(at::kFloat);
  }

  /// True per item [B, L, 1] where the two sequences hold the same item.
  static at::Tensor items_equal(const at::Tensor& a, const at::Tensor& b) {
    return a.eq(b).all(2, /*keepdim=*/true);
  }
};

class SequenceComparison final : public DualComparison {
 public:
  explicit SequenceComparison(mip::sdk::Context& ctx) : DualComparison(ctx) {
    inequality_ = ctx.params().get<bool>("inequality");
  }

 protected:
  /// Each item of the second sequence is the first's item (probability 1/2)
  /// or it scrambled; the answer at every step of the second part is 1 where
  /// the two items are equal (different, with inequality).
  mip::sdk::DataDict generate_batch(int64_t batch,
                                    at::Generator& gen) override {
    // Draw order: command line, length, bits, which items stay, scrambler
    // (as MI-Prometheus).
    const int64_t line = draw_command_line(2, gen);
    const int64_t len = draw_length(gen);
    const at::Tensor first = random_bits({batch, len, data_bits()}, gen);
    const at::Tensor stay = at::rand({batch, len, 1}, gen) < 0.5;
    const at::Tensor scrambler = random_bits({batch, len, data_bits()}, gen);
    const at::Tensor second = scramble(first, scrambler, stay.logical_not());
    at::Tensor answers = items_equal(first, second);
    if (inequality_)
      answers = answers.logical_not();
    return build(line, first, second, answers.to(at::kFloat),
                 at::ones({batch, len, 1}, at::kByte));
  }

 private:
  bool inequality_ = false;
};

/// Equality and symmetry: the second sequence is the first (or the first
/// reversed) for half of the samples and a scrambled copy for the others;
/// the one answer, on the last step, is 1 when it matches (when it does not,
/// with `negate_key`).
class WholeSequenceMatch : public DualComparison {
 public:
  WholeSequenceMatch(mip::sdk::Context& ctx,
                     bool reversed,
                     const std::string& negate_key)
      : DualComparison(ctx), reversed_(reversed) {
    negate_ = ctx.params().get<bool>(negate_key);
    hard_ = ctx.params().get<bool>("hard");
  }

 protected:
  /// In hard mode a scrambled sample changes in one item only (drawn per
  /// sample), else in all of them.
  mip::sdk::DataDict generate_batch(int64_t batch,
                                    at::Generator& gen) override {
    // Draw order: command line, length, bits, which samples match,
    // scrambler, then (hard) the item to change per sample.
    const int64_t line = draw_command_line(2, gen);
    const int64_t len = draw_length(gen);
    const at::Tensor first = random_bits({batch, len, data_bits()}, gen);
    const at::Tensor match = at::rand({batch, 1, 1}, gen) < 0.5;
    const at::Tensor scrambler = random_bits({batch, len, data_bits()}, gen);
    at::Tensor flip = match.logical_not().expand({batch, len, 1});
    if (hard_) {
      const at::Tensor item = at::randint(len, {batch, 1, 1}, gen, at::kLong);
      flip = flip.logical_and(at::arange(len).view({1, len, 1}).eq(item));
    }
    const at::Tensor reference = reversed_ ? first.flip({1}) : first;
    const at::Tensor second = scramble(reference, scrambler, flip);
    // Whether they match, from the sequences (a scrambler may change nothing).
    at::Tensor same = items_equal(reference, second).all(1, /*keepdim=*/true);
    if (negate_)
      same = same.logical_not();
    at::Tensor answers = at::zeros({batch, len, 1});
    answers.narrow(1, len - 1, 1).copy_(same);
    at::Tensor masks = at::zeros({batch, len, 1}, at::kByte);
    masks.narrow(1, len - 1, 1).fill_(1);
    return build(line, first, second, answers, masks);
  }

 private:
  bool reversed_ = false, negate_ = false, hard_ = false;
};

class SequenceEquality final : public WholeSequenceMatch {
 public:
  explicit SequenceEquality(mip::sdk::Context& ctx)
      : WholeSequenceMatch(ctx, /*reversed=*/false, "inequality") {}
};

class SequenceSymmetry final : public WholeSequenceMatch {
 public:
  explicit SequenceSymmetry(mip::sdk::Context& ctx)
      : WholeSequenceMatch(ctx, /*reversed=*/true, "antisymmetry") {}
};

}  // namespace

MIP_REGISTER_PROBLEM(SequenceComparison,
                     "SequenceComparisonCommandLines",
                     "sequence comparison: store L items, then for each item "
                     "of a second sequence answer whether it equals the "
                     "stored one",
                     "SequenceComparison",
                     "sequence_comparison_cl",
                     "sequence_comparison",
                     "comparison")
MIP_REGISTER_PROBLEM(SequenceEquality,
                     "SequenceEqualityCommandLines",
                     "sequence equality: store L items, present a second "
                     "sequence, answer on its last step whether both are equal",
                     "SequenceEquality",
                     "sequence_equality_cl",
                     "sequence_equality",
                     "equality")
MIP_REGISTER_PROBLEM(SequenceSymmetry,
                     "SequenceSymmetryCommandLines",
                     "sequence symmetry: store L items, present a second "
                     "sequence, answer on its last step whether it is the "
                     "first reversed",
                     "SequenceSymmetry",
                     "sequence_symmetry_cl",
                     "sequence_symmetry")
