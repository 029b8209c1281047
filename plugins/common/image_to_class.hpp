// ImageToClassProblem: what MNIST, FashionMNIST and CIFAR10 share
// (MI-Prometheus's ImageToClassProblem). Header-only and built into each of
// those plugins; not a plugin itself.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <mip/sdk/sdk.hpp>

#include "image_bytes.hpp"

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

/// A problem whose loss is the cross entropy of class logits: the loss,
/// acc (share of samples whose largest logit is the target class),
/// batch_size and their aggregates, on what classified() picks from a batch
/// and the predictions (MI-Prometheus's image and video classification).
class ClassificationProblem : public mip::sdk::Problem {
 public:
  /// Cross entropy of the logits against the class indices.
  at::Tensor evaluate_loss(const mip::sdk::DataDict& batch,
                           const mip::sdk::DataDict& predictions) override {
    const auto [logits, targets] = classified(batch, predictions);
    return at::nll_loss(at::log_softmax(logits, 1), targets);
  }

  void add_statistics(mip::sdk::StatisticsCollector& col) override {
    mip::sdk::add_accuracy_statistics(col);
  }

  void collect_statistics(mip::sdk::StatisticsCollector& col,
                          const mip::sdk::DataDict& batch,
                          const mip::sdk::DataDict& predictions) override {
    const auto [logits, targets] = classified(batch, predictions);
    const auto correct = logits.argmax(1).eq(targets).sum().item<int64_t>();
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
  /// The logits [K, C] and the class indices [K] of the K answers in a batch.
  virtual std::pair<at::Tensor, at::Tensor> classified(
      const mip::sdk::DataDict& batch,
      const mip::sdk::DataDict& predictions) const = 0;
};

/// A classification data set held in memory as bytes, shared by every problem
/// of the process over the same files (ImageBytes); each batch is converted
/// on its own (float32 in [0, 1], as torchvision's ToTensor; resized and
/// padded), on the thread that makes it. int64 labels [N]. Reads
/// `use_train_data`, `resize` and `padding`; the subclass loads the files and
/// hands them to set_data().
class ImageToClassProblem : public ClassificationProblem {
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

  int64_t size() const override { return data_->images.size(0); }

  mip::sdk::DataDict get_batch(const std::vector<int64_t>& indices,
                               at::Generator& /*gen*/) override {
    mip::sdk::DataDict out;
    out["images"] = transform_(select_samples(data_->images, indices, name_));
    out["targets"] =
        select_samples(data_->labels, indices, name_).to(at::kLong);
    return out;
  }

 protected:
  std::pair<at::Tensor, at::Tensor> classified(
      const mip::sdk::DataDict& batch,
      const mip::sdk::DataDict& predictions) const override {
    return {predictions.at("predictions"), batch.at("targets")};
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

  /// Takes the loaded set (shared, never written); the batches are resized
  /// then zero-padded as the parameters say.
  void set_data(std::shared_ptr<const ImageBytes> data) {
    data_ = std::move(data);
    transform_ = ImageTransform{resize_, padding_};
    channels_ = data_->images.size(1);
    std::tie(height_, width_) =
        transform_.output_size(data_->images.size(2), data_->images.size(3));
  }

  /// How many problems of this process hold the same decoded bytes (this
  /// one included).
  long sharers() const { return data_.use_count(); }
  /// The decoded data set (as read, before any resize or padding).
  const ImageBytes& bytes() const { return *data_; }

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
  std::shared_ptr<const ImageBytes> data_;
  ImageTransform transform_;
  int64_t channels_ = 0, height_ = 0, width_ = 0;
};

}  // namespace mip::plugins
