// The IDX files of MNIST-style data sets (plain or gzipped), read straight
// into the bytes the problems of this plugin share: MNIST, FashionMNIST,
// SequentialPixelMNIST and PermutedSequentialRowMnist.
#pragma once

#include <ATen/ATen.h>
#include <zlib.h>

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <mip/sdk/sdk.hpp>

#include "../../common/image_bytes.hpp"

namespace mip::plugins::idx {

namespace fs = std::filesystem;

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

/// Where MNIST's files come from (the end of "not found" errors); `key`:
/// the parameter naming the folder.
inline std::string mnist_how_to_get(const std::string& key) {
  return "Download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
         "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from "
         "http://yann.lecun.com/exdb/mnist/ (mirror: "
         "https://ossci-datasets.s3.amazonaws.com/mnist/) into that folder, "
         "or set " +
         key + " to the folder holding them";
}

inline std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

inline uint32_t big_endian32(const unsigned char* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) |
         (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

/// Reads a file's bytes in order, decompressed when it is gzip (zlib passes
/// other files through as they are), counting what it has read.
class ByteReader {
 public:
  explicit ByteReader(std::string path) : path_(std::move(path)) {
    file_ = gzopen(path_.c_str(), "rb");
    MIP_CHECK(file_ != nullptr, mip::DataError, "[", path_,
              "]: cannot open: ", std::strerror(errno));
    gzbuffer(file_, 1u << 17);
  }
  ~ByteReader() { gzclose(file_); }
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;

  /// Reads up to `n` bytes into `dst`; fewer only at the end of the data.
  size_t read(void* dst, size_t n) {
    size_t got = 0;
    auto* out = static_cast<char*>(dst);
    while (got < n) {
      const auto chunk =
          static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30));
      const int r = gzread(file_, out + got, chunk);
      if (r > 0)
        got += static_cast<size_t>(r);
      if (r < static_cast<int>(chunk)) {
        check_stream(r);
        break;
      }
    }
    consumed_ += got;
    return got;
  }

  /// Reads to the end, keeping nothing; returns how many bytes there were.
  uint64_t skip_rest() {
    std::vector<char> buf(1u << 20);
    uint64_t n = 0;
    for (size_t r; (r = read(buf.data(), buf.size())) > 0;)
      n += r;
    return n;
  }

  /// Bytes read so far (decompressed).
  uint64_t consumed() const { return consumed_; }
  /// True when the file is not gzip (read as it is).
  bool plain() const { return gzdirect(file_) != 0; }

 private:
  // After a short read: the end of the data, or an error that says which.
  void check_stream(int r) {
    int err = Z_OK;
    const std::string message = gzerror(file_, &err);
    MIP_CHECK(err != Z_BUF_ERROR, mip::DataError, "[", path_,
              "]: gzip stream ends early, after ",
              consumed_ + static_cast<uint64_t>(std::max(r, 0)),
              " decompressed bytes (truncated download?)");
    MIP_CHECK(r >= 0 && err == Z_OK, mip::DataError, "[", path_,
              "]: cannot read: ", message);
  }

  std::string path_;
  gzFile file_ = nullptr;
  uint64_t consumed_ = 0;
};

/// An IDX file of unsigned bytes: its dimensions and the bytes after the
/// header, read straight into a tensor [product of dims] (no other copy).
struct IdxData {
  std::vector<int64_t> dims;
  at::Tensor bytes;
};

