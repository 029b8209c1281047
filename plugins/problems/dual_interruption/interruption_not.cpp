// InterruptionNot: MI-Prometheus's dual interruption task whose
// interrupting subsequences are answered negated (dual_interruption.hpp).
#include "dual_interruption.hpp"

namespace {

using mip::plugins::dual_interruption::InterruptionTask;

class InterruptionNot final : public InterruptionTask {
 public:
  explicit InterruptionNot(mip::sdk::Context& ctx) : InterruptionTask(ctx) {}

 protected:
  /// Every bit of y flipped.
  at::Tensor answer_interruption(const at::Tensor& y) const override {
    return 1.0 - y;
  }
};

}  // namespace

MIP_REGISTER_PROBLEM(
    InterruptionNot,
    "InterruptionNot",
    "dual interruption: answer each interrupting subsequence negated at "
    "once, recall the primary subsequences at the end",
    "interruption_not")
