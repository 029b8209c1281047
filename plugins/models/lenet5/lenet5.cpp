// LeNet5: MI-Prometheus's classical LeNet-5 for 32x32 grey images.
#include <torch/torch.h>

#include <mip/sdk/sdk.hpp>

namespace {

using mip::sdk::DataDefinitions;
using mip::sdk::DataDict;

class LeNet5 final : public mip::sdk::Model {
 public:
  explicit LeNet5(mip::sdk::Context& ctx) {
    const auto& p = ctx.params();
    num_classes_ = p.get<int64_t>("num_classes");
    MIP_CHECK(num_classes_ >= 1, mip::ParameterError, "[", p.path(),
              ".num_classes] must be >= 1, got ", num_classes_);
    using torch::nn::Conv2d;
    using torch::nn::Conv2dOptions;
    conv1_ = register_module("conv1", Conv2d(Conv2dOptions(1, 6, 5)));
    conv2_ = register_module("conv2", Conv2d(Conv2dOptions(6, 16, 5)));
    conv3_ = register_module("conv3", Conv2d(Conv2dOptions(16, 120, 5)));
    linear1_ = register_module("linear1", torch::nn::Linear(120, 84));
    linear2_ = register_module("linear2", torch::nn::Linear(84, num_classes_));
  }

  DataDefinitions input_definitions() const override {
    return {{"images",
             {{-1, 1, 32, 32}, torch::kFloat32, "images [B, 1, 32, 32]"}}};
  }

  DataDefinitions output_definitions() const override {
    return {{"predictions",
             {{-1, num_classes_}, torch::kFloat32, "logits [B, num_classes]"}}};
  }

  DataDict forward(const DataDict& batch) override {
    auto x = torch::relu(conv1_->forward(batch.at("images")));
    x = torch::max_pool2d(x, 2, 2);
    x = torch::max_pool2d(torch::relu(conv2_->forward(x)), 2, 2);
    x = torch::relu(conv3_->forward(x)).flatten(1);  // [B, 120]
    DataDict out;
    out["predictions"] = linear2_->forward(torch::relu(linear1_->forward(x)));
    return out;
  }

 private:
  int64_t num_classes_ = 10;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::Linear linear1_{nullptr}, linear2_{nullptr};
};

}  // namespace

MIP_REGISTER_MODEL(
    LeNet5,
    "LeNet5",
    "classical LeNet-5 on 32x32 grey images: three convolutions, "
    "two linear layers (MI-Prometheus's LeNet5)")
