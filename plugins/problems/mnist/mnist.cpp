// MNIST and FashionMNIST: MI-Prometheus's digit and clothing classification
// problems, read from the standard IDX files (plain or gzipped).
#include <ATen/ATen.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <mip/sdk/sdk.hpp>

#include "../../common/image_to_class.hpp"

namespace {

namespace fs = std::filesystem;

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

/// The whole content of `path`, decompressed when it is gzip (zlib passes
/// other files through as they are).
std::string read_bytes(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  MIP_CHECK(f != nullptr, mip::DataError, "[", path,
            "]: cannot open: ", std::strerror(errno));
  gzbuffer(f, 1u << 17);
  std::string out;
  std::vector<char> buf(1u << 20);
  int n = 0;
  while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0)
    out.append(buf.data(), static_cast<size_t>(n));
  int err = Z_OK;
  const std::string message = gzerror(f, &err);  // copied before gzclose
  gzclose(f);
  MIP_CHECK(err != Z_BUF_ERROR, mip::DataError, "[", path,
            "]: gzip stream ends early, after ", out.size(),
            " decompressed bytes (truncated download?)");
  MIP_CHECK(n == 0 && err == Z_OK, mip::DataError, "[", path,
            "]: cannot read: ", message);
  return out;
}

uint32_t big_endian32(const std::string& bytes, size_t offset) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) |
         (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

/// An IDX file of unsigned bytes: its dimensions and the data after the
/// header (checked against the file's length).
struct IdxFile {
  std::vector<int64_t> dims;
  std::string bytes;
  size_t header = 0;
};

IdxFile read_idx(const std::string& path, uint32_t magic, const char* what) {
  IdxFile f;
  f.bytes = read_bytes(path);
  const auto ndims = static_cast<size_t>(magic & 0xff);
  f.header = 4 + 4 * ndims;
  const std::string expected = "magic " + hex32(magic) + " expected (IDX " +
                               what + ": unsigned bytes, " +
                               std::to_string(ndims) + " dimension" +
                               (ndims > 1 ? "s" : "") + ")";
  MIP_CHECK(f.bytes.size() >= 4, mip::DataError, "[", path, "]: ", expected,
            ", but the file ends after ", f.bytes.size(), " bytes");
  const uint32_t got = big_endian32(f.bytes, 0);
  if (got != magic) {
    std::string hint;
    if (got == kImagesMagic || got == kLabelsMagic)
      hint = " (an IDX " +
             std::string(got == kImagesMagic ? "images" : "labels") +
             " file: are the files swapped?)";
    throw mip::DataError(mip::detail::str("[", path, "]: ", expected, ", got ",
                                          hex32(got), hint));
  }
  MIP_CHECK(f.bytes.size() >= f.header, mip::DataError, "[", path,
            "]: file ends after ", f.bytes.size(), " bytes, inside its ",
            f.header, "-byte header");
  // Saturating product: a corrupt header must not overflow.
  constexpr uint64_t kHuge = uint64_t(1) << 48;
  uint64_t payload = 1;
  std::string shape;
  for (size_t d = 0; d < ndims; ++d) {
    const uint32_t n = big_endian32(f.bytes, 4 + 4 * d);
    f.dims.push_back(n);
    shape += (d ? " x " : "") + std::to_string(n);
    payload = (n != 0 && payload > kHuge / n) ? kHuge : payload * n;
  }
  const uint64_t total = f.header + payload;
  MIP_CHECK(f.bytes.size() >= total, mip::DataError, "[", path,
            "]: file ends after ", f.bytes.size(), " bytes, header says ",
            total, " (", shape, " bytes after a ", f.header,
            "-byte header); truncated download?");
  MIP_CHECK(f.bytes.size() == total, mip::DataError, "[", path,
            "]: file holds ", f.bytes.size(), " bytes, header says ", total,
            " (", shape, " bytes after a ", f.header, "-byte header)");
  return f;
}

/// `dir/name` or else `dir/name.gz`, whichever is a file; "" if neither.
std::string find_file(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  for (const fs::path& p : {dir / name, dir / (name + ".gz")})
    if (fs::is_regular_file(p, ec))
      return p.string();
  return "";
}

/// A decoded pair of IDX files.
struct Decoded {
  at::Tensor images;  ///< uint8 [N, 1, H, W]
  at::Tensor labels;  ///< int64 [N]
};

/// `load()`'s result for these files, decoded once per process (keyed by the
/// paths, sizes and modification times; tensors are shared, never written).
Decoded decoded(const std::string& images_file,
                const std::string& labels_file,
                const std::function<Decoded()>& load) {
  static std::mutex mutex;
  static std::map<std::string, Decoded> cache;
  std::string key;
  for (const auto& f : {images_file, labels_file}) {
    std::error_code ec;
    const auto size = fs::file_size(f, ec);
    const auto time = fs::last_write_time(f, ec).time_since_epoch().count();
    key += f + "|" + std::to_string(size) + "|" + std::to_string(time) + "|";
  }
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it == cache.end())
    it = cache.emplace(key, load()).first;
  return it->second;
}