inline IdxData read_idx(const std::string& path,
                        uint32_t magic,
                        const char* what) {
  ByteReader in(path);
  const auto ndims = static_cast<size_t>(magic & 0xff);
  const uint64_t header = 4 + 4 * ndims;
  const std::string expected = "magic " + hex32(magic) + " expected (IDX " +
                               what + ": unsigned bytes, " +
                               std::to_string(ndims) + " dimension" +
                               (ndims > 1 ? "s" : "") + ")";
  unsigned char head[4 + 4 * 3] = {};
  const size_t got_magic = in.read(head, 4);
  MIP_CHECK(got_magic == 4, mip::DataError, "[", path, "]: ", expected,
            ", but the file ends after ", got_magic, " bytes");
  const uint32_t got = big_endian32(head);
  if (got != magic) {
    std::string hint;
    if (got == kImagesMagic || got == kLabelsMagic)
      hint = " (an IDX " +
             std::string(got == kImagesMagic ? "images" : "labels") +
             " file: are the files swapped?)";
    throw mip::DataError(mip::detail::str("[", path, "]: ", expected, ", got ",
                                          hex32(got), hint));
  }
  MIP_CHECK(in.read(head + 4, header - 4) == header - 4, mip::DataError, "[",
            path, "]: file ends after ", in.consumed(), " bytes, inside its ",
            header, "-byte header");
  // Saturating product: a corrupt header must not overflow.
  constexpr uint64_t kHuge = uint64_t(1) << 48;
  uint64_t payload = 1;
  std::string shape;
  IdxData f;
  for (size_t d = 0; d < ndims; ++d) {
    const uint32_t n = big_endian32(head + 4 + 4 * d);
    f.dims.push_back(n);
    shape += (d ? " x " : "") + std::to_string(n);
    payload = (n != 0 && payload > kHuge / n) ? kHuge : payload * n;
  }
  const uint64_t total = header + payload;
  const auto says = [&] {
    return mip::detail::str(" bytes, header says ", total, " (", shape,
                            " bytes after a ", header, "-byte header)");
  };
  // What the file can hold at most: its size, or for gzip what deflate's
  // largest ratio (1032:1) gives; a header claiming more is not believed
  // (nothing that large is allocated), the data is counted instead.
  struct stat st {};
  const uint64_t on_disk =
      ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  const uint64_t can_hold = in.plain() ? on_disk : on_disk * 1032 + 1024;
  if (total > can_hold) {
    const uint64_t size = header + in.skip_rest();
    MIP_CHECK(size >= total, mip::DataError, "[", path, "]: file ends after ",
              size, says(), "; truncated download?");
  }
  f.bytes = at::empty({static_cast<int64_t>(payload)}, at::kByte);
  const size_t read = in.read(f.bytes.data_ptr(), payload);
  MIP_CHECK(read == payload, mip::DataError, "[", path, "]: file ends after ",
            header + read, says(), "; truncated download?");
  const uint64_t extra = in.skip_rest();
  MIP_CHECK(extra == 0, mip::DataError, "[", path, "]: file holds ",
            total + extra, says());
  return f;
}

/// `dir/name` or else `dir/name.gz`, whichever is a file; "" if neither.
inline std::string find_file(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  for (const fs::path& p : {dir / name, dir / (name + ".gz")})
    if (fs::is_regular_file(p, ec))
      return p.string();
  return "";
}

/// A located, decoded split of an MNIST-style data set.
struct Split {
  std::shared_ptr<const ImageBytes> data;  ///< shared by the process
  std::string dir;                         ///< the folder it was read from
};

/// Finds train-images-idx3-ubyte and train-labels-idx1-ubyte (or t10k-...
/// when `train` is false), plain or gzipped, in `folder`, its torchvision
/// subfolder <name>/raw/ (MI-Prometheus's layout) or raw/, and returns their
/// content, decoded once per process. Errors name `key` (the parameter that
/// gave the folder, e.g. "training.problem.data_folder") and end with
/// `how_to_get`.
inline Split load_split(const std::string& folder,
                        const std::string& key,
                        const std::string& name,
                        bool train,
                        const std::string& how_to_get) {
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_name = prefix + "-images-idx3-ubyte";
  const std::string labels_name = prefix + "-labels-idx1-ubyte";
  const fs::path root(folder);
  const std::vector<fs::path> dirs = {root, root / name / "raw", root / "raw"};
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
    MIP_CHECK(fs::is_directory(root, ec), mip::DataError, "[", key,
              "]: folder [", root.string(), "] ",
              fs::exists(root, ec) ? "is not a folder" : "does not exist",
              "; looked for ", what, ". ", how_to_get);
    throw mip::DataError(mip::detail::str("[", (root / images_name).string(),
                                          "] not found (nor .gz): looked for ",
                                          what, ". ", how_to_get));
  }
  const std::string labels_file = find_file(dir, labels_name);
  MIP_CHECK(!labels_file.empty(), mip::DataError, "[",
            (dir / labels_name).string(), "] not found (nor .gz), though [",
            images_file, "] is there. ", how_to_get);

  const auto load = [&] {
    IdxData images = read_idx(images_file, kImagesMagic, "images");
    const int64_t n = images.dims[0], rows = images.dims[1],
                  cols = images.dims[2];
    MIP_CHECK(n > 0 && rows > 0 && cols > 0, mip::DataError, "[", images_file,
              "]: header says ", n, " images of ", rows, " x ", cols,
              " pixels; expected at least one non-empty image");
    IdxData labels = read_idx(labels_file, kLabelsMagic, "labels");
    MIP_CHECK(labels.dims[0] == n, mip::DataError, "[", images_file, "] holds ",
              n, " images, label file [", labels_file, "] ", labels.dims[0],
              " labels");
    constexpr int64_t kClasses = 10;
    if (labels.bytes.max().item<int64_t>() >= kClasses) {
      const int64_t at =
          labels.bytes.ge(kClasses).nonzero()[0][0].item<int64_t>();
      throw mip::DataError(mip::detail::str(
          "[", labels_file, "]: label ", labels.bytes[at].item<int64_t>(),
          " of sample ", at, " is not a class index in [0, ", kClasses, ")"));
    }
    return ImageBytes{images.bytes.view({n, 1, rows, cols}), labels.bytes};
  };
  return {shared_image_bytes(file_identity({images_file, labels_file}), load),
          dir.string()};
}

}  // namespace mip::plugins::idx
