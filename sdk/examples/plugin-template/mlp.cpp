// Mlp: a two-layer perceptron over `inputs`, giving class logits.
#include <torch/torch.h>

#include <mip/sdk/sdk.hpp>

namespace {

class Mlp final : public mip::sdk::Model {
 public:
  explicit Mlp(mip::sdk::Context& ctx)
      : in_(ctx.params().get<int64_t>("input_size")),
        classes_(ctx.params().get<int64_t>("num_classes")) {
    const int64_t hidden = ctx.params().get<int64_t>("hidden_size");
    hidden_ = register_module("hidden", torch::nn::Linear(in_, hidden));
    out_ = register_module("out", torch::nn::Linear(hidden, classes_));
    ctx.logger().info("Mlp " + std::to_string(in_) + " -> " +
                      std::to_string(hidden) + " -> " +
                      std::to_string(classes_));
  }

  mip::sdk::DataDefinitions input_definitions() const override {
    return {{"inputs", {{-1, in_}, torch::kFloat32, "features [B, I]"}}};
  }
  mip::sdk::DataDefinitions output_definitions() const override {
    return {
        {"predictions", {{-1, classes_}, torch::kFloat32, "logits [B, C]"}}};
  }
  mip::sdk::DataDict forward(const mip::sdk::DataDict& batch) override {
    mip::sdk::DataDict out;
    out["predictions"] =
        out_->forward(torch::relu(hidden_->forward(batch.at("inputs"))));
    return out;
  }

 private:
  int64_t in_, classes_;
  torch::nn::Linear hidden_{nullptr}, out_{nullptr};
};

}  // namespace

MIP_REGISTER_MODEL(Mlp, "TemplateMlp", "template: two-layer perceptron")
