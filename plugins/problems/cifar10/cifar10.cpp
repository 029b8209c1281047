// CIFAR10: MI-Prometheus's CIFAR-10 image classification problem, read from
// the binary batches of cifar-10-binary.tar.gz.
#include <ATen/ATen.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <mip/sdk/sdk.hpp>

#include "../../common/image_to_class.hpp"

namespace {

namespace fs = std::filesystem;

constexpr int64_t kPixels = 3 * 32 * 32;  // red, green, blue planes, row-major
constexpr int64_t kRecord = 1 + kPixels;  // label byte, then the pixels
constexpr const char* kSubfolder = "cifar-10-batches-bin";
constexpr const char* kHowToGet =
    "Download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and "
    "extract it into data_folder (it creates cifar-10-batches-bin/), or set "
    "data_folder to the folder holding the .bin files (MI-Prometheus's "
    "cifar-10-batches-py pickles are not read)";

/// The number of records in one binary batch (checked: a whole number).
int64_t record_count(const fs::path& path) {
  std::error_code ec;
  const auto bytes = static_cast<int64_t>(fs::file_size(path, ec));
  MIP_CHECK(!ec, mip::DataError, "[", path.string(),
            "]: cannot stat: ", ec.message());
  MIP_CHECK(bytes > 0 && bytes % kRecord == 0, mip::DataError, "[",
            path.string(), "]: file holds ", bytes,
            " bytes, expected a whole number of ", kRecord,
            "-byte records (1 label byte + 3072 pixel bytes); truncated "
            "download?");
  return bytes / kRecord;
}

/// The records of one binary batch as bytes [records, 3073].
at::Tensor read_batch_file(const fs::path& path) {
  const int64_t bytes = record_count(path) * kRecord;
  auto records = at::empty({bytes / kRecord, kRecord}, at::kByte);
  std::ifstream in(path, std::ios::binary);
  MIP_CHECK(in.good(), mip::DataError, "[", path.string(),
            "]: cannot open: ", std::strerror(errno));
  in.read(static_cast<char*>(records.data_ptr()), bytes);
  MIP_CHECK(in.gcount() == bytes, mip::DataError, "[", path.string(),
            "]: file ends after ", in.gcount(), " bytes, expected ", bytes);
  return records;
}

/// CIFAR-10 in the binary format: data_folder holds data_batch_1.bin ..
/// data_batch_5.bin and test_batch.bin, or holds cifar-10-batches-bin/ with
/// them.
class Cifar10 final : public mip::plugins::ImageToClassProblem {
 public:
  explicit Cifar10(mip::sdk::Context& ctx)
      : ImageToClassProblem(ctx, "CIFAR10", 10) {
    std::vector<std::string> names;
    if (use_train_data_) {
      for (int i = 1; i <= 5; ++i)
        names.push_back("data_batch_" + std::to_string(i) + ".bin");
    } else {
      names.push_back("test_batch.bin");
    }
    const fs::path root(data_folder_);
    const std::vector<fs::path> dirs = {root, root / kSubfolder};
    std::error_code ec;
    fs::path dir;
    for (const auto& d : dirs) {
      if (fs::is_regular_file(d / names[0], ec)) {
        dir = d;
        break;
      }
    }
    if (dir.empty()) {
      const std::string what =
          names.front() + (names.size() > 1 ? " .. " + names.back() : "") +
          " in [" + dirs[0].string() + "] and [" + dirs[1].string() + "]";
      MIP_CHECK(fs::is_directory(root, ec), mip::DataError, "[", where_,
                "data_folder]: folder [", root.string(), "] ",
                fs::exists(root, ec) ? "is not a folder" : "does not exist",
                "; looked for ", what, ". ", kHowToGet);
      throw mip::DataError(mip::detail::str("[", (root / names[0]).string(),
                                            "] not found: looked for ", what,
                                            ". ", kHowToGet));
    }
    std::vector<std::string> files;
    for (const auto& name : names) {
      const fs::path file = dir / name;
      MIP_CHECK(fs::is_regular_file(file, ec), mip::DataError, "[",
                file.string(), "] not found, though [",
                (dir / names[0]).string(), "] is there. ", kHowToGet);
      files.push_back(file.string());
    }
    // The training and validation sections often read the same files: they
    // share one decoded copy.
    set_data(mip::plugins::shared_image_bytes(
        mip::plugins::file_identity(files), [&] { return load(files); }));
    ctx.logger().info("CIFAR10: " + std::to_string(size()) + " " +
                      (use_train_data_ ? "training" : "test") +
                      " images 32x32 from [" + dir.string() + "]" +
                      mip::plugins::sharing_note(sharers()));
  }

 private:
  /// The images and labels of `files`, read one file at a time into the
  /// final tensors (no copy of the whole set is made).
  mip::plugins::ImageBytes load(const std::vector<std::string>& files) const {
    std::vector<at::Tensor> records;
    int64_t n = 0;
    for (const auto& file : files)
      n += record_count(file);
    mip::plugins::ImageBytes out{at::empty({n, 3, 32, 32}, at::kByte),
                                 at::empty({n}, at::kByte)};
    int64_t first = 0;
    for (const auto& file : files) {
      const at::Tensor records = read_batch_file(file);
      const int64_t count = records.size(0);
      const auto labels = records.select(1, 0);
      if (labels.max().item<int64_t>() >= num_classes_) {
        const int64_t at =
            labels.ge(num_classes_).nonzero()[0][0].item<int64_t>();
        throw mip::DataError(mip::detail::str(
            "[", file, "]: label ", labels[at].item<int64_t>(), " of record ",
            at, " is not a class index in [0, ", num_classes_, ")"));
      }
      out.labels.narrow(0, first, count).copy_(labels);
      out.images.narrow(0, first, count)
          .copy_(records.slice(1, 1).view({count, 3, 32, 32}));
      first += count;
    }
    return out;
  }
};

}  // namespace

MIP_REGISTER_PROBLEM(Cifar10,
                     "CIFAR10",
                     "CIFAR-10: 32x32 colour images, 10 classes (binary "
                     "batches of cifar-10-binary.tar.gz)")
