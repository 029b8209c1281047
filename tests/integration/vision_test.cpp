// The image problems (MNIST, FashionMNIST, CIFAR10) and models (LeNet5,
// SimpleConvNet) through the real plugin loader, on small data files written
// by the tests, and FashionMNIST on Debian's real files when installed.
#include <torch/torch.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <mip/core/handshake.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/plugin_loader.hpp>
#include <mip/core/registry.hpp>
#include <mip/core/statistics.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/problem.hpp>

#include "common/components.hpp"
#include "common/test_util.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace vision_test {

using test::error_of;

// --- writing small data sets
// ---------------------------------------------------

/// The pixel value of image `i` at (`r`, `c`) in the test sets.
uint8_t pixel(int64_t i, int64_t r, int64_t c) {
  return uint8_t((i * 7 + r * 3 + c) % 256);
}
/// The label of image `i` in the test sets.
uint8_t label(int64_t i) {
  return uint8_t((i * 3 + 1) % 10);
}

void put32(std::string& s, uint32_t v) {
  for (int shift : {24, 16, 8, 0})
    s.push_back(char((v >> shift) & 0xff));
}

std::string idx_images(int64_t n, int64_t rows = 28, int64_t cols = 28) {
  std::string s;
  put32(s, 0x00000803);
  put32(s, uint32_t(n));
  put32(s, uint32_t(rows));
  put32(s, uint32_t(cols));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        s.push_back(char(pixel(i, r, c)));
  return s;
}

std::string idx_labels(int64_t n) {
  std::string s;
  put32(s, 0x00000801);
  put32(s, uint32_t(n));
  for (int64_t i = 0; i < n; ++i)
    s.push_back(char(label(i)));
  return s;
}

void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

void write_gz(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  gzFile f = gzopen(p.string().c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())),
            int(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

/// An MNIST folder: `train` training and `test` test images, the training
/// files plain and the test files gzipped.
void write_mnist(const fs::path& dir, int64_t train = 20, int64_t test = 5) {
  write_file(dir / "train-images-idx3-ubyte", idx_images(train));
  write_file(dir / "train-labels-idx1-ubyte", idx_labels(train));
  write_gz(dir / "t10k-images-idx3-ubyte.gz", idx_images(test));
  write_gz(dir / "t10k-labels-idx1-ubyte.gz", idx_labels(test));
}

/// The pixel of CIFAR record `i`, channel `ch`, at (`r`, `c`).
uint8_t cifar_pixel(int64_t i, int64_t ch, int64_t r, int64_t c) {
  return uint8_t((i * 11 + ch * 80 + r * 5 + c) % 256);
}

/// `n` CIFAR records starting at record `first`.
std::string cifar_records(int64_t first, int64_t n) {
  std::string s;
  for (int64_t i = first; i < first + n; ++i) {
    s.push_back(char(label(i)));
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t r = 0; r < 32; ++r)
        for (int64_t c = 0; c < 32; ++c)
          s.push_back(char(cifar_pixel(i, ch, r, c)));
  }
  return s;
}

/// cifar-10-batches-bin/ under `root`: five training batches of 3 records and
/// a test batch of 4.
fs::path write_cifar(const fs::path& root) {
  const fs::path dir = root / "cifar-10-batches-bin";
  for (int b = 1; b <= 5; ++b)
    write_file(dir / ("data_batch_" + std::to_string(b) + ".bin"),
               cifar_records(3 * (b - 1), 3));
  write_file(dir / "test_batch.bin", cifar_records(100, 4));
  return dir;
}

using test::range;

class Vision : public test::Components {
 protected:
  at::Generator gen_ = test::seeded(1);
};

// --- MNIST
// ----------------------------------------------------------------------

TEST_F(Vision, MnistReadsPlainIdxFilesScaledToUnitRange) {
  write_mnist(dir_.path() / "mnist");
  auto p = problem("MNIST", "{data_folder: " + folder("mnist") + "}");
  const Component& c = loader_.find(sdk::ComponentKind::kProblem, "MNIST");
  EXPECT_EQ(fs::canonical(c.library->path), fs::canonical(MIP_MNIST_PLUGIN));
  ASSERT_EQ(p->size(), 20);
  const auto b = p->get_batch({3, 0, 19}, gen_);
  const auto& x = b.at("images");
  const auto& y = b.at("targets");
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{3, 1, 28, 28}));
  EXPECT_EQ(x.scalar_type(), torch::kFloat32);
  EXPECT_EQ(y.scalar_type(), torch::kInt64);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3}));
  const int64_t ids[] = {3, 0, 19};
  for (int64_t k = 0; k < 3; ++k) {
    EXPECT_EQ(y[k].item<int64_t>(), label(ids[k]));
    for (auto [r, col] : {std::pair<int64_t, int64_t>{0, 0}, {5, 17}, {27, 27}})
      EXPECT_FLOAT_EQ(x[k][0][r][col].item<float>(),
                      pixel(ids[k], r, col) / 255.0f);
  }
  EXPECT_GE(x.min().item<float>(), 0.0f);
  EXPECT_LE(x.max().item<float>(), 1.0f);

  const auto defs = p->data_definitions();
  EXPECT_EQ(defs.at("images").shape, (std::vector<int64_t>{-1, 1, 28, 28}));
  EXPECT_EQ(defs.at("targets").shape, (std::vector<int64_t>{-1}));
  EXPECT_EQ(defs.at("targets").dtype, torch::kInt64);
  EXPECT_EQ(p->prediction_definitions().at("predictions").shape,
            (std::vector<int64_t>{-1, 10}));
  const auto values = p->default_values();
  EXPECT_EQ(values.at("num_classes"), 10);
  EXPECT_EQ(values.at("num_channels"), 1);
  EXPECT_EQ(values.at("width"), 28);
  EXPECT_EQ(values.at("height"), 28);
}

TEST_F(Vision, MnistTestSplitReadsGzippedFiles) {
  write_mnist(dir_.path());
  auto test = problem("MNIST",
                      "{data_folder: " + folder() + ", use_train_data: false}");
  ASSERT_EQ(test->size(), 5);
  const auto b = test->get_batch(range(5), gen_);
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(b.at("targets")[i].item<int64_t>(), label(i));
    EXPECT_FLOAT_EQ(b.at("images")[i][0][4][9].item<float>(),
                    pixel(i, 4, 9) / 255.0f);
  }
  // Gzipped training files read the same as plain ones.
  test::TempDir gz;
  write_gz(gz.path() / "train-images-idx3-ubyte.gz", idx_images(20));
  write_gz(gz.path() / "train-labels-idx1-ubyte.gz", idx_labels(20));
  auto plain = problem("MNIST", "{data_folder: " + folder() + "}");
  auto zipped = problem("MNIST", "{data_folder: " + gz.str() + "}");
  EXPECT_TRUE(plain->get_batch(range(20), gen_)
                  .at("images")
                  .equal(zipped->get_batch(range(20), gen_).at("images")));
}