/// A data set in the IDX format of MNIST: train-images-idx3-ubyte,
/// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
/// each plain or gzipped, in data_folder or its torchvision subfolder
/// <Name>/raw/ (MI-Prometheus's layout).
class IdxProblem : public mip::plugins::ImageToClassProblem {
 protected:
  IdxProblem(mip::sdk::Context& ctx,
             const std::string& name,
             const std::string& how_to_get)
      : ImageToClassProblem(ctx, name, 10) {
    const std::string prefix = use_train_data_ ? "train" : "t10k";
    const std::string images_name = prefix + "-images-idx3-ubyte";
    const std::string labels_name = prefix + "-labels-idx1-ubyte";
    const fs::path root(data_folder_);
    const std::vector<fs::path> dirs = {root, root / name / "raw",
                                        root / "raw"};
    std::string images_file;
    fs::path dir;
    for (const auto& d : dirs) {
      images_file = find_file(d, images_name);
      if (!images_file.empty()) {
        dir = d;
        break;
      }
    }
    if (images_file.empty()) {
      std::string looked;
      for (const auto& d : dirs)
        looked += (looked.empty() ? "[" : ", [") + d.string() + "]";
      const std::string what =
          images_name + " and " + labels_name + " (plain or .gz) in " + looked;
      std::error_code ec;
      MIP_CHECK(fs::is_directory(root, ec), mip::DataError, "[", where_,
                "data_folder]: folder [", root.string(), "] ",
                fs::exists(root, ec) ? "is not a folder" : "does not exist",
                "; looked for ", what, ". ", how_to_get);
      throw mip::DataError(mip::detail::str(
          "[", (root / images_name).string(),
          "] not found (nor .gz): looked for ", what, ". ", how_to_get));
    }
    const std::string labels_file = find_file(dir, labels_name);
    MIP_CHECK(!labels_file.empty(), mip::DataError, "[",
              (dir / labels_name).string(), "] not found (nor .gz), though [",
              images_file, "] is there. ", how_to_get);

    // The training and validation sections often read the same files: decode
    // them once per process.
    const Decoded data = decoded(images_file, labels_file, [&] {
      const IdxFile images = read_idx(images_file, kImagesMagic, "images");
      const IdxFile labels = read_idx(labels_file, kLabelsMagic, "labels");
      const int64_t n = images.dims[0], rows = images.dims[1],
                    cols = images.dims[2];
      MIP_CHECK(n > 0 && rows > 0 && cols > 0, mip::DataError, "[", images_file,
                "]: header says ", n, " images of ", rows, " x ", cols,
                " pixels; expected at least one non-empty image");
      MIP_CHECK(labels.dims[0] == n, mip::DataError, "[", images_file,
                "] holds ", n, " images, label file [", labels_file, "] ",
                labels.dims[0], " labels");
      auto image_tensor = at::empty({n, 1, rows, cols}, at::kByte);
      std::memcpy(image_tensor.data_ptr(), images.bytes.data() + images.header,
                  static_cast<size_t>(n * rows * cols));
      auto label_tensor = at::empty({n}, at::kByte);
      std::memcpy(label_tensor.data_ptr(), labels.bytes.data() + labels.header,
                  static_cast<size_t>(n));
      const int64_t max_label = label_tensor.max().item<int64_t>();
      if (max_label >= num_classes_) {
        const int64_t at =
            label_tensor.ge(num_classes_).nonzero()[0][0].item<int64_t>();
        throw mip::DataError(mip::detail::str(
            "[", labels_file, "]: label ", label_tensor[at].item<int64_t>(),
            " of sample ", at, " is not a class index in [0, ", num_classes_,
            ")"));
      }
      return Decoded{image_tensor, label_tensor.to(at::kLong)};
    });
    const int64_t n = data.images.size(0), rows = data.images.size(2),
                  cols = data.images.size(3);
    set_data(data.images, data.labels);
    ctx.logger().info(name + ": " + std::to_string(n) + " " +
                      (use_train_data_ ? "training" : "test") + " images " +
                      std::to_string(rows) + "x" + std::to_string(cols) +
                      " from [" + dir.string() + "]");
  }
};

class Mnist final : public IdxProblem {
 public:
  explicit Mnist(mip::sdk::Context& ctx)
      : IdxProblem(
            ctx,
            "MNIST",
            "Download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from "
            "http://yann.lecun.com/exdb/mnist/ (mirror: "
            "https://ossci-datasets.s3.amazonaws.com/mnist/) into that folder, "
            "or set data_folder to the folder holding them") {}
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
