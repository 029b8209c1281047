// DistractionForget: each distractor is recalled right after it is shown
// (and may then be forgotten); the primaries are recalled at the end.
#include "dual_distraction.hpp"

namespace mip::plugins::dual_distraction {
namespace {

class DistractionForget final : public DualTaskProblem {
 public:
  explicit DistractionForget(sdk::Context& ctx) : DualTaskProblem(ctx, 4) {}

 protected:
  /// [0] X_i [1] Y_i [2] (answer Y_i) for each pair, then marker 3 and the
  /// answer X_1..X_n ([k]: a marker on line k).
  sdk::DataDict generate_batch(int64_t batch, at::Generator& gen) override {
    const Pairs p = draw_pairs(batch, gen);
    sdk::seq::SequenceBuilder b = builder(batch);
    for (size_t i = 0; i < p.primary.items.size(); ++i) {
      present_pair(b, p, i);
      b.marker(kRecallDistractorLine).answer(p.distractor.items[i]);
    }
    return recall_primaries(b, p);
  }
};

}  // namespace
}  // namespace mip::plugins::dual_distraction

MIP_REGISTER_PROBLEM(
    mip::plugins::dual_distraction::DistractionForget,
    "DistractionForget",
    "dual task: recall each distractor subsequence right after it, and "
    "every primary subsequence at the end",
    "distraction_forget",
    "forget_distraction")