TEST_F(Vision, MnistFindsMiPrometheusLayoutAndExpandsHome) {
  write_mnist(dir_.path() / "home" / "data" / "mnist" / "MNIST" / "raw");
  const char* old_home = std::getenv("HOME");
  const std::string saved = old_home ? old_home : "";
  ::setenv("HOME", folder("home").c_str(), 1);
  std::shared_ptr<sdk::Problem> p;
  const std::string err =
      error_of([&] { p = problem("MNIST", ""); });  // ~/data/mnist
  if (old_home)
    ::setenv("HOME", saved.c_str(), 1);
  else
    ::unsetenv("HOME");
  ASSERT_EQ(err, "(no error)");
  EXPECT_EQ(p->size(), 20);
}

TEST_F(Vision, FashionMnistSharesTheReaderWithItsOwnDefaultFolder) {
  const Component& mnist = loader_.find(sdk::ComponentKind::kProblem, "MNIST");
  const Component& fashion =
      loader_.find(sdk::ComponentKind::kProblem, "FashionMNIST");
  EXPECT_EQ(mnist.library->path, fashion.library->path);
  EXPECT_HAS(mnist.defaults_yaml, "data_folder: ~/data/mnist");
  EXPECT_HAS(fashion.defaults_yaml,
             "data_folder: /usr/share/datasets/fashion-mnist");
  write_mnist(dir_.path() / "FashionMNIST" / "raw", 12, 4);
  auto p = problem("FashionMNIST", "{data_folder: " + folder() + "}");
  EXPECT_EQ(p->size(), 12);
  EXPECT_EQ(p->default_values().at("num_classes"), 10);
}

TEST_F(Vision, ResizeAndPaddingChangeShapesAndDefaultValues) {
  write_mnist(dir_.path());
  auto resized =
      problem("MNIST", "{data_folder: " + folder() + ", resize: [32, 40]}");
  auto b = resized->get_batch({0, 1}, gen_);
  EXPECT_EQ(b.at("images").sizes(), (std::vector<int64_t>{2, 1, 32, 40}));
  EXPECT_EQ(resized->default_values().at("height"), 32);
  EXPECT_EQ(resized->default_values().at("width"), 40);
  EXPECT_EQ(resized->data_definitions().at("images").shape,
            (std::vector<int64_t>{-1, 1, 32, 40}));
  EXPECT_GE(b.at("images").min().item<float>(), 0.0f);
  EXPECT_LE(b.at("images").max().item<float>(), 1.0f);
  // Bilinear: the mean brightness stays about the same; values stay k/255.
  const auto original = problem("MNIST", "{data_folder: " + folder() + "}")
                            ->get_batch({0, 1}, gen_);
  EXPECT_NEAR(b.at("images").mean().item<double>(),
              original.at("images").mean().item<double>(), 0.02);
  const auto scaled = b.at("images") * 255;
  EXPECT_TRUE(scaled.round().sub(scaled).abs().max().item<float>() < 1e-3);

  // [left, right, top, bottom] zeros around the image.
  auto padded = problem(
      "MNIST", "{data_folder: " + folder() + ", padding: [1, 2, 3, 4]}");
  const auto x = padded->get_batch({7}, gen_).at("images");
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{1, 1, 28 + 3 + 4, 28 + 1 + 2}));
  EXPECT_EQ(padded->default_values().at("height"), 35);
  EXPECT_EQ(padded->default_values().at("width"), 31);
  using torch::indexing::Slice;
  const auto unpadded = problem("MNIST", "{data_folder: " + folder() + "}")
                            ->get_batch({7}, gen_)
                            .at("images");
  EXPECT_TRUE(
      x.index({Slice(), Slice(), Slice(3, 31), Slice(1, 29)}).equal(unpadded));
  EXPECT_EQ(x.index({Slice(), Slice(), Slice(0, 3), Slice()})
                .abs()
                .sum()
                .item<float>(),
            0.0f);
  EXPECT_EQ(
      x.index({Slice(), Slice(), Slice(31, torch::indexing::None), Slice()})
          .abs()
          .sum()
          .item<float>(),
      0.0f);
  EXPECT_EQ(x.index({Slice(), Slice(), Slice(), Slice(0, 1)})
                .abs()
                .sum()
                .item<float>(),
            0.0f);
  EXPECT_EQ(
      x.index({Slice(), Slice(), Slice(), Slice(29, torch::indexing::None)})
          .abs()
          .sum()
          .item<float>(),
      0.0f);

  // Both: the resize first, then the padding (as MI-Prometheus).
  auto both =
      problem("MNIST", "{data_folder: " + folder() +
                           ", resize: [32, 32], padding: [2, 2, 2, 2]}");
  EXPECT_EQ(both->get_batch({0}, gen_).at("images").sizes(),
            (std::vector<int64_t>{1, 1, 36, 36}));
}

TEST_F(Vision, ResizeOfAConstantImageKeepsItsValue) {
  std::string images;
  put32(images, 0x00000803);
  put32(images, 2);
  put32(images, 28);
  put32(images, 28);
  images.append(2 * 28 * 28, char(200));
  write_file(dir_.path() / "train-images-idx3-ubyte", images);
  write_file(dir_.path() / "train-labels-idx1-ubyte", idx_labels(2));
  for (const char* size : {"[32, 32]", "[14, 14]", "[100, 7]"}) {
    auto p = problem("MNIST",
                     "{data_folder: " + folder() + ", resize: " + size + "}");
    const auto x = p->get_batch({0, 1}, gen_).at("images");
    EXPECT_TRUE(x.eq(200.0f / 255.0f).all().item<bool>()) << size;
  }
}

