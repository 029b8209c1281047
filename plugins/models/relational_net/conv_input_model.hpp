#pragma once

// ConvInputModel: the image encoder of MI-Prometheus's RelationalNetwork,
// CNN_LSTM and stacked attention networks (the "CLEVR from pixels" encoder
// of Santoro et al., 2017): four convolutions of 24 filters, 3x3, stride 2,
// padding 1, each followed by batch normalisation and a ReLU. A 128x128 image
// gives 24 feature maps of 8x8. Header-only: included by the plugins
// mip_relational_net and mip_vqa_baselines, never by core.

#include <torch/torch.h>

#include <string>
#include <utility>

#include <mip/sdk/sdk.hpp>

namespace mip::vqa {

class ConvInputModelImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kFilters = 24;
  static constexpr int64_t kLayers = 4;

  /// Encoder of images with `in_channels` channels (MI-Prometheus: 3).
  explicit ConvInputModelImpl(int64_t in_channels) {
    int64_t c = in_channels;
    for (int64_t i = 0; i < kLayers; ++i) {
      const std::string n = std::to_string(i + 1);
      conv_[i] = register_module(
          "conv" + n,
          torch::nn::Conv2d(
              torch::nn::Conv2dOptions(c, kFilters, 3).stride(2).padding(1)));
      norm_[i] =
          register_module("batchNorm" + n, torch::nn::BatchNorm2d(kFilters));
      c = kFilters;
    }
  }

  /// Number of feature maps it outputs.
  static int64_t output_filters() { return kFilters; }

  /// Height (or width) of its feature maps for an input side of `side`.
  static int64_t output_side(int64_t side) {
    for (int64_t i = 0; i < kLayers; ++i)
      side = (side + 2 - 3) / 2 + 1;
    return side;
  }

  /// images [B, C, H, W] -> feature maps [B, 24, H', W'].
  at::Tensor forward(at::Tensor x) {
    for (int64_t i = 0; i < kLayers; ++i)
      x = torch::relu(norm_[i]->forward(conv_[i]->forward(x)));
    return x;
  }

 private:
  torch::nn::Conv2d conv_[kLayers] = {nullptr, nullptr, nullptr, nullptr};
  torch::nn::BatchNorm2d norm_[kLayers] = {nullptr, nullptr, nullptr, nullptr};
};
TORCH_MODULE(ConvInputModel);

/// The image and question sizes every question-answering model reads from
/// the problem's default values (SortOfCLEVR's and ShapeColorQuery's names).
struct VqaSizes {
  int64_t height = 0, width = 0, depth = 0, question_size = 0, classes = 0;

  explicit VqaSizes(const mip::sdk::ParamView& p) {
    height = p.get<int64_t>("height");
    width = p.get<int64_t>("width");
    depth = p.get<int64_t>("depth");
    question_size = p.get<int64_t>("question_encoding_size");
    classes = p.get<int64_t>("num_classes");
    MIP_CHECK(height >= 1 && width >= 1 && depth >= 1 && question_size >= 1 &&
                  classes >= 1,
              mip::ParameterError, "[", p.path(),
              "]: height, width, depth, question_encoding_size and "
              "num_classes must be >= 1, got ",
              height, ", ", width, ", ", depth, ", ", question_size, ", ",
              classes);
  }

  /// images [-1, depth, height, width].
  mip::sdk::DataDefinition images() const {
    return {{-1, depth, height, width},
            torch::kFloat32,
            "images [B, C, H, W] in [0, 1]"};
  }
};

/// Applies dropout (p = 0.5) only in training mode. MI-Prometheus's heads
/// call functional dropout without `training`, so it also drops at test time.
inline at::Tensor train_dropout(const at::Tensor& x, bool training) {
  return torch::dropout(x, 0.5, training);
}

}  // namespace mip::vqa
