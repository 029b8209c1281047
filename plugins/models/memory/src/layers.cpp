#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <mip/memory/layers.hpp>

namespace mip::memory {

void uniform_init(at::Tensor& t, double bound) {
  torch::NoGradGuard no_grad;
  t.uniform_(-bound, bound);
}

Dense::Dense(int64_t in, int64_t out, bool bias) : in_(in), out_(out) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight_ = register_parameter("weight", at::empty({out, in}));
  uniform_init(weight_, bound);
  if (bias) {
    bias_ = register_parameter("bias", at::empty({out}));
    uniform_init(bias_, bound);
  }
}

at::Tensor Dense::forward(const at::Tensor& x) const {
  return at::linear(x, weight_, bias_);
}

CellWeights::CellWeights(int64_t in, int64_t hidden, int64_t gates) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  w_ih = register_parameter("weight_ih", at::empty({gates * hidden, in}));
  w_hh = register_parameter("weight_hh", at::empty({gates * hidden, hidden}));
  b_ih = register_parameter("bias_ih", at::empty({gates * hidden}));
  b_hh = register_parameter("bias_hh", at::empty({gates * hidden}));
  for (at::Tensor* t : {&w_ih, &w_hh, &b_ih, &b_hh}) {
    uniform_init(*t, bound);
  }
}

std::shared_ptr<Dense> add_dense(torch::nn::Module& parent,
                                 const std::string& name,
                                 int64_t in,
                                 int64_t out,
                                 bool bias) {
  return parent.register_module(name, std::make_shared<Dense>(in, out, bias));
}

}  // namespace mip::memory