TEST_F(Vision, LossAndAccuracyOnPerfectAndUniformLogits) {
  write_mnist(dir_.path());
  auto p = problem("MNIST", "{data_folder: " + folder() + "}");
  const auto b = p->get_batch(range(8), gen_);
  sdk::DataDict perfect;
  perfect["predictions"] =
      torch::one_hot(b.at("targets"), 10).to(torch::kFloat32) * 30;
  EXPECT_LT(p->evaluate_loss(b, perfect).item<double>(), 1e-6);
  sdk::DataDict uniform;
  uniform["predictions"] = torch::zeros({8, 10}, torch::requires_grad());
  const auto loss = p->evaluate_loss(b, uniform);
  EXPECT_NEAR(loss.item<double>(), std::log(10.0), 1e-6);
  EXPECT_TRUE(loss.requires_grad());
  // Wrong on 3 of 8: the logit of (target + 1) % 10 wins.
  sdk::DataDict partly = perfect;
  partly["predictions"] = perfect.at("predictions").clone();
  for (int64_t i : {0, 4, 7})
    partly["predictions"][i][(b.at("targets")[i].item<int64_t>() + 1) % 10] =
        100.0f;

  StatisticsCollector col;
  StatisticsAggregator agg;
  p->add_statistics(col);
  p->add_aggregators(agg);
  EXPECT_EQ(col.csv_header(), "acc,batch_size");
  EXPECT_EQ(agg.csv_header(), "acc,acc_min,acc_max,acc_std,samples_aggregated");
  EXPECT_EQ(col.format("acc"), "{:12.10f}");
  EXPECT_EQ(col.format("batch_size"), "{:06d}");
  EXPECT_EQ(agg.format("samples_aggregated"), "{:06d}");
  p->collect_statistics(col, b, perfect);
  EXPECT_DOUBLE_EQ(col.values("acc").back(), 1.0);
  EXPECT_DOUBLE_EQ(col.values("batch_size").back(), 8.0);
  p->collect_statistics(col, b, partly);
  EXPECT_DOUBLE_EQ(col.values("acc").back(), 5.0 / 8.0);
  p->aggregate_statistics(col, agg);
  EXPECT_DOUBLE_EQ(agg.get("acc"), (1.0 + 5.0 / 8.0) / 2);
  EXPECT_DOUBLE_EQ(agg.get("acc_min"), 5.0 / 8.0);
  EXPECT_DOUBLE_EQ(agg.get("acc_max"), 1.0);
  EXPECT_NEAR(agg.get("acc_std"), (3.0 / 8.0) / std::sqrt(2.0), 1e-12);
  EXPECT_DOUBLE_EQ(agg.get("samples_aggregated"), 16.0);
}

TEST_F(Vision, BatchIndexOutOfRangeIsNamed) {
  write_mnist(dir_.path());
  auto p = problem("MNIST", "{data_folder: " + folder() + "}");
  const std::string err = error_of([&] { p->get_batch({0, 20}, gen_); });
  EXPECT_HAS(err, "sample index 20 out of range [0, 20)");
}

// --- MNIST errors
// -------------------------------------------------------------------

TEST_F(Vision, MissingFolderSaysWhatWasLookedForAndHowToGetIt) {
  const std::string missing = folder("nowhere");
  std::string err =
      error_of([&] { problem("MNIST", "{data_folder: " + missing + "}"); });
  EXPECT_HAS(err, "problem [MNIST] of plugin [");
  EXPECT_HAS(err, "[training.problem.data_folder]: folder [" + missing +
                      "] does not exist");
  EXPECT_HAS(
      err,
      "train-images-idx3-ubyte and train-labels-idx1-ubyte (plain or .gz)");
  EXPECT_HAS(err, "[" + missing + "/MNIST/raw]");
  EXPECT_HAS(err, "yann.lecun.com");
  err = error_of([&] {
    problem("FashionMNIST",
            "{data_folder: " + missing + ", use_train_data: false}");
  });
  EXPECT_HAS(err, "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte");
  EXPECT_HAS(err, "apt-get install dataset-fashion-mnist");
}

TEST_F(Vision, MissingFileIsNamed) {
  fs::create_directories(dir_.path() / "empty");
  std::string err = error_of(
      [&] { problem("MNIST", "{data_folder: " + folder("empty") + "}"); });
  EXPECT_HAS(err, "[" + folder("empty") +
                      "/train-images-idx3-ubyte] not found (nor .gz)");
  write_file(dir_.path() / "half" / "train-images-idx3-ubyte", idx_images(3));
  err = error_of(
      [&] { problem("MNIST", "{data_folder: " + folder("half") + "}"); });
  EXPECT_HAS(err,
             "[" + folder("half") +
                 "/train-labels-idx1-ubyte] not found (nor .gz), though [" +
                 folder("half") + "/train-images-idx3-ubyte] is there");
}

TEST_F(Vision, BadMagicNamesTheFileAndBothNumbers) {
  write_file(dir_.path() / "train-images-idx3-ubyte", idx_labels(20));
  write_file(dir_.path() / "train-labels-idx1-ubyte", idx_labels(20));
  const std::string err =
      error_of([&] { problem("MNIST", "{data_folder: " + folder() + "}"); });
  EXPECT_HAS(err, "[" + folder() +
                      "/train-images-idx3-ubyte]: magic 0x00000803 expected");
  EXPECT_HAS(err, "got 0x00000801");
  EXPECT_HAS(err, "are the files swapped?");
  write_file(dir_.path() / "train-images-idx3-ubyte",
             "PK\x03\x04 a zip file, not IDX");
  EXPECT_HAS(
      error_of([&] { problem("MNIST", "{data_folder: " + folder() + "}"); }),
      "magic 0x00000803 expected (IDX images: unsigned bytes, 3 dimensions), "
      "got 0x504b0304");
}

TEST_F(Vision, TruncatedFilesSayWhereTheyEnd) {
  std::string images = idx_images(20);
  const size_t full = images.size();  // 16 + 20 * 784
  images.resize(full - 100);
  write_file(dir_.path() / "train-images-idx3-ubyte", images);
  write_file(dir_.path() / "train-labels-idx1-ubyte", idx_labels(20));
  std::string err =
      error_of([&] { problem("MNIST", "{data_folder: " + folder() + "}"); });
  EXPECT_HAS(err, "[" + folder() +
                      "/train-images-idx3-ubyte]: file ends after " +
                      std::to_string(full - 100) + " bytes, header says " +
                      std::to_string(full));
  // Cut inside the header.
  write_file(dir_.path() / "train-images-idx3-ubyte", images.substr(0, 10));
  err = error_of([&] { problem("MNIST", "{data_folder: " + folder() + "}"); });
  EXPECT_HAS(err, "file ends after 10 bytes, inside its 16-byte header");
  // A gzip stream cut short.
  test::TempDir gz;
  write_gz(gz.path() / "train-images-idx3-ubyte.gz", idx_images(20));
  write_gz(gz.path() / "train-labels-idx1-ubyte.gz", idx_labels(20));
  const std::string zipped =
      test::read(gz.path() / "train-images-idx3-ubyte.gz");
  write_file(gz.path() / "train-images-idx3-ubyte.gz",
             zipped.substr(0, zipped.size() / 2));
  err = error_of([&] { problem("MNIST", "{data_folder: " + gz.str() + "}"); });
  EXPECT_HAS(err, "[" + gz.str() +
                      "/train-images-idx3-ubyte.gz]: gzip stream ends early");
  // Bytes beyond what the header says.
  write_file(dir_.path() / "train-images-idx3-ubyte", idx_images(20) + "xyz");
  err = error_of([&] { problem("MNIST", "{data_folder: " + folder() + "}"); });
  EXPECT_HAS(err, "file holds " + std::to_string(full + 3) +
                      " bytes, header says " + std::to_string(full));
}

