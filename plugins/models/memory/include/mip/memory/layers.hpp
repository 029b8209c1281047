// Small building blocks of the memory-augmented models, written on ATen so
// that a model's file needs <torch/nn/module.h> (which the SDK already
// includes) and not <torch/torch.h>.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace mip::sdk {
class StepRecorder;
}

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

/// Runs stacked LSTM layers over `x` [B, T, I] from the state `h`, `c`
/// [L, B, H]; `weights` holds each layer's CellWeights::all() in turn.
/// Returns the top layer's outputs [B, T, H] and the final `h`, `c`.
/// `fused`: LibTorch's sequence LSTM (at::lstm: a layer's input projections
/// for all steps in one product; cuDNN on CUDA), else cell by cell
/// (at::lstm_cell, as torch::nn::LSTMCell). Same maths, to float rounding.
std::tuple<at::Tensor, at::Tensor, at::Tensor> run_lstm(
    const at::Tensor& x,
    const at::Tensor& h,
    const at::Tensor& c,
    const std::vector<at::Tensor>& weights,
    bool fused,
    bool train);

/// For --visualize: the layers of run_lstm again over `x` [B, T, I] from
/// `h`, `c` [L, B, H], cell by cell and without gradients, publishing at
/// each step every layer's input, forget and output gates and its cell and
/// hidden states [B, H] ("input_gate", "forget_gate", "output_gate",
/// "cell_state", "hidden_state", each prefixed "layer<l>." when there are
/// several layers). What the model trains on is untouched.
void publish_lstm_steps(const at::Tensor& x,
                        const at::Tensor& h,
                        const at::Tensor& c,
                        const std::vector<at::Tensor>& weights,
                        mip::sdk::StepRecorder& recorder);

/// Whether the fused path is the faster for these sizes: on the CPU it
/// gains when the input projections are a sizable part of the work (stacked
/// layers, or inputs at least an eighth of the hidden size); on CUDA always.
bool fused_lstm_is_faster(int64_t input,
                          int64_t hidden,
                          int64_t layers,
                          const at::Tensor& x);

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
