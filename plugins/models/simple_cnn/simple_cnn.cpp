// SimpleConvNet: MI-Prometheus's simple two-layer CNN for MNIST and CIFAR10.
#include <torch/torch.h>

#include <string>

#include <mip/sdk/sdk.hpp>

namespace {

using mip::sdk::DataDefinitions;
using mip::sdk::DataDict;

class SimpleConvNet final : public mip::sdk::Model {
 public:
  explicit SimpleConvNet(mip::sdk::Context& ctx) {
    const auto& p = ctx.params();
    const std::string where = p.path() + ".";
    channels_ = p.get<int64_t>("num_channels");
    height_ = p.get<int64_t>("height");
    width_ = p.get<int64_t>("width");
    num_classes_ = p.get<int64_t>("num_classes");
    MIP_CHECK(
        channels_ >= 1 && height_ >= 1 && width_ >= 1 && num_classes_ >= 1,
        mip::ParameterError, "[", p.path(),
        "]: num_channels, height, width and num_classes must be >= 1, "
        "got ",
        channels_, ", ", height_, ", ", width_, ", ", num_classes_);

    // Each layer: its options, checked, and the feature map size it leaves.
    int64_t c = channels_, h = height_, w = width_;
    std::string shapes = "input [N, " + dims(c, h, w) + "]";
    auto conv = [&](const std::string& name) {
      const int64_t out = p.get<int64_t>(name + ".out_channels");
      const int64_t k = p.get<int64_t>(name + ".kernel_size");
      const int64_t s = p.get<int64_t>(name + ".stride");
      const int64_t pad = p.get<int64_t>(name + ".padding");
      MIP_CHECK(out >= 1 && k >= 1 && s >= 1 && pad >= 0, mip::ParameterError,
                "[", where, name,
                "]: out_channels, kernel_size and stride "
                "must be >= 1 and padding >= 0, got ",
                out, ", ", k, ", ", s, ", ", pad);
      MIP_CHECK(h + 2 * pad >= k && w + 2 * pad >= k, mip::ParameterError, "[",
                where, name, ".kernel_size] = ", k, " is larger than its ", h,
                "x", w, " input (padding ", pad,
                "); use smaller kernels "
                "or larger images (the problem's resize)");
      h = (h - k + 2 * pad) / s + 1;
      w = (w - k + 2 * pad) / s + 1;
      auto m = register_module(
          name,
          torch::nn::Conv2d(
              torch::nn::Conv2dOptions(c, out, k).stride(s).padding(pad)));
      c = out;
      shapes += ", " + name + " [N, " + dims(c, h, w) + "]";
      return m;
    };
    auto pool = [&](const std::string& name) {
      const int64_t k = p.get<int64_t>(name + ".kernel_size");
      MIP_CHECK(k >= 1, mip::ParameterError, "[", where, name,
                ".kernel_size] must be >= 1, got ", k);
      MIP_CHECK(h >= k && w >= k, mip::ParameterError, "[", where, name,
                ".kernel_size] = ", k, " is larger than its ", h, "x", w,
                " input; use smaller kernels or larger images (the problem's "
                "resize)");
      h = (h - k) / k + 1;
      w = (w - k) / k + 1;
      shapes += ", " + name + " [N, " + dims(c, h, w) + "]";
      return k;
    };
    conv1_ = conv("conv1");
    pool1_ = pool("maxpool1");
    conv2_ = conv("conv2");
    pool2_ = pool("maxpool2");
    flat_ = c * h * w;
    linear1_ = register_module("linear1", torch::nn::Linear(flat_, 120));
    linear2_ = register_module("linear2", torch::nn::Linear(120, 84));
    linear3_ = register_module("linear3", torch::nn::Linear(84, num_classes_));
    ctx.logger().info("SimpleConvNet: " + shapes + ", flatten [N, " +
                      std::to_string(flat_) +
                      "], linear1 [N, 120], linear2 "
                      "[N, 84], linear3 [N, " +
                      std::to_string(num_classes_) + "]");
  }

  DataDefinitions input_definitions() const override {
    return {{"images",
             {{-1, channels_, height_, width_},
              torch::kFloat32,
              "images [B, C, H, W]"}}};
  }

  DataDefinitions output_definitions() const override {
    return {{"predictions",
             {{-1, num_classes_}, torch::kFloat32, "logits [B, num_classes]"}}};
  }

  DataDict forward(const DataDict& batch) override {
    auto x = torch::relu(
        torch::max_pool2d(conv1_->forward(batch.at("images")), pool1_));
    x = torch::relu(torch::max_pool2d(conv2_->forward(x), pool2_));
    x = torch::relu(linear1_->forward(x.reshape({-1, flat_})));
    x = torch::relu(linear2_->forward(x));
    DataDict out;
    out["predictions"] = linear3_->forward(x);
    return out;
  }

 private:
  static std::string dims(int64_t c, int64_t h, int64_t w) {
    return std::to_string(c) + ", " + std::to_string(h) + ", " +
           std::to_string(w);
  }

  int64_t channels_ = 1, height_ = 28, width_ = 28, num_classes_ = 10;
  int64_t pool1_ = 2, pool2_ = 2, flat_ = 0;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear linear1_{nullptr}, linear2_{nullptr}, linear3_{nullptr};
};

}  // namespace

MIP_REGISTER_MODEL(
    SimpleConvNet,
    "SimpleConvNet",
    "two convolutions with max pooling, then three linear layers "
    "(MI-Prometheus's SimpleConvNet for MNIST and CIFAR10)")
