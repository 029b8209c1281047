// ImageToClassProblem: what MNIST, FashionMNIST and CIFAR10 share
// (MI-Prometheus's ImageToClassProblem). Header-only and built into each of
// those plugins; not a plugin itself.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <mip/sdk/sdk.hpp>

namespace mip::plugins {

/// `path` with a leading `~` or `~/` replaced by $HOME (Python's expanduser).
inline std::string expand_user(const std::string& path) {
  if (path.empty() || path[0] != '~' || (path.size() > 1 && path[1] != '/'))
    return path;
  const char* home = std::getenv("HOME");
  MIP_CHECK(home != nullptr && *home != '\0', mip::DataError, "cannot expand [",
            path, "]: $HOME is not set; give an absolute data_folder");
  return std::string(home) + path.substr(1);
}

/// A classification data set held in memory: images [N, C, H, W] as bytes,
/// returned as float32 in [0, 1] (torchvision's ToTensor), and int64 labels
/// [N]. Reads `use_train_data`, `resize` and `padding`; the subclass loads the
/// files and hands them to set_data().
class ImageToClassProblem : public mip::sdk::Problem {
 public:
  mip::sdk::DataDefinitions data_definitions() const override {
    return {{"images",
             {{-1, channels_, height_, width_},
              at::kFloat,
              "images in [0, 1] [B, C, H, W]"}},
            {"targets", {{-1}, at::kLong, "class indices [B]"}}};
  }

  mip::sdk::DataDefinitions prediction_definitions() const override {
    return {{"predictions",
             {{-1, num_classes_}, at::kFloat, "logits [B, num_classes]"}}};
  }

  std::map<std::string, double> default_values() const override {
    return {{"num_classes", double(num_classes_)},
            {"num_channels", double(channels_)},
            {"width", double(width_)},
            {"height", double(height_)}};
  }

  int64_t size() const override { return images_.size(0); }

  mip::sdk::DataDict get_batch(const std::vector<int64_t>& indices,
                               at::Generator& /*gen*/) override {
    const int64_t n = size();
    for (int64_t i : indices)
      MIP_CHECK(i >= 0 && i < n, mip::DataError, name_, ": sample index ", i,
                " out of range [0, ", n, ")");
    // index_select copies, so the batch never aliases `indices`.
    const auto idx = at::from_blob(const_cast<int64_t*>(indices.data()),
                                   {int64_t(indices.size())}, at::kLong);
    mip::sdk::DataDict out;
    out["images"] = images_.index_select(0, idx).to(at::kFloat).div_(255.0);
    out["targets"] = labels_.index_select(0, idx);
    return out;
  }

  /// Cross entropy of the logits against the class indices.
  at::Tensor evaluate_loss(const mip::sdk::DataDict& batch,
                           const mip::sdk::DataDict& predictions) override {
    return at::nll_loss(at::log_softmax(predictions.at("predictions"), 1),
                        batch.at("targets"));
  }

  void add_statistics(mip::sdk::StatisticsCollector& col) override {
    mip::sdk::add_accuracy_statistics(col);
  }

  /// acc: share of samples whose largest logit is the target class.
  void collect_statistics(mip::sdk::StatisticsCollector& col,
                          const mip::sdk::DataDict& batch,
                          const mip::sdk::DataDict& predictions) override {
    const auto& logits = predictions.at("predictions");
    const auto correct = logits.argmax(1)
                             .eq(batch.at("targets").view({-1}))
                             .sum()
                             .item<int64_t>();
    col.collect("acc", double(correct) / double(logits.size(0)));
    col.collect("batch_size", double(logits.size(0)));
  }

  void add_aggregators(mip::sdk::StatisticsAggregator& agg) override {
    mip::sdk::add_accuracy_aggregators(agg);
  }

  void aggregate_statistics(const mip::sdk::StatisticsCollector& col,
                            mip::sdk::StatisticsAggregator& agg) override {
    mip::sdk::aggregate_accuracy(col, agg);
  }

 protected:
  /// Reads the options common to image problems from `ctx`.
  ImageToClassProblem(mip::sdk::Context& ctx,
                      std::string name,
                      int64_t num_classes)
      : name_(std::move(name)), num_classes_(num_classes) {
    const auto& p = ctx.params();
    where_ = p.path().empty() ? "" : p.path() + ".";
    use_train_data_ = p.get<bool>("use_train_data");
    data_folder_ = expand_user(p.get<std::string>("data_folder"));
    if (p.has("resize")) {
      resize_ = p.get<std::vector<int64_t>>("resize");
      MIP_CHECK(resize_.size() == 2 && resize_[0] > 0 && resize_[1] > 0,
                mip::ParameterError, "[", where_,
                "resize] must be [height, width] with both > 0, got ",
                list(resize_));
    }
    if (p.has("padding")) {
      padding_ = p.get<std::vector<int64_t>>("padding");
      MIP_CHECK(padding_.size() == 4 && padding_[0] >= 0 && padding_[1] >= 0 &&
                    padding_[2] >= 0 && padding_[3] >= 0,
                mip::ParameterError, "[", where_,
                "padding] must be [left, right, top, bottom] with each >= 0, "
                "got ",
                list(padding_));
    }
  }

  /// Takes the loaded set: `images` uint8 [N, C, H, W], `labels` int64 [N];
  /// resizes (bilinear) then zero-pads the images, keeping them as bytes as
  /// torchvision's PIL Resize did before ToTensor.
  void set_data(at::Tensor images, at::Tensor labels) {
    MIP_INTERNAL_ASSERT(images.dim() == 4 && images.scalar_type() == at::kByte);
    MIP_INTERNAL_ASSERT(labels.dim() == 1 && labels.size(0) == images.size(0));
    if (!resize_.empty() &&
        (images.size(2) != resize_[0] || images.size(3) != resize_[1])) {
      std::vector<at::Tensor> chunks;
      for (const auto& chunk : images.split(4096)) {  // bounds the float copy
        // Bilinear with antialiasing, as PIL does when shrinking.
        chunks.push_back(at::_upsample_bilinear2d_aa(chunk.to(at::kFloat),
                                                     {resize_[0], resize_[1]},
                                                     /*align_corners=*/false,
                                                     c10::nullopt, c10::nullopt)
                             .round_()
                             .clamp_(0, 255)
                             .to(at::kByte));
      }
      images = at::cat(chunks);
    }
    if (std::any_of(padding_.begin(), padding_.end(),
                    [](int64_t v) { return v > 0; }))
      images = at::constant_pad_nd(images, padding_, 0);
    images_ = images.contiguous();
    labels_ = labels.contiguous();
    channels_ = images_.size(1);
    height_ = images_.size(2);
    width_ = images_.size(3);
  }

  /// "[1, 2, 3]" for messages.
  static std::string list(const std::vector<int64_t>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i)
      s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "]";
  }

  std::string name_;
  std::string where_;  ///< the parameter section and a dot: "training.problem."
  int64_t num_classes_ = 10;
  bool use_train_data_ = true;
  std::string data_folder_;       ///< with ~ expanded
  std::vector<int64_t> resize_;   ///< [h, w] or empty
  std::vector<int64_t> padding_;  ///< [left, right, top, bottom] or empty

 private:
  at::Tensor images_;  ///< uint8 [N, C, H, W]
  at::Tensor labels_;  ///< int64 [N]
  int64_t channels_ = 0, height_ = 0, width_ = 0;
};

}  // namespace mip::plugins
