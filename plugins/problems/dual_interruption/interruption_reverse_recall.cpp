// InterruptionReverseRecall: MI-Prometheus's dual interruption task whose
// interrupting subsequences are answered in reverse (dual_interruption.hpp).
#include "dual_interruption.hpp"

namespace {

using mip::plugins::dual_interruption::InterruptionTask;

class InterruptionReverseRecall final : public InterruptionTask {
 public:
  explicit InterruptionReverseRecall(mip::sdk::Context& ctx)
      : InterruptionTask(ctx) {}

 protected:
  /// The items of y, last first.
  at::Tensor answer_interruption(const at::Tensor& y) const override {
    return y.flip({1});
  }
};

}  // namespace

MIP_REGISTER_PROBLEM(
    InterruptionReverseRecall,
    "InterruptionReverseRecall",
    "dual interruption: answer each interrupting subsequence reversed at "
    "once, recall the primary subsequences at the end",
    "interruption_reverse_recall",
    "reverse_recall_distraction")
