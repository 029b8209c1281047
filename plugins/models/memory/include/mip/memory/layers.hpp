// Small building blocks of the memory-augmented models, written on ATen so
// that a model's file needs <torch/nn/module.h> (which the SDK already
// includes) and not <torch/torch.h>.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mip::memory {

/// y = x W^T + b, initialised as torch::nn::Linear is (weights and bias
/// uniform in +-1/sqrt(in)), with the same parameter names ("weight",
/// "bias"), so a state dict reads the same as one of a torch::nn::Linear.
class Dense : public torch::nn::Module {
 public:
  Dense(int64_t in, int64_t out, bool bias = true);
  at::Tensor forward(const at::Tensor& x) const;
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  const at::Tensor& weight() const { return weight_; }
  const at::Tensor& bias() const { return bias_; }

 private:
  int64_t in_, out_;
  at::Tensor weight_, bias_;
};

/// The four tensors of a recurrent cell under torch::nn's names and shapes
/// (weight_ih [G*H, in], weight_hh [G*H, H], bias_ih, bias_hh [G*H]; G = 4
/// for an LSTM, 3 for a GRU), initialised as torch::nn::LSTMCell/GRUCell are
/// (uniform in +-1/sqrt(H), in this order): a state dict reads the same as one
/// of those cells.
class CellWeights : public torch::nn::Module {
 public:
  CellWeights(int64_t in, int64_t hidden, int64_t gates);
  /// {weight_ih, weight_hh, bias_ih, bias_hh}, the order at::lstm takes.
  std::vector<at::Tensor> all() const { return {w_ih, w_hh, b_ih, b_hh}; }
  at::Tensor w_ih, w_hh, b_ih, b_hh;
};

/// Registers a Dense as `name` in `parent` and returns it.
std::shared_ptr<Dense> add_dense(torch::nn::Module& parent,
                                 const std::string& name,
                                 int64_t in,
                                 int64_t out,
                                 bool bias = true);

/// Fills `t` (no grad) uniformly in [-bound, bound] from LibTorch's default
/// generator (what torch::nn's initialisers draw from, so seeding the run
/// seeds the weights).
void uniform_init(at::Tensor& t, double bound);

}  // namespace mip::memory
