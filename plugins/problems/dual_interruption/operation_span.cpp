// OperationSpan: MI-Prometheus's dual interruption task whose interruptions
// are single items ("operations") answered with their bits rotated by
// num_rotation (dual_interruption.hpp).
#include "dual_interruption.hpp"

namespace {

using mip::plugins::dual_interruption::RotationTask;

/// One-item interruptions; the item's bit i moves to i + num_rotation
/// (modulo data_bits).
class OperationSpan final : public RotationTask {
 public:
  explicit OperationSpan(mip::sdk::Context& ctx) : RotationTask(ctx, 2) {}

 protected:
  int64_t draw_interruption_length(at::Generator& /*gen*/) const override {
    return 1;
  }
};

}  // namespace

MIP_REGISTER_PROBLEM(
    OperationSpan,
    "OperationSpan",
    "dual interruption: answer each one-item operation (its bits rotated by "
    "num_rotation) at once, recall the primary subsequences at the end",
    "operation_span")