TEST_F(Vision, CountMismatchNamesBothFiles) {
  write_file(dir_.path() / "train-images-idx3-ubyte", idx_images(100, 4, 4));
  write_file(dir_.path() / "train-labels-idx1-ubyte", idx_labels(99));
  const std::string err =
      error_of([&] { problem("MNIST", "{data_folder: " + folder() + "}"); });
  EXPECT_HAS(err,
             "[" + folder() +
                 "/train-images-idx3-ubyte] holds 100 images, label file [" +
                 folder() + "/train-labels-idx1-ubyte] 99 labels");
}

TEST_F(Vision, LabelOutsideTheClassesIsNamed) {
  std::string labels = idx_labels(20);
  labels[8 + 13] = char(12);
  write_file(dir_.path() / "train-images-idx3-ubyte", idx_images(20));
  write_file(dir_.path() / "train-labels-idx1-ubyte", labels);
  const std::string err =
      error_of([&] { problem("MNIST", "{data_folder: " + folder() + "}"); });
  EXPECT_HAS(err,
             "train-labels-idx1-ubyte]: label 12 of sample 13 is not a class "
             "index in [0, 10)");
}

TEST_F(Vision, BadResizeOrPaddingIsAParameterError) {
  write_mnist(dir_.path());
  std::string err = error_of([&] {
    problem("MNIST", "{data_folder: " + folder() + ", resize: [32]}");
  });
  EXPECT_HAS(err,
             "[training.problem.resize] must be [height, width] with both > 0, "
             "got [32]");
  err = error_of([&] {
    problem("MNIST", "{data_folder: " + folder() + ", padding: [1, 1, -1, 1]}");
  });
  EXPECT_HAS(err,
             "[training.problem.padding] must be [left, right, top, bottom] "
             "with each >= 0");
}

// --- CIFAR10
// ------------------------------------------------------------------------

TEST_F(Vision, Cifar10ReadsBinaryBatchesFromTheFolderOrItsParent) {
  const fs::path bin = write_cifar(dir_.path());
  auto train = problem("CIFAR10", "{data_folder: " + folder() + "}");
  ASSERT_EQ(train->size(), 15);
  const auto b = train->get_batch({0, 4, 14}, gen_);
  ASSERT_EQ(b.at("images").sizes(), (std::vector<int64_t>{3, 3, 32, 32}));
  const int64_t ids[] = {0, 4, 14};
  for (int64_t k = 0; k < 3; ++k) {
    EXPECT_EQ(b.at("targets")[k].item<int64_t>(), label(ids[k]));
    for (int64_t ch = 0; ch < 3; ++ch)
      EXPECT_FLOAT_EQ(b.at("images")[k][ch][6][21].item<float>(),
                      cifar_pixel(ids[k], ch, 6, 21) / 255.0f);
  }
  const auto values = train->default_values();
  EXPECT_EQ(values.at("num_channels"), 3);
  EXPECT_EQ(values.at("width"), 32);
  EXPECT_EQ(values.at("height"), 32);
  EXPECT_EQ(values.at("num_classes"), 10);
  EXPECT_EQ(train->data_definitions().at("images").shape,
            (std::vector<int64_t>{-1, 3, 32, 32}));

  auto test = problem(
      "CIFAR10", "{data_folder: " + bin.string() + ", use_train_data: false}");
  ASSERT_EQ(test->size(), 4);
  const auto t = test->get_batch({2}, gen_);
  EXPECT_EQ(t.at("targets")[0].item<int64_t>(), label(102));
  EXPECT_FLOAT_EQ(t.at("images")[0][2][31][0].item<float>(),
                  cifar_pixel(102, 2, 31, 0) / 255.0f);

  auto padded =
      problem("CIFAR10", "{data_folder: " + folder() +
                             ", resize: [24, 24], padding: [4, 4, 4, 4]}");
  EXPECT_EQ(padded->get_batch({0}, gen_).at("images").sizes(),
            (std::vector<int64_t>{1, 3, 32, 32}));

  // Loss and accuracy: the same as MNIST's.
  sdk::DataDict perfect;
  perfect["predictions"] =
      torch::one_hot(b.at("targets"), 10).to(torch::kFloat32) * 30;
  EXPECT_LT(train->evaluate_loss(b, perfect).item<double>(), 1e-6);
  StatisticsCollector col;
  train->add_statistics(col);
  train->collect_statistics(col, b, perfect);
  EXPECT_DOUBLE_EQ(col.values("acc").back(), 1.0);
}

TEST_F(Vision, Cifar10Errors) {
  std::string err = error_of(
      [&] { problem("CIFAR10", "{data_folder: " + folder("none") + "}"); });
  EXPECT_HAS(err, "[training.problem.data_folder]: folder [" + folder("none") +
                      "] does not exist");
  EXPECT_HAS(err, "data_batch_1.bin .. data_batch_5.bin in [" + folder("none") +
                      "] and [" + folder("none") + "/cifar-10-batches-bin]");
  EXPECT_HAS(err, "cifar-10-binary.tar.gz");
  err = error_of([&] {
    problem("CIFAR10",
            "{data_folder: " + folder() + ", use_train_data: false}");
  });
  EXPECT_HAS(err, "[" + folder() + "/test_batch.bin] not found");

  const fs::path bin = write_cifar(dir_.path());
  fs::remove(bin / "data_batch_3.bin");
  err =
      error_of([&] { problem("CIFAR10", "{data_folder: " + folder() + "}"); });
  EXPECT_HAS(err, "[" + (bin / "data_batch_3.bin").string() + "] not found");

  write_cifar(dir_.path());
  write_file(bin / "data_batch_2.bin",
             cifar_records(0, 3).substr(0, 3 * 3073 - 5));
  err =
      error_of([&] { problem("CIFAR10", "{data_folder: " + folder() + "}"); });
  EXPECT_HAS(err, "[" + (bin / "data_batch_2.bin").string() +
                      "]: file holds 9214 bytes, expected "
                      "a whole number of 3073-byte records");

  write_cifar(dir_.path());
  std::string records = cifar_records(0, 3);
  records[3073] = char(10);
  write_file(bin / "data_batch_4.bin", records);
  err =
      error_of([&] { problem("CIFAR10", "{data_folder: " + folder() + "}"); });
  EXPECT_HAS(err,
             "data_batch_4.bin]: label 10 of record 1 is not a class index in "
             "[0, 10)");
}

// --- models
// -------------------------------------------------------------------------

