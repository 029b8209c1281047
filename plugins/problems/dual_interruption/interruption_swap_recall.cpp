// InterruptionSwapRecall: MI-Prometheus's dual interruption task whose
// interrupting subsequences are answered rotated in time by num_rotation
// items (dual_interruption.hpp).
#include "dual_interruption.hpp"

namespace {

using mip::plugins::dual_interruption::RotationTask;

/// y's items rotated: item i moves to i + num_rotation (modulo |y|).
class InterruptionSwapRecall final : public RotationTask {
 public:
  explicit InterruptionSwapRecall(mip::sdk::Context& ctx)
      : RotationTask(ctx, 1) {}
};

}  // namespace

MIP_REGISTER_PROBLEM(
    InterruptionSwapRecall,
    "InterruptionSwapRecall",
    "dual interruption: answer each interrupting subsequence rotated by "
    "num_rotation items at once, recall the primary subsequences at the end",
    "interruption_swap_recall",
    "swap_recall_interruption")
