// AlexnetWrapper: MI-Prometheus's wrapper of torchvision's AlexNet, written
// here with LibTorch modules and trained from scratch.
#include <torch/torch.h>

#include <string>

#include <mip/sdk/sdk.hpp>

namespace {

using mip::sdk::DataDefinitions;
using mip::sdk::DataDict;

/// The smallest side AlexNet's features accept: 63 -> conv1 15 -> pool 7 ->
/// pool 3 -> pool 1.
constexpr int64_t kMinSide = 63;

class AlexnetWrapper final : public mip::sdk::Model {
 public:
  explicit AlexnetWrapper(mip::sdk::Context& ctx) {
    const auto& p = ctx.params();
    MIP_CHECK(!p.get<bool>("pretrained"), mip::ParameterError, "[", p.path(),
              ".pretrained] is true, but no pretrained weights exist here: "
              "nothing is downloaded, AlexnetWrapper trains from scratch; "
              "set it to false (or load a checkpoint of your own with "
              "--model)");
    channels_ = p.get<int64_t>("num_channels");
    height_ = p.get<int64_t>("height");
    width_ = p.get<int64_t>("width");
    num_classes_ = p.get<int64_t>("num_classes");
    MIP_CHECK(channels_ == 1 || channels_ == 3, mip::ParameterError, "[",
              p.path(),
              ".num_channels] must be 1 (grey, repeated into three) "
              "or 3 (colour), got ",
              channels_);
    MIP_CHECK(height_ >= kMinSide && width_ >= kMinSide, mip::ParameterError,
              "[", p.path(), ".height, ", p.path(), ".width] = ", height_, "x",
              width_, " is smaller than AlexNet's ", kMinSide, "x", kMinSide,
              " minimum; resize the problem's images (its resize: [224, 224], "
              "as MI-Prometheus's configs do)");
    MIP_CHECK(num_classes_ >= 1, mip::ParameterError, "[", p.path(),
              ".num_classes] must be >= 1, got ", num_classes_);

    using torch::nn::Conv2d;
    using torch::nn::Conv2dOptions;
    features_ = register_module(
        "features",
        torch::nn::Sequential(
            Conv2d(Conv2dOptions(3, 64, 11).stride(4).padding(2)),
            torch::nn::ReLU(),
            torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2)),
            Conv2d(Conv2dOptions(64, 192, 5).padding(2)), torch::nn::ReLU(),
            torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2)),
            Conv2d(Conv2dOptions(192, 384, 3).padding(1)), torch::nn::ReLU(),
            Conv2d(Conv2dOptions(384, 256, 3).padding(1)), torch::nn::ReLU(),
            Conv2d(Conv2dOptions(256, 256, 3).padding(1)), torch::nn::ReLU(),
            torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2))));
    avgpool_ = register_module(
        "avgpool", torch::nn::AdaptiveAvgPool2d(
                       torch::nn::AdaptiveAvgPool2dOptions({6, 6})));
    classifier_ = register_module(
        "classifier",
        torch::nn::Sequential(torch::nn::Dropout(0.5),
                              torch::nn::Linear(256 * 6 * 6, 4096),
                              torch::nn::ReLU(), torch::nn::Dropout(0.5),
                              torch::nn::Linear(4096, 4096), torch::nn::ReLU(),
                              torch::nn::Linear(4096, num_classes_)));
  }

  DataDefinitions input_definitions() const override {
    return {{"images",
             {{-1, channels_, height_, width_},
              torch::kFloat32,
              "images [B, C, H, W], C 1 or 3"}}};
  }

  DataDefinitions output_definitions() const override {
    return {{"predictions",
             {{-1, num_classes_}, torch::kFloat32, "logits [B, num_classes]"}}};
  }

  DataDict forward(const DataDict& batch) override {
    at::Tensor x = batch.at("images");
    if (x.size(1) == 1)  // grey: the same image in the three channels
      x = x.expand({-1, 3, -1, -1});
    x = avgpool_->forward(features_->forward(x)).flatten(1);
    DataDict out;
    out["predictions"] = classifier_->forward(x);
    return out;
  }

 private:
  int64_t channels_ = 3, height_ = 224, width_ = 224, num_classes_ = 10;
  torch::nn::Sequential features_{nullptr}, classifier_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
};

}  // namespace

MIP_REGISTER_MODEL(AlexnetWrapper,
                   "AlexnetWrapper",
                   "AlexNet's architecture (torchvision's layer shapes) "
                   "trained from scratch, grey images repeated into three "
                   "channels (MI-Prometheus's AlexnetWrapper)")
