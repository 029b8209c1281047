// SequentialPixelMNIST and PermutedSequentialRowMnist: MI-Prometheus's
// sequential MNIST problems (video_to_class/seq_mnist_to_class). A model sees
// an MNIST image one pixel (or one row) per step and names its class at the
// last step. They read the same IDX files as MNIST and share its decoded
// bytes within the process.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <mip/sdk/sdk.hpp>

#include "../../common/image_to_class.hpp"
#include "idx.hpp"

namespace {

constexpr int64_t kClasses = 10;

/// MI-Prometheus's VideoToClassProblem for MNIST: images given `item` pixels
/// a step (a row-major walk over the image, rows in `row_order` when it is
/// defined), the class asked where the mask is set (the last step), cross
/// entropy and accuracy on that step.
class SequentialMnist : public mip::plugins::ClassificationProblem {
 public:
  mip::sdk::DataDefinitions data_definitions() const override {
    return {
        {"images",
         {{-1, steps_, 1, 1, item_},
          at::kFloat,
          "pixels in [0, 1], one step each [B, T, 1, 1, I] "
          "(MI-Prometheus's layout)"}},
        {"sequences",
         {{-1, steps_, item_},
          at::kFloat,
          "the same pixels as a sequence [B, T, I] (what sequence models "
          "read)"}},
        {"mask",
         {{-1, steps_, 1}, at::kBool, "true at the step answered [B, T, 1]"}},
        {"targets",
         {{-1, steps_, 1}, at::kLong, "class index at every step [B, T, 1]"}}};
  }

  mip::sdk::DataDefinitions prediction_definitions() const override {
    return {{"predictions",
             {{-1, steps_, kClasses},
              at::kFloat,
              "logits at every step [B, T, num_classes]"}}};
  }

  int64_t size() const override { return data_->images.size(0); }

  mip::sdk::DataDict get_batch(const std::vector<int64_t>& indices,
                               at::Generator& /*gen*/) override {
    at::Tensor bytes = mip::plugins::select_samples(data_->images, indices,
                                                    name_);  // [B, 1, H, W]
    if (row_order_.defined())
      bytes = bytes.index_select(2, row_order_);
    const int64_t b = bytes.size(0);
    const at::Tensor x = bytes.to(at::kFloat).div_(255.0);
    auto mask = at::zeros({b, steps_, 1}, at::kBool);
    mask.select(1, steps_ - 1).fill_(true);
    mip::sdk::DataDict out;
    out["images"] = x.view({b, steps_, 1, 1, item_});
    out["sequences"] = x.view({b, steps_, item_});
    out["mask"] = mask;
    out["targets"] = mip::plugins::select_samples(data_->labels, indices, name_)
                         .to(at::kLong)
                         .view({b, 1, 1})
                         .expand({b, steps_, 1});
    return out;
  }

 protected:
  /// Reads root_dir and use_train_data; `pixels_per_step`: 1 (pixel by
  /// pixel) or 0 (a row per step).
  SequentialMnist(mip::sdk::Context& ctx,
                  std::string name,
                  int64_t pixels_per_step)
      : name_(std::move(name)) {
    const auto& p = ctx.params();
    const std::string where = p.path().empty() ? "" : p.path() + ".";
    const bool train = p.get<bool>("use_train_data");
    auto split = mip::plugins::idx::load_split(
        mip::plugins::expand_user(p.get<std::string>("root_dir")),
        where + "root_dir", "MNIST", train,
        mip::plugins::idx::mnist_how_to_get("root_dir"));
    data_ = std::move(split.data);
    const int64_t rows = data_->images.size(2), cols = data_->images.size(3);
    item_ = pixels_per_step > 0 ? pixels_per_step : cols;
    steps_ = rows * cols / item_;
    ctx.logger().info(name_ + ": " + std::to_string(size()) + " " +
                      (train ? "training" : "test") + " images " +
                      std::to_string(rows) + "x" + std::to_string(cols) +
                      " from [" + split.dir + "] as " + std::to_string(steps_) +
                      " steps of " + std::to_string(item_) + " pixel" +
                      (item_ > 1 ? "s" : "") +
                      mip::plugins::sharing_note(data_.use_count()));
  }

  int64_t rows() const { return data_->images.size(2); }

  std::string name_;
  std::shared_ptr<const mip::plugins::ImageBytes> data_;
  int64_t steps_ = 0, item_ = 0;
  at::Tensor row_order_;  ///< int64 [H]: the rows in the order given, or none

  /// The logits [K, C] and classes [K] of the K masked steps.
  std::pair<at::Tensor, at::Tensor> classified(
      const mip::sdk::DataDict& batch,
      const mip::sdk::DataDict& predictions) const override {
    const at::Tensor& logits = predictions.at("predictions");
    const at::Tensor& mask = batch.at("mask");
    return {logits.masked_select(mask).view({-1, logits.size(-1)}),
            batch.at("targets").masked_select(mask)};
  }
};

/// One pixel per step: 784 steps for MNIST's 28x28 images.
class SequentialPixelMnist final : public SequentialMnist {
 public:
  explicit SequentialPixelMnist(mip::sdk::Context& ctx)
      : SequentialMnist(ctx, "SequentialPixelMNIST", 1) {}

  std::map<std::string, double> default_values() const override {
    return {{"nb_classes", double(kClasses)},
            {"num_classes", double(kClasses)},
            {"length", double(steps_)},
            {"input_item_size", 1.0},
            {"output_item_size", double(kClasses)}};
  }
};

/// One row per step, the rows in an order drawn once from permutation_seed
/// (the same for every section and every run with that seed).
class PermutedSequentialRowMnist final : public SequentialMnist {
 public:
  explicit PermutedSequentialRowMnist(mip::sdk::Context& ctx)
      : SequentialMnist(ctx, "PermutedSequentialRowMnist", 0) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(
        static_cast<uint64_t>(ctx.params().get<int64_t>("permutation_seed")));
    row_order_ = at::randperm(rows(), gen, at::kLong);
  }

  std::map<std::string, double> default_values() const override {
    return {{"nb_classes", double(kClasses)},
            {"num_classes", double(kClasses)},
            {"num_channels", 1.0},
            {"width", double(item_)},
            {"height", double(steps_)},
            {"input_item_size", double(item_)},
            {"output_item_size", double(kClasses)}};
  }
};

}  // namespace

MIP_REGISTER_PROBLEM(SequentialPixelMnist,
                     "SequentialPixelMNIST",
                     "MNIST digits one pixel per step (784 steps), the class "
                     "asked at the last step")
MIP_REGISTER_PROBLEM(PermutedSequentialRowMnist,
                     "PermutedSequentialRowMnist",
                     "MNIST digits one row per step (28 steps), rows in a "
                     "fixed random order, the class asked at the last step",
                     "PermutedSequentialRowMNIST")