void expect_fits(const std::string& problem_name,
                 const sdk::Problem& p,
                 const std::string& model_name,
                 const sdk::Model& m) {
  EXPECT_NO_THROW(check_handshake(
      problem_name, p.data_definitions(), p.prediction_definitions(),
      model_name, m.input_definitions(), m.output_definitions()));
}

TEST_F(Vision, LeNet5FitsMnistResizedTo32) {
  write_mnist(dir_.path());
  auto p =
      problem("MNIST", "{data_folder: " + folder() + ", resize: [32, 32]}");
  auto m = model("LeNet5", *p);
  expect_fits("MNIST", *p, "LeNet5", *m);
  const auto b = p->get_batch(range(6), gen_);
  const auto y = m->forward(b).at("predictions");
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{6, 10}));
  EXPECT_TRUE(p->evaluate_loss(b, m->forward(b)).requires_grad());
  int64_t n = 0;
  for (const auto& t : m->parameters())
    n += t.numel();
  EXPECT_EQ(n, (6 * 25 + 6) + (16 * 6 * 25 + 16) + (120 * 16 * 25 + 120) +
                   (120 * 84 + 84) + (84 * 10 + 10));

  // 28x28 images do not fit: the handshake says so before any forward.
  auto raw = problem("MNIST", "{data_folder: " + folder() + "}");
  const std::string err = error_of([&] {
    check_handshake("MNIST", raw->data_definitions(),
                    raw->prediction_definitions(), "LeNet5",
                    m->input_definitions(), m->output_definitions());
  });
  EXPECT_HAS(err, "images");
  EXPECT_HAS(err, "[-1, 1, 32, 32]");
  EXPECT_HAS(err, "[-1, 1, 28, 28]");
  // Padding 2 on each side fits too (the classical LeNet-5 input).
  auto padded = problem(
      "MNIST", "{data_folder: " + folder() + ", padding: [2, 2, 2, 2]}");
  expect_fits("MNIST", *padded, "LeNet5", *model("LeNet5", *padded));
}

TEST_F(Vision, LeNet5NeedsNumClasses) {
  const Component& c = loader_.find(sdk::ComponentKind::kModel, "LeNet5");
  ParamRegistry r;
  r.add_defaults("model", c.defaults_yaml, "defaults of LeNet5");
  ComponentContext ctx(r.view("model"), logger("test"));
  EXPECT_HAS(error_of([&] { loader_.create_model(c, ctx); }),
             "[model.num_classes] is required");
}

TEST_F(Vision, SimpleConvNetSizesItselfFromTheProblem) {
  write_mnist(dir_.path() / "mnist");
  write_cifar(dir_.path() / "cifar");
  auto mnist = problem("MNIST", "{data_folder: " + folder("mnist") + "}");
  auto cifar = problem("CIFAR10", "{data_folder: " + folder("cifar") + "}");
  auto m1 = model("SimpleConvNet", *mnist);
  auto m2 = model("SimpleConvNet", *cifar);
  expect_fits("MNIST", *mnist, "SimpleConvNet", *m1);
  expect_fits("CIFAR10", *cifar, "SimpleConvNet", *m2);
  EXPECT_EQ(
      m1->forward(mnist->get_batch(range(4), gen_)).at("predictions").sizes(),
      (std::vector<int64_t>{4, 10}));
  EXPECT_EQ(
      m2->forward(cifar->get_batch(range(5), gen_)).at("predictions").sizes(),
      (std::vector<int64_t>{5, 10}));
  // 28 -conv5-> 24 -pool2-> 12 -conv5-> 8 -pool2-> 4: 16 * 4 * 4 into linear1.
  EXPECT_EQ(m1->named_parameters()["linear1.weight"].sizes(),
            (std::vector<int64_t>{120, 256}));
  // 32 -> 28 -> 14 -> 10 -> 5: 16 * 5 * 5.
  EXPECT_EQ(m2->named_parameters()["linear1.weight"].sizes(),
            (std::vector<int64_t>{120, 400}));
  EXPECT_EQ(m2->named_parameters()["conv1.weight"].sizes(),
            (std::vector<int64_t>{6, 3, 5, 5}));
  // The CIFAR model does not fit MNIST.
  EXPECT_HAS(error_of([&] {
               check_handshake("MNIST", mnist->data_definitions(),
                               mnist->prediction_definitions(), "SimpleConvNet",
                               m2->input_definitions(),
                               m2->output_definitions());
             }),
             "images");

  // Stride, padding and kernels from the config.
  auto m3 =
      model("SimpleConvNet", *mnist,
            "{conv1: {out_channels: 4, kernel_size: 3, stride: 2, padding: 1}, "
            "maxpool1: {kernel_size: 1}, maxpool2: {kernel_size: 3}}");
  // 28 -conv3/s2/p1-> 14 -pool1-> 14 -conv5-> 10 -pool3-> 3: 16 * 3 * 3.
  EXPECT_EQ(m3->named_parameters()["linear1.weight"].sizes(),
            (std::vector<int64_t>{120, 144}));
  EXPECT_EQ(
      m3->forward(mnist->get_batch(range(2), gen_)).at("predictions").sizes(),
      (std::vector<int64_t>{2, 10}));

  const std::string err = error_of(
      [&] { model("SimpleConvNet", *mnist, "{conv2: {kernel_size: 13}}"); });
  EXPECT_HAS(err,
             "[model.conv2.kernel_size] = 13 is larger than its 12x12 input");
}

// --- the real Fashion-MNIST
// ---------------------------------------------------------

