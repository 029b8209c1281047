// Lean image data: a decoded data set held once per process as bytes, and
// the per-batch conversion (float, resize, padding) every image problem
// applies to the samples of a batch. Header-only, built into the image
// problem plugins; not a plugin itself.
#pragma once

#include <ATen/ATen.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <mip/sdk/error.hpp>

namespace mip::plugins {

/// A decoded classification data set: written once by its loader, then only
/// read (by every problem over the same files, from any thread).
struct ImageBytes {
  at::Tensor images;  ///< uint8 [N, C, H, W]
  at::Tensor labels;  ///< uint8 [N]
};

/// What identifies the content of `files`: each one's canonical path, device,
/// inode, size and modification time (a file replaced or rewritten gets a new
/// key, so it is decoded again).
inline std::string file_identity(const std::vector<std::string>& files) {
  std::string key;
  for (const auto& f : files) {
    std::error_code ec;
    const auto canonical = std::filesystem::canonical(f, ec);
    struct stat st {};
    const bool ok = ::stat(f.c_str(), &st) == 0;
    key += (ec ? f : canonical.string()) + "|";
    if (ok)
      key += std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
             std::to_string(st.st_size) + ":" +
             std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec);
    key += "|";
  }
  return key;
}

/// load()'s result for `key`, made once while any problem of this process
/// holds it (the cache keeps weak references: the data is freed with the last
/// problem using it). One cache per type T.
template <typename T>
std::shared_ptr<const T> shared_data(const std::string& key,
                                     const std::function<T()>& load) {
  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<const T>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  for (auto it = cache.begin(); it != cache.end();)
    it = it->second.expired() ? cache.erase(it) : std::next(it);
  if (auto held = cache[key].lock())
    return held;
  auto made = std::make_shared<const T>(load());
  cache[key] = made;
  return made;
}

/// The data set decoded from the files `key` identifies: load()'s result,
/// decoded once while any problem of this process holds it.
inline std::shared_ptr<const ImageBytes> shared_image_bytes(
    const std::string& key, const std::function<ImageBytes()>& load) {
  auto made = shared_data<ImageBytes>(key, load);
  MIP_INTERNAL_ASSERT(made->images.scalar_type() == at::kByte &&
                      made->images.dim() == 4 && made->images.is_contiguous() &&
                      made->labels.scalar_type() == at::kByte &&
                      made->labels.size(0) == made->images.size(0));
  return made;
}

/// How a batch's images are made from the stored bytes, in torchvision's
/// order: resize (bilinear with antialiasing, as PIL; rounded back to whole
/// byte values), zero padding, then scaled to [0, 1] (ToTensor).
struct ImageTransform {
  std::vector<int64_t> resize;   ///< [height, width], or empty: none
  std::vector<int64_t> padding;  ///< [left, right, top, bottom], or empty

  /// [height, width] of an image of `h` x `w` after the transform.
  std::pair<int64_t, int64_t> output_size(int64_t h, int64_t w) const {
    if (!resize.empty()) {
      h = resize[0];
      w = resize[1];
    }
    if (padding.size() == 4) {
      w += padding[0] + padding[1];
      h += padding[2] + padding[3];
    }
    return {h, w};
  }

  /// float32 [B, C, H', W'] in [0, 1] from uint8 `bytes` [B, C, H, W].
  at::Tensor operator()(const at::Tensor& bytes) const {
    at::Tensor x = bytes.to(at::kFloat);
    if (!resize.empty() && (x.size(2) != resize[0] || x.size(3) != resize[1]))
      x = at::_upsample_bilinear2d_aa(x, {resize[0], resize[1]},
                                      /*align_corners=*/false, c10::nullopt,
                                      c10::nullopt)
              .round_()
              .clamp_(0, 255);
    if (std::any_of(padding.begin(), padding.end(),
                    [](int64_t v) { return v > 0; }))
      x = at::constant_pad_nd(x, padding, 0);
    return x.div_(255.0);
  }
};

/// The rows `indices` of `t` (a copy, never aliasing `indices`); each index
/// is checked against [0, size) and a bad one is named with `who`.
inline at::Tensor select_samples(const at::Tensor& t,
                                 const std::vector<int64_t>& indices,
                                 const std::string& who) {
  const int64_t n = t.size(0);
  for (int64_t i : indices)
    MIP_CHECK(i >= 0 && i < n, mip::DataError, who, ": sample index ", i,
              " out of range [0, ", n, ")");
  const auto idx = at::from_blob(const_cast<int64_t*>(indices.data()),
                                 {int64_t(indices.size())}, at::kLong);
  return t.index_select(0, idx);
}

/// "; its decoded bytes are shared by N problems of this process" when
/// others hold them too, else "" (for the problems' log line).
inline std::string sharing_note(long sharers) {
  return sharers > 1 ? "; bytes shared by " + std::to_string(sharers) +
                           " problems of this process"
                     : "";
}

}  // namespace mip::plugins
