// LSTM: MI-Prometheus's LSTM model (cells stepped over time, then Linear).
#include <torch/torch.h>

#include <mip/sdk/sdk.hpp>

namespace {

using mip::sdk::DataDefinitions;
using mip::sdk::DataDict;

class Lstm final : public mip::sdk::Model {
 public:
  explicit Lstm(mip::sdk::Context& ctx) {
    const auto& p = ctx.params();
    input_size_ = p.get<int64_t>("input_item_size");
    output_size_ = p.get<int64_t>("output_item_size");
    hidden_ = p.get<int64_t>("hidden_state_size");
    const int64_t layers = p.get<int64_t>("num_layers");
    MIP_CHECK(layers >= 1, mip::ParameterError, "[", p.path(),
              ".num_layers] must be >= 1, got ", layers);
    MIP_CHECK(hidden_ >= 1 && input_size_ >= 1 && output_size_ >= 1,
              mip::ParameterError, "[", p.path(),
              "]: hidden_state_size, input_item_size and output_item_size "
              "must be >= 1");
    for (int64_t l = 0; l < layers; ++l) {
      cells_.push_back(register_module(
          "lstm_" + std::to_string(l),
          torch::nn::LSTMCell(l == 0 ? input_size_ : hidden_, hidden_)));
    }
    linear_ =
        register_module("linear", torch::nn::Linear(hidden_, output_size_));
  }

  DataDefinitions input_definitions() const override {
    return {{"sequences",
             {{-1, -1, input_size_}, torch::kFloat32, "inputs [B, T, I]"}}};
  }

  DataDefinitions output_definitions() const override {
    return {{"predictions",
             {{-1, -1, output_size_}, torch::kFloat32, "logits [B, T, O]"}}};
  }

  DataDict forward(const DataDict& batch) override {
    const auto& x = batch.at("sequences");
    const int64_t b = x.size(0), t = x.size(1);
    std::vector<torch::Tensor> h(cells_.size()), c(cells_.size());
    for (size_t l = 0; l < cells_.size(); ++l) {
      h[l] = torch::zeros({b, hidden_}, x.options());
      c[l] = torch::zeros({b, hidden_}, x.options());
    }
    std::vector<torch::Tensor> outputs;
    outputs.reserve(static_cast<size_t>(t));
    for (int64_t step = 0; step < t; ++step) {
      torch::Tensor in = x.select(1, step);
      for (size_t l = 0; l < cells_.size(); ++l) {
        std::tie(h[l], c[l]) =
            cells_[l]->forward(in, std::make_tuple(h[l], c[l]));
        in = h[l];
      }
      outputs.push_back(in);
    }
    DataDict out;
    out["predictions"] = linear_->forward(torch::stack(outputs, 1));
    return out;
  }

 private:
  int64_t input_size_ = 0, output_size_ = 0, hidden_ = 0;
  std::vector<torch::nn::LSTMCell> cells_;
  torch::nn::Linear linear_{nullptr};
};

}  // namespace

MIP_REGISTER_MODEL(
    Lstm,
    "LSTM",
    "stacked LSTM cells stepped over the sequence, then a linear "
    "layer per step (MI-Prometheus's LSTM)")
