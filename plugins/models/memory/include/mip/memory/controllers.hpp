// The controllers the memory-augmented models share (MI-Prometheus's
// controllers package): a feed-forward layer or a recurrent cell that maps
// the model's input at one step (with what it read from memory) to the
// controller's output, chosen by the `controller.name` key.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mip::sdk {
class ParamView;
}

namespace mip::memory {

/// A controller's recurrent state: empty for the feed-forward controller,
/// {h} per layer for RNN and GRU, {h, c} per layer for LSTM.
using ControllerState = std::vector<at::Tensor>;

class Controller : public torch::nn::Module {
 public:
  Controller(int64_t input_size, int64_t output_size)
      : input_size_(input_size), output_size_(output_size) {}
  /// The zero state for a batch.
  virtual ControllerState init_state(
      int64_t batch, const at::TensorOptions& options) const = 0;
  /// One step: `x` [B, input_size] -> output [B, output_size]; `state` is
  /// replaced by the new state.
  virtual at::Tensor step(const at::Tensor& x, ControllerState& state) = 0;
  int64_t input_size() const { return input_size_; }
  int64_t output_size() const { return output_size_; }

 protected:
  /// `n` zero tensors [batch, output_size] (the recurrent controllers' state).
  ControllerState zero_states(size_t n,
                              int64_t batch,
                              const at::TensorOptions& options) const;

 private:
  int64_t input_size_, output_size_;
};

/// The controller names accepted by make_controller, in MI-Prometheus's
/// spelling: FeedforwardController, RNNController, GRUController,
/// LSTMController, FFGRUController.
const std::vector<std::string>& controller_names();

/// Builds the controller a config section describes. The section's keys:
///   name               one of controller_names() (required)
///   num_layers         stacked recurrent cells (>= 1; default 1)
///   non_linearity      RNNController: sigmoid, tanh or relu (default sigmoid)
///   ff_output_size     FFGRUController: width of its feed-forward layer
///   input_size, output_size
///                      what MI-Prometheus added to the section when it built
///                      the controller (so its saved configurations carry
///                      them); when present they must equal the model's
/// `input_size` and `output_size` are what the model feeds and expects. Bad
/// values throw mip::ParameterError naming the key under `section.path()`.
std::shared_ptr<Controller> make_controller(const mip::sdk::ParamView& section,
                                            int64_t input_size,
                                            int64_t output_size);

}  // namespace mip::memory
