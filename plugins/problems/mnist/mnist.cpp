// MNIST and FashionMNIST: MI-Prometheus's digit and clothing classification
// problems, read from the standard IDX files (plain or gzipped).
#include <ATen/ATen.h>

#include <string>
#include <utility>

#include <mip/sdk/sdk.hpp>

#include "../../common/image_to_class.hpp"
#include "idx.hpp"

namespace {

/// A data set in the IDX format of MNIST: train-images-idx3-ubyte,
/// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
/// each plain or gzipped, in data_folder or its torchvision subfolder
/// <Name>/raw/ (MI-Prometheus's layout). The training and validation
/// sections often read the same files: they share one decoded copy.
class IdxProblem : public mip::plugins::ImageToClassProblem {
 protected:
  IdxProblem(mip::sdk::Context& ctx,
             const std::string& name,
             const std::string& how_to_get)
      : ImageToClassProblem(ctx, name, 10) {
    auto split =
        mip::plugins::idx::load_split(data_folder_, where_ + "data_folder",
                                      name, use_train_data_, how_to_get);
    set_data(std::move(split.data));
    const auto& images = bytes().images;
    ctx.logger().info(name + ": " + std::to_string(images.size(0)) + " " +
                      (use_train_data_ ? "training" : "test") + " images " +
                      std::to_string(images.size(2)) + "x" +
                      std::to_string(images.size(3)) + " from [" + split.dir +
                      "]" + mip::plugins::sharing_note(sharers()));
  }
};

class Mnist final : public IdxProblem {
 public:
  explicit Mnist(mip::sdk::Context& ctx)
      : IdxProblem(
            ctx, "MNIST", mip::plugins::idx::mnist_how_to_get("data_folder")) {}
};

class FashionMnist final : public IdxProblem {
 public:
  explicit FashionMnist(mip::sdk::Context& ctx)
      : IdxProblem(
            ctx,
            "FashionMNIST",
            "Install them with `sudo apt-get install dataset-fashion-mnist` "
            "(into /usr/share/datasets/fashion-mnist, the default "
            "data_folder), "
            "or download the same four .gz files from "
            "https://github.com/zalandoresearch/fashion-mnist (data/fashion/), "
            "or set data_folder to the folder holding them") {}
};

}  // namespace

MIP_REGISTER_PROBLEM(Mnist,
                     "MNIST",
                     "MNIST handwritten digits: 28x28 grey images, 10 classes "
                     "(IDX files, plain or gzipped)")
MIP_REGISTER_PROBLEM(FashionMnist,
                     "FashionMNIST",
                     "Fashion-MNIST clothing images: 28x28 grey, 10 classes "
                     "(IDX files, plain or gzipped)")