TEST_F(Vision, RealFashionMnistHasSixtyAndTenThousandImages) {
  const fs::path real = "/usr/share/datasets/fashion-mnist";
  if (!fs::is_directory(real))
    GTEST_SKIP() << real
                 << " is absent (apt-get install dataset-fashion-mnist)";
  loader_.find(sdk::ComponentKind::kProblem,
               "FashionMNIST");  // scan outside the timing
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  auto train = problem("FashionMNIST", "");  // the default data_folder
  const double load_s =
      std::chrono::duration<double>(clock::now() - t0).count();
  auto test = problem("FashionMNIST", "{use_train_data: false}");
  ASSERT_EQ(train->size(), 60000);
  ASSERT_EQ(test->size(), 10000);
  // Balanced classes: 6000 and 1000 images of each.
  const auto all = train->get_batch(range(60000), gen_);
  EXPECT_TRUE(all.at("targets").bincount().eq(6000).all().item<bool>());
  EXPECT_TRUE(test->get_batch(range(10000), gen_)
                  .at("targets")
                  .bincount()
                  .eq(1000)
                  .all()
                  .item<bool>());
  EXPECT_EQ(all.at("images").sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(all.at("images").min().item<float>(), 0.0f);
  EXPECT_EQ(all.at("images").max().item<float>(), 1.0f);

  // Throughput of get_batch at batch 64 over shuffled indices.
  auto perm = torch::randperm(60000, gen_, torch::kInt64);
  std::vector<int64_t> order(perm.data_ptr<int64_t>(),
                             perm.data_ptr<int64_t>() + 60000);
  const auto t1 = clock::now();
  int64_t seen = 0;
  for (int64_t start = 0; start + 64 <= 60000; start += 64) {
    std::vector<int64_t> idx(order.begin() + start, order.begin() + start + 64);
    seen += train->get_batch(idx, gen_).at("images").size(0);
  }
  const double batch_s =
      std::chrono::duration<double>(clock::now() - t1).count();
  // With a resize to LeNet5's input, done once at load time.
  const auto t2 = clock::now();
  auto resized = problem("FashionMNIST", "{resize: [32, 32]}");
  const double resize_s =
      std::chrono::duration<double>(clock::now() - t2).count();
  EXPECT_EQ(resized->get_batch({0, 59999}, gen_).at("images").sizes(),
            (std::vector<int64_t>{2, 1, 32, 32}));
  std::printf(
      "[  measure ] FashionMNIST train: load %.3f s (%.3f s with resize [32, "
      "32]); "
      "get_batch(64) %.0f images/s\n",
      load_s, resize_s, double(seen) / batch_s);
  RecordProperty("load_seconds", std::to_string(load_s));
  RecordProperty("images_per_second", std::to_string(double(seen) / batch_s));
}

// --- lean image data: bytes shared by the process, converted per batch
// ------

/// A log that keeps every line (the problems say there whether they share
/// their decoded bytes).
class RecordingLogger final : public sdk::Logger {
 public:
  void log(sdk::LogLevel /*level*/, const std::string& m) override {
    lines.push_back(m);
  }
  std::string all() const {
    std::string s;
    for (const auto& l : lines)
      s += l + "\n";
    return s;
  }
  std::vector<std::string> lines;
};

class LeanImages : public Vision {
 protected:
  /// Problem `name` as Components::problem() builds it, logging to `log`.
  std::shared_ptr<sdk::Problem> logged(const std::string& name,
                                       const std::string& yaml,
                                       RecordingLogger& log) {
    const Component& c = loader_.find(sdk::ComponentKind::kProblem, name);
    ParamRegistry& r = registry("training.problem", c, yaml);
    ComponentContext ctx(r.view("training.problem"), log);
    return loader_.create_problem(c, ctx);
  }
};

/// The test set's images as bytes [n, 1, rows, cols], from pixel().
torch::Tensor test_images(int64_t n, int64_t rows = 28, int64_t cols = 28) {
  auto t = torch::empty({n, 1, rows, cols}, torch::kUInt8);
  auto a = t.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        a[i][0][r][c] = pixel(i, r, c);
  return t;
}

/// What the problems did before batches were converted one by one: the
/// whole set resized up front and kept as bytes, padded, then each batch
/// scaled to [0, 1].
torch::Tensor converted_up_front(const torch::Tensor& bytes,
                                 std::vector<int64_t> resize,
                                 std::vector<int64_t> padding) {
  auto images = bytes;
  if (!resize.empty())
    images = at::_upsample_bilinear2d_aa(bytes.to(torch::kFloat), resize, false,
                                         c10::nullopt, c10::nullopt)
                 .round_()
                 .clamp_(0, 255)
                 .to(torch::kUInt8);
  if (!padding.empty())
    images = torch::constant_pad_nd(images, padding, 0);
  return images.to(torch::kFloat).div_(255.0);
}

TEST_F(LeanImages, BatchesHoldTheNumbersOfTheSetConvertedUpFront) {
  write_mnist(dir_.path());
  const auto bytes = test_images(20);
  const std::vector<int64_t> ids = {3, 0, 19, 7, 7};
  const auto idx = torch::tensor(ids, torch::kLong);
  struct Case {
    std::string yaml;
    std::vector<int64_t> resize, padding;
  };
  for (const Case& c : std::vector<Case>{
           {"resize: [32, 32]", {32, 32}, {}},
           {"resize: [32, 40], padding: [1, 2, 3, 4]", {32, 40}, {1, 2, 3, 4}},
           {"resize: [14, 14], padding: [2, 2, 2, 2]", {14, 14}, {2, 2, 2, 2}},
           {"resize: [100, 7]", {100, 7}, {}},
           {"padding: [2, 2, 2, 2]", {}, {2, 2, 2, 2}}}) {
    auto p =
        problem("MNIST", "{data_folder: " + folder() + ", " + c.yaml + "}");
    const auto got = p->get_batch(ids, gen_).at("images");
    const auto want =
        converted_up_front(bytes, c.resize, c.padding).index_select(0, idx);
    ASSERT_EQ(got.sizes(), want.sizes()) << c.yaml;
    EXPECT_TRUE(got.equal(want)) << c.yaml << ": largest difference "
                                 << (got - want).abs().max().item<float>();
  }
}

TEST_F(LeanImages, RealFashionMnistAtThirtyTwoMatchesTheSetResizedUpFront) {
  const fs::path real = "/usr/share/datasets/fashion-mnist";
  if (!fs::is_directory(real))
    GTEST_SKIP() << real
                 << " is absent (apt-get install dataset-fashion-mnist)";
  // The IDX bytes, read here with zlib alone.
  gzFile f =
      gzopen((real / "train-images-idx3-ubyte.gz").string().c_str(), "rb");
  ASSERT_NE(f, nullptr);
  const int64_t n = 3000;  // the first images: enough, and quick
  std::string head(16, '\0'), data(size_t(n * 784), '\0');
  ASSERT_EQ(gzread(f, head.data(), 16), 16);
  ASSERT_EQ(gzread(f, data.data(), unsigned(data.size())), int(data.size()));
  gzclose(f);
  const auto bytes =
      torch::from_blob(data.data(), {n, 1, 28, 28}, torch::kUInt8).clone();
  auto p = problem("FashionMNIST", "{resize: [32, 32]}");
  auto perm = torch::randperm(n, gen_, torch::kLong);
  std::vector<int64_t> ids(perm.data_ptr<int64_t>(),
                           perm.data_ptr<int64_t>() + 256);
  const auto got = p->get_batch(ids, gen_).at("images");
  const auto want = converted_up_front(bytes, {32, 32}, {})
                        .index_select(0, perm.narrow(0, 0, 256));
  EXPECT_TRUE(got.equal(want))
      << "largest difference " << (got - want).abs().max().item<float>();
}

TEST_F(LeanImages, ProblemsOverOneFileShareOneCopyFreedWithTheLast) {
  write_mnist(dir_.path());
  const std::string at = "{data_folder: " + folder();
  RecordingLogger a_log, b_log, c_log, d_log, e_log, f_log, g_log;
  auto a = logged("MNIST", at + "}", a_log);
  EXPECT_HAS(a_log.all(), "MNIST: 20 training images 28x28 from [");
  EXPECT_EQ(a_log.all().find("shared"), std::string::npos) << a_log.all();
  // Another section over the same files, resized: the same bytes.
  auto b = logged("MNIST", at + ", resize: [32, 32]}", b_log);
  EXPECT_HAS(b_log.all(), "; bytes shared by 2 problems of this process");
  // Other problems of the plugin over the same files share them too.
  auto c =
      logged("SequentialPixelMNIST", "{root_dir: " + folder() + "}", c_log);
  EXPECT_HAS(c_log.all(), "; bytes shared by 3 problems of this process");
  auto fashion = logged("FashionMNIST", at + "}", d_log);
  EXPECT_HAS(d_log.all(), "; bytes shared by 4 problems of this process");
  // Other files (the test split) are another set.
  auto test = logged("MNIST", at + ", use_train_data: false}", e_log);
  EXPECT_EQ(e_log.all().find("shared"), std::string::npos) << e_log.all();

  // The last holder gone, the bytes are freed: decoded again, not shared.
  a.reset();
  b.reset();
  c.reset();
  fashion.reset();
  auto again = logged("MNIST", at + "}", f_log);
  EXPECT_EQ(f_log.all().find("shared"), std::string::npos) << f_log.all();
  const auto before = again->get_batch({0, 19}, gen_).at("images");

  // A file rewritten in place is another set: the new content is read, and
  // the problem made before keeps the bytes it had.
  write_file(dir_.path() / "train-images-idx3-ubyte", idx_images(21));
  write_file(dir_.path() / "train-labels-idx1-ubyte", idx_labels(21));
  auto rewritten = logged("MNIST", at + "}", g_log);
  EXPECT_EQ(rewritten->size(), 21);
  EXPECT_EQ(g_log.all().find("shared"), std::string::npos) << g_log.all();
  EXPECT_EQ(again->size(), 20);
  EXPECT_TRUE(again->get_batch({0, 19}, gen_).at("images").equal(before));
}

TEST_F(LeanImages, Cifar10SectionsShareTheirBytes) {
  write_cifar(dir_.path());
  RecordingLogger a_log, b_log;
  auto a = logged("CIFAR10", "{data_folder: " + folder() + "}", a_log);
  auto b = logged(
      "CIFAR10",
      "{data_folder: " + folder() + "/cifar-10-batches-bin, resize: [16, 16]}",
      b_log);
  EXPECT_EQ(a_log.all().find("shared"), std::string::npos) << a_log.all();
  EXPECT_HAS(b_log.all(), "; bytes shared by 2 problems of this process");
  EXPECT_EQ(b->get_batch({14}, gen_).at("images").sizes(),
            (std::vector<int64_t>{1, 3, 16, 16}));
  EXPECT_FLOAT_EQ(
      a->get_batch({14}, gen_).at("images")[0][1][3][4].item<float>(),
      cifar_pixel(14, 1, 3, 4) / 255.0f);
}

// --- sequential MNIST
// ---------------------------------------------------------------

TEST_F(LeanImages, SequentialPixelMnistGivesOnePixelPerStep) {
  // 6 images of 4 x 5 pixels: 20 steps.
  write_file(dir_.path() / "train-images-idx3-ubyte", idx_images(6, 4, 5));
  write_file(dir_.path() / "train-labels-idx1-ubyte", idx_labels(6));
  auto p = problem("SequentialPixelMNIST", "{root_dir: " + folder() + "}");
  ASSERT_EQ(p->size(), 6);
  const auto defs = p->data_definitions();
  EXPECT_EQ(defs.at("images").shape, (std::vector<int64_t>{-1, 20, 1, 1, 1}));
  EXPECT_EQ(defs.at("sequences").shape, (std::vector<int64_t>{-1, 20, 1}));
  EXPECT_EQ(defs.at("mask").shape, (std::vector<int64_t>{-1, 20, 1}));
  EXPECT_EQ(defs.at("targets").shape, (std::vector<int64_t>{-1, 20, 1}));
  const auto values = p->default_values();
  EXPECT_EQ(values.at("nb_classes"), 10);
  EXPECT_EQ(values.at("length"), 20);
  EXPECT_EQ(values.at("input_item_size"), 1);
  EXPECT_EQ(values.at("output_item_size"), 10);

  const std::vector<int64_t> ids = {5, 2, 0};
  const auto b = p->get_batch(ids, gen_);
  EXPECT_NO_THROW(check_batch("SequentialPixelMNIST", defs, b));
  for (size_t k = 0; k < ids.size(); ++k)
    for (int64_t t = 0; t < 20; ++t) {
      const float want = pixel(ids[k], t / 5, t % 5) / 255.0f;
      EXPECT_FLOAT_EQ(b.at("sequences")[k][t][0].item<float>(), want);
      EXPECT_FLOAT_EQ(b.at("images")[k][t][0][0][0].item<float>(), want);
      EXPECT_EQ(b.at("targets")[k][t][0].item<int64_t>(), label(ids[k]));
      EXPECT_EQ(b.at("mask")[k][t][0].item<bool>(), t == 19);
    }

  // Only the last step counts: right there, wrong everywhere else.
  auto logits = torch::zeros({3, 20, 10});
  for (size_t k = 0; k < ids.size(); ++k) {
    logits[k].select(1, (label(ids[k]) + 1) % 10).fill_(50.0f);
    logits[k][19].zero_();
    logits[k][19][label(ids[k])] = 50.0f;
  }
  sdk::DataDict right;
  right["predictions"] = logits;
  EXPECT_LT(p->evaluate_loss(b, right).item<double>(), 1e-6);
  StatisticsCollector col;
  p->add_statistics(col);
  p->collect_statistics(col, b, right);
  EXPECT_DOUBLE_EQ(col.values("acc").back(), 1.0);
  EXPECT_DOUBLE_EQ(col.values("batch_size").back(), 3.0);
  sdk::DataDict uniform;
  uniform["predictions"] = torch::zeros({3, 20, 10});
  EXPECT_NEAR(p->evaluate_loss(b, uniform).item<double>(), std::log(10.0),
              1e-6);
}

/// The row of image `i` (of the 28x28 test images) that `row` [28] holds.
int64_t which_row(int64_t i, const torch::Tensor& row) {
  for (int64_t r = 0; r < 28; ++r) {
    bool same = true;
    for (int64_t c = 0; c < 28 && same; ++c)
      same = row[c].item<float>() == pixel(i, r, c) / 255.0f;
    if (same)
      return r;
  }
  return -1;
}

TEST_F(LeanImages, PermutedSequentialRowMnistPermutesTheRowsBySeed) {
  write_mnist(dir_.path(), 8, 4);
  const std::string at = "{root_dir: " + folder();
  auto p = problem("PermutedSequentialRowMnist", at + "}");
  const auto defs = p->data_definitions();
  EXPECT_EQ(defs.at("images").shape, (std::vector<int64_t>{-1, 28, 1, 1, 28}));
  EXPECT_EQ(defs.at("sequences").shape, (std::vector<int64_t>{-1, 28, 28}));
  EXPECT_EQ(p->default_values().at("input_item_size"), 28);
  EXPECT_EQ(p->default_values().at("height"), 28);
  const auto b = p->get_batch({6, 1}, gen_);
  EXPECT_NO_THROW(check_batch("PermutedSequentialRowMnist", defs, b));
  // Each step is a whole row of the image; together, every row once.
  std::vector<int64_t> order;
  for (int64_t t = 0; t < 28; ++t)
    order.push_back(which_row(6, b.at("sequences")[0][t]));
  auto sorted = order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, range(28));
  EXPECT_NE(order, range(28));
  for (int64_t t = 0; t < 28; ++t)  // the same order for every sample
    EXPECT_EQ(which_row(1, b.at("sequences")[1][t]), order[size_t(t)]);
  EXPECT_TRUE(b.at("images").view({2, 28, 28}).equal(b.at("sequences")));
  EXPECT_EQ(b.at("mask").sum().item<int64_t>(), 2);
  EXPECT_TRUE(b.at("mask")[0][27][0].item<bool>());

  // The same seed: the same order, in another instance and in the test split
  // (each section of an experiment sees the rows alike); another seed,
  // another order.
  EXPECT_TRUE(problem("PermutedSequentialRowMnist", at + "}")
                  ->get_batch({6, 1}, gen_)
                  .at("sequences")
                  .equal(b.at("sequences")));
  const auto test =
      problem("PermutedSequentialRowMnist", at + ", use_train_data: false}")
          ->get_batch({2}, gen_)
          .at("sequences");
  for (int64_t t = 0; t < 28; ++t)
    EXPECT_EQ(which_row(2, test[0][t]), order[size_t(t)]);
  const auto other =
      problem("PermutedSequentialRowMnist", at + ", permutation_seed: 7}")
          ->get_batch({6}, gen_)
          .at("sequences");
  std::vector<int64_t> other_order;
  for (int64_t t = 0; t < 28; ++t)
    other_order.push_back(which_row(6, other[0][t]));
  EXPECT_NE(other_order, order);
  EXPECT_HAS(error_of([&] {
               problem("SequentialPixelMNIST",
                       "{root_dir: " + folder("none") + "}");
             }),
             "[training.problem.root_dir]: folder [" + folder("none") +
                 "] does not exist");
}

