#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <mip/memory/layers.hpp>
#include <mip/sdk/visualization.hpp>

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

std::tuple<at::Tensor, at::Tensor, at::Tensor> run_lstm(
    const at::Tensor& x,
    const at::Tensor& h,
    const at::Tensor& c,
    const std::vector<at::Tensor>& weights,
    bool fused,
    bool train) {
  if (fused) {
    return at::lstm(x, {h, c}, weights, /*has_biases=*/true, h.size(0),
                    /*dropout=*/0.0, train, /*bidirectional=*/false,
                    /*batch_first=*/true);
  }
  std::vector<at::Tensor> hs = h.unbind(0), cs = c.unbind(0), outputs;
  outputs.reserve(static_cast<size_t>(x.size(1)));
  for (int64_t t = 0; t < x.size(1); ++t) {
    at::Tensor in = x.select(1, t);
    for (size_t l = 0; l < hs.size(); ++l) {
      const at::Tensor* w = &weights[4 * l];
      std::tie(hs[l], cs[l]) =
          at::lstm_cell(in, {hs[l], cs[l]}, w[0], w[1], w[2], w[3]);
      in = hs[l];
    }
    outputs.push_back(in);
  }
  return {at::stack(outputs, 1), at::stack(hs), at::stack(cs)};
}

void publish_lstm_steps(const at::Tensor& x,
                        const at::Tensor& h,
                        const at::Tensor& c,
                        const std::vector<at::Tensor>& weights,
                        mip::sdk::StepRecorder& recorder) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> hs = h.unbind(0), cs = c.unbind(0);
  for (int64_t t = 0; t < x.size(1); ++t) {
    at::Tensor in = x.select(1, t);
    for (size_t l = 0; l < hs.size(); ++l) {
      const at::Tensor* w = &weights[4 * l];
      // PyTorch's gate order: input, forget, cell candidate, output.
      const auto g =
          (at::linear(in, w[0], w[2]) + at::linear(hs[l], w[1], w[3]))
              .chunk(4, 1);
      const at::Tensor i = at::sigmoid(g[0]), f = at::sigmoid(g[1]),
                       o = at::sigmoid(g[3]);
      cs[l] = f * cs[l] + i * at::tanh(g[2]);
      hs[l] = o * at::tanh(cs[l]);
      const std::string layer =
          hs.size() > 1 ? "layer" + std::to_string(l) + "." : "";
      recorder.publish(layer + "input_gate", i);
      recorder.publish(layer + "forget_gate", f);
      recorder.publish(layer + "output_gate", o);
      recorder.publish(layer + "cell_state", cs[l]);
      recorder.publish(layer + "hidden_state", hs[l]);
      in = hs[l];
    }
  }
}

bool fused_lstm_is_faster(int64_t input,
                          int64_t hidden,
                          int64_t layers,
                          const at::Tensor& x) {
  // Measured on the CPU (batch 64, 22 steps, 256 units, one thread, forward
  // and backward), at::lstm against the cells: 1.03x the time with 11
  // inputs, 0.93x with 64, 0.81x with 256.
  return x.is_cuda() || layers > 1 || 8 * input >= hidden;
}

std::shared_ptr<Dense> add_dense(torch::nn::Module& parent,
                                 const std::string& name,
                                 int64_t in,
                                 int64_t out,
                                 bool bias) {
  return parent.register_module(name, std::make_shared<Dense>(in, out, bias));
}

}  // namespace mip::memory
