// DistractionCarry: the last distractor is carried to the end and recalled
// there, before every primary item.
#include "dual_distraction.hpp"

namespace mip::plugins::dual_distraction {
namespace {

class DistractionCarry final : public DualTaskProblem {
 public:
  explicit DistractionCarry(sdk::Context& ctx) : DualTaskProblem(ctx, 4) {}

 protected:
  /// [0] X_1 [1] Y_1 ... [0] X_n [1] Y_n, then marker 2 and the answer Y_n,
  /// then marker 3 and the answer X_1..X_n ([k]: a marker on line k).
  sdk::DataDict generate_batch(int64_t batch, at::Generator& gen) override {
    const Pairs p = draw_pairs(batch, gen);
    sdk::seq::SequenceBuilder b = builder(batch);
    present_pairs(b, p);
    b.marker(kRecallDistractorLine).answer(p.distractor.items.back());
    return recall_primaries(b, p);
  }
};

}  // namespace
}  // namespace mip::plugins::dual_distraction

MIP_REGISTER_PROBLEM(
    mip::plugins::dual_distraction::DistractionCarry,
    "DistractionCarry",
    "dual task: pairs of primary and distractor subsequences; recall the "
    "last distractor, then every primary, at the end",
    "distraction_carry",
    "carry_distraction")