// --- ThalNet on sequential MNIST, through the online trainer
// ------------------------------------------------------------

TEST_F(LeanImages, ThalNetTrainsOnSequentialPixelMnistFromItsConfig) {
  // 6x6 images: 36 steps, so that a few episodes take a second.
  for (const char* split : {"train", "t10k"}) {
    write_file(
        dir_.path() / "mnist" / (std::string(split) + "-images-idx3-ubyte"),
        idx_images(48, 6, 6));
    write_file(
        dir_.path() / "mnist" / (std::string(split) + "-labels-idx1-ubyte"),
        idx_labels(48));
  }
  const std::string trainer =
      fs::path(MIP_ONLINE_TRAINER).parent_path().string() +
      "/mip-online-trainer";
  std::string sets =
      " --set training.terminal_conditions.episode_limit=6"
      " --set validation.partial_validation_interval=3";
  for (const char* s : {"training", "validation", "testing"})
    sets += std::string(" --set ") + s + ".problem.batch_size=8 --set " + s +
            ".problem.root_dir=" + folder("mnist");
  const std::string base = "cd " + std::string(MIP_SOURCE_DIR) + " && " +
                           trainer + " --expdir " + folder("exp") + sets;
  const std::string ours =
      " --config configs/thalnet/seq_pixel_mnist.yaml"
      " --set 'training.sampler.indices=[0, 40]'"
      " --set 'validation.sampler.indices=[40, 48]'";
  test::RunResult r = test::run(base + ours);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto exp = test::only_experiment(dir_.path() / "exp");
  EXPECT_EQ(test::lines(exp / "training_statistics.csv"), 7u);  // header + 6
  // The training and validation sections read one copy of the bytes.
  EXPECT_HAS(r.output,
             "SequentialPixelMNIST: 48 training images 6x6 from [" +
                 folder("mnist") +
                 "] as 36 steps of 1 pixel; bytes shared by 2 problems");

  // A model that does not fit is named before training: a row per step
  // (28 pixels) against one pixel a step.
  r = test::run(base + ours + " --set model.input_size=28");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output,
             "model ThalNetModel does not fit the problem "
             "SequentialPixelMNIST");
  EXPECT_HAS(r.output,
             "needs [sequences] [-1, -1, 28] Float, problem "
             "SequentialPixelMNIST (training) provides [sequences] "
             "[-1, 36, 1] Float");

  // MI-Prometheus's own file, key for key: its `index` key was read by
  // nothing, so it runs with --lenient (the samplers set above stand in).
  const std::string mip_file = dir_.write(
      "seq_pixel_mnist.yaml",
      "training:\n    problem:\n        name: &name SequentialPixelMNIST\n"
      "        batch_size: &bs 64\n        index: [0, 54999]\n"
      "        use_train_data: True\n        root_dir: '~/data/mnist'\n"
      "    optimizer:\n        name: Adam\n        lr: 0.01\n"
      "    terminal_conditions:\n        loss_stop: 1.0e-5\n"
      "        episode_limit: 50000\n"
      "testing:\n    problem:\n        name: *name\n        batch_size: *bs\n"
      "        use_train_data: False\n        root_dir: '~/data/mnist'\n"
      "validation:\n    problem:\n        name: *name\n        batch_size: "
      "*bs\n"
      "        index: [55000, 59999]\n        use_train_data: True\n"
      "        root_dir: '~/data/mnist'\n"
      "model:\n    name: ThalNetModel\n    context_input_size: 32\n"
      "    input_size: 1  # row_size\n    output_size: 10 # number of classes\n"
      "    center_size_per_module: 32\n    num_modules: 4\n");
  r = test::run(base + " --config " + mip_file);
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output, "unknown key [training.problem.index]");
  r = test::run(base + " --config " + mip_file + " --lenient");
  EXPECT_EQ(r.code, 0) << r.output;
}

}  // namespace vision_test
}  // namespace mip
