// DistractionIgnore: store the primary subsequences, ignore the distractors
// interleaved with them, recall every primary item at the end.
#include "dual_distraction.hpp"

namespace mip::plugins::dual_distraction {
namespace {

class DistractionIgnore final : public DualTaskProblem {
 public:
  explicit DistractionIgnore(sdk::Context& ctx) : DualTaskProblem(ctx, 4) {}

 protected:
  /// [0] X_1 [1] Y_1 ... [0] X_n [1] Y_n, then marker 3 and the answer
  /// X_1..X_n ([k]: a marker on line k).
  sdk::DataDict generate_batch(int64_t batch, at::Generator& gen) override {
    const Pairs p = draw_pairs(batch, gen);
    sdk::seq::SequenceBuilder b = builder(batch);
    present_pairs(b, p);
    return recall_primaries(b, p);
  }
};

}  // namespace
}  // namespace mip::plugins::dual_distraction

MIP_REGISTER_PROBLEM(
    mip::plugins::dual_distraction::DistractionIgnore,
    "DistractionIgnore",
    "dual task: pairs of primary and distractor subsequences; recall only "
    "the primaries, in order, at the end",
    "distraction_ignore",
    "ignore_distraction")
