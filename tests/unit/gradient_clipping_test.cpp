// GradientClipping: MI-Prometheus's number (clip by value), {value: v},
// {norm: n}, and what each does to the gradients.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <mip/core/optim.hpp>
#include <mip/core/registry.hpp>

#include "common/test_util.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace gradient_clipping_test {

GradientClipping clipping(const std::string& value) {
  ParamRegistry r;
  r.apply_override("training.optimizer.name=Adam");
  if (!value.empty())
    r.apply_override("training.gradient_clipping=" + value);
  return GradientClipping::from_config(*r.view("training"));
}

torch::Tensor with_gradient(std::vector<double> grad) {
  torch::Tensor p =
      torch::zeros({static_cast<int64_t>(grad.size())}, torch::kDouble)
          .requires_grad_();
  p.mutable_grad() = torch::tensor(grad, torch::kDouble);
  return p;
}

TEST(GradientClipping, ReadsEveryFormAndRefusesOtherKeys) {
  EXPECT_EQ(clipping("").value, 0.0);
  EXPECT_EQ(clipping("").norm, 0.0);
  EXPECT_EQ(clipping("0.5").value, 0.5);
  EXPECT_EQ(clipping("{value: 0.25}").value, 0.25);
  const GradientClipping n = clipping("{norm: 2.0}");
  EXPECT_EQ(n.value, 0.0);
  EXPECT_EQ(n.norm, 2.0);
  EXPECT_HAS(test::error_of([] { clipping("{nrom: 2.0}"); }),
             "[training.gradient_clipping.nrom] is unknown; use a number, "
             "{value: v} or {norm: n}");
}

TEST(GradientClipping, ClipsByValueOrRescalesByNorm) {
  torch::Tensor p = with_gradient({3.0, -0.1, -4.0});
  clipping("0.5").apply({p});
  EXPECT_TRUE(torch::equal(
      p.grad(),
      torch::tensor(std::vector<double>{0.5, -0.1, -0.5}, torch::kDouble)));
  torch::Tensor q = with_gradient({3.0, 4.0});  // norm 5
  clipping("{norm: 1.0}").apply({q});
  EXPECT_NEAR(q.grad()[0].item<double>(), 0.6, 1e-6);
  EXPECT_NEAR(q.grad()[1].item<double>(), 0.8, 1e-6);
  torch::Tensor untouched = with_gradient({3.0, 4.0});
  clipping("").apply({untouched});
  EXPECT_EQ(untouched.grad()[1].item<double>(), 4.0);
}

}  // namespace gradient_clipping_test
}  // namespace mip
