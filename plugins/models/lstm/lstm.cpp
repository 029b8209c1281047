// LSTM: MI-Prometheus's LSTM model (stacked cells over time, then Linear).
// Where it is the faster, the sequence goes through LibTorch's fused LSTM
// (at::lstm: the input projections of all steps in one matrix product per
// layer), else cell by cell (mip::memory::run_lstm). The parameters keep the
// step-by-step version's names (lstm_<layer>.weight_ih, ..., linear.weight),
// so its checkpoints load.
#include <ATen/ATen.h>

#include <mip/memory/layers.hpp>
#include <mip/memory/sequence_model.hpp>
#include <mip/sdk/sdk.hpp>

namespace {

using mip::sdk::DataDict;

class Lstm final : public mip::memory::SequenceMemoryModel {
 public:
  explicit Lstm(mip::sdk::Context& ctx) {
    const auto& p = ctx.params();
    input_size_ = mip::memory::positive(p, "input_item_size");
    output_size_ = mip::memory::positive(p, "output_item_size");
    hidden_ = mip::memory::positive(p, "hidden_state_size");
    layers_ = mip::memory::positive(p, "num_layers");
    for (int64_t l = 0; l < layers_; ++l) {
      const auto cell =
          register_module("lstm_" + std::to_string(l),
                          std::make_shared<mip::memory::CellWeights>(
                              l == 0 ? input_size_ : hidden_, hidden_, 4));
      for (const at::Tensor& w : cell->all()) {
        weights_.push_back(w);
      }
    }
    linear_ = mip::memory::add_dense(*this, "linear", hidden_, output_size_);
  }

  DataDict forward(const DataDict& batch) override {
    const auto& x = batch.at("sequences");
    // Zero initial state, as MI-Prometheus's LSTM.
    const at::Tensor zeros =
        at::zeros({layers_, x.size(0), hidden_}, x.options());
    const auto out = mip::memory::run_lstm(
        x, zeros, zeros, weights_,
        mip::memory::fused_lstm_is_faster(input_size_, hidden_, layers_, x),
        is_training());
    DataDict result;
    result["predictions"] = linear_->forward(std::get<0>(out));
    if (auto* recorder = step_recorder())
      mip::memory::publish_lstm_steps(x, zeros, zeros, weights_, *recorder);
    return result;
  }

 private:
  int64_t hidden_ = 0, layers_ = 0;
  std::vector<at::Tensor> weights_;  // at::lstm's order, layer by layer
  std::shared_ptr<mip::memory::Dense> linear_;
};

}  // namespace

MIP_REGISTER_MODEL(
    Lstm,
    "LSTM",
    "stacked LSTM cells over the sequence, then a linear layer per step "
    "(MI-Prometheus's LSTM)")
