// The scenes of Sort-of-CLEVR and ShapeColorQuery: 2 to 6 coloured squares
// and circles on a 4x4 grid, drawn into uint8 images in-process, with the 7
// questions MI-Prometheus asks about each object and their answers;
// deterministic for a seed, cached to a file in the data folder. Built into
// the sort_of_clevr plugin only.
#pragma once

#include <ATen/ATen.h>

#include <unistd.h>

#include <boost/crc.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <mip/sdk/error.hpp>

namespace mip::plugins::scenes {

constexpr int64_t kColors = 6;     ///< blue, green, red, yellow, magenta, cyan
constexpr int64_t kShapes = 2;     ///< rectangle (square), circle
constexpr int64_t kQuestions = 7;  ///< question types asked about an object
/// Types 0-2 ask about the object alone; 3-6 about it and the others.
constexpr int64_t kFirstRelational = 3;
constexpr int64_t kMaxObjects = 6;  ///< at most one object per colour
constexpr int64_t kGrid = 4;        ///< objects sit on a 4x4 grid of cells
constexpr int64_t kClasses = 10;    ///< 6 colours, 2 shapes, yes, no
constexpr int64_t kYes = 8, kNo = 9;
constexpr int64_t kFields = 4;  ///< an object is (x, y, colour, shape)

/// RGB of each colour index and of the background (MI-Prometheus's values).
inline const std::array<std::array<uint8_t, 3>, kColors>& palette() {
  static const std::array<std::array<uint8_t, 3>, kColors> p{{{0, 0, 210},
                                                              {0, 210, 0},
                                                              {210, 0, 0},
                                                              {150, 150, 0},
                                                              {150, 0, 150},
                                                              {0, 150, 150}}};
  return p;
}
constexpr std::array<uint8_t, 3> kBackground{180, 180, 150};

/// The splits MI-Prometheus names; each draws its own scenes.
inline const std::vector<std::string>& splits() {
  static const std::vector<std::string> s{"train", "val", "test"};
  return s;
}

/// What a generated set depends on (the cache file is keyed by all of it).
struct Params {
  int64_t size = 10000;     ///< number of samples (questions)
  int64_t img_size = 128;   ///< images are img_size x img_size
  int64_t seed = 0;         ///< seed of the scenes
  int64_t split_index = 0;  ///< index in splits()
};

/// Bumped whenever the drawing or the random draws change: older cache
/// files are then stale.
constexpr uint32_t kGeneratorVersion = 1;

/// Side of a grid cell and half side of an object, in pixels.
inline int64_t block_size(int64_t img) {
  return int64_t(double(img) * 0.9 / double(kGrid));
}
inline int64_t half_side(int64_t img) {
  return int64_t(double(img) * 0.9 / double(kGrid) * 0.7 / 2.0);
}

/// A generated set: the scenes, their images and the samples (one question
/// about one object of one scene each), read only once made.
struct SceneSet {
  Params params;
  at::Tensor counts;   ///< uint8 [S]: objects in each scene
  at::Tensor objects;  ///< int64 [S, 6, 4]: (x, y, colour, shape), -1 unused
  at::Tensor images;   ///< uint8 [S, 3, img_size, img_size]
  at::Tensor samples;  ///< int64 [N, 4]: scene, object, question type, answer
};

/// A bounded, portable random stream (the same draws on every platform).
class Draws {
 public:
  explicit Draws(uint64_t seed) : engine_(mix(seed)) {}
  /// Uniform in [lo, hi].
  int64_t between(int64_t lo, int64_t hi) {
    const uint64_t span = uint64_t(hi - lo) + 1;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t v;
    do
      v = engine_();
    while (v >= limit);
    return lo + int64_t(v % span);
  }
  /// 0..n-1 in a random order (Fisher-Yates).
  std::vector<int64_t> permutation(int64_t n) {
    std::vector<int64_t> p(size_t(n), 0);
    for (int64_t i = 0; i < n; ++i)
      p[size_t(i)] = i;
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(p[size_t(i)], p[size_t(between(0, i))]);
    return p;
  }
  /// splitmix64: spreads nearby seeds apart.
  static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::mt19937_64 engine_;
};

/// The objects of one scene, as MI-Prometheus places them: 2..6 objects in
/// distinct grid cells, distinct colours, a fair coin for the shape, the
/// centre of the cell moved by -2..2 pixels on each axis.
inline std::vector<std::array<int64_t, kFields>> draw_scene(Draws& d,
                                                            int64_t img) {
  const int64_t n = d.between(2, kMaxObjects);
  const auto cells = d.permutation(kGrid * kGrid);
  const auto colours = d.permutation(kColors);
  std::vector<std::array<int64_t, kFields>> objects(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    objects[size_t(i)][3] = d.between(0, 1);
  const int64_t block = block_size(img);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t gx = cells[size_t(i)] % kGrid;
    const int64_t gy = kGrid - cells[size_t(i)] / kGrid - 1;
    auto& o = objects[size_t(i)];
    o[0] = (2 * gx + 1) * block / 2 + d.between(-2, 2);
    o[1] = (2 * gy + 1) * block / 2 + d.between(-2, 2);
    o[2] = colours[size_t(i)];
  }
  return objects;
}

/// Draws `objects` on the background into `rgb` (uint8 [3, img, img], row =
/// y, column = x): a square covers |dx|, |dy| <= half side, a circle
/// dx^2 + dy^2 <= half side^2 (clipped at the borders).
inline void draw_image(const std::vector<std::array<int64_t, kFields>>& objects,
                       int64_t img,
                       uint8_t* rgb) {
  const int64_t plane = img * img;
  for (int64_t c = 0; c < 3; ++c)
    std::memset(rgb + c * plane, kBackground[size_t(c)], size_t(plane));
  const int64_t s = half_side(img);
  for (const auto& o : objects) {
    const auto& colour = palette()[size_t(o[2])];
    for (int64_t y = std::max<int64_t>(0, o[1] - s);
         y <= std::min(img - 1, o[1] + s); ++y)
      for (int64_t x = std::max<int64_t>(0, o[0] - s);
           x <= std::min(img - 1, o[0] + s); ++x) {
        const int64_t dx = x - o[0], dy = y - o[1];
        if (o[3] == 1 && dx * dx + dy * dy > s * s)
          continue;
        for (int64_t c = 0; c < 3; ++c)
          rgb[c * plane + y * img + x] = colour[size_t(c)];
      }
  }
}

/// The answer class of question type `q` about object `i` of `objects` (an
/// int64 [6, 4] accessor row set with `n` objects), MI-Prometheus's rules:
/// 0 its shape; 1 yes when below the middle row (y > img/2); 2 yes when left
/// of the middle (x < img/2); 3/4 the shape and 5/6 the colour of the nearest
/// / farthest other object (squared distance; a tie goes to the earlier
/// object for nearest, the later one for farthest).
inline int64_t answer(const at::TensorAccessor<int64_t, 2>& objects,
                      int64_t n,
                      int64_t i,
                      int64_t q,
                      int64_t img) {
  const auto o = objects[i];
  if (q == 0)
    return kColors + o[3];
  if (q == 1)
    return o[1] > img / 2 ? kYes : kNo;
  if (q == 2)
    return o[0] < img / 2 ? kYes : kNo;
  int64_t nearest = -1, farthest = -1, dn = 0, df = 0;
  for (int64_t j = 0; j < n; ++j) {
    if (j == i)
      continue;
    const int64_t dx = objects[j][0] - o[0], dy = objects[j][1] - o[1];
    const int64_t d2 = dx * dx + dy * dy;
    if (nearest < 0 || d2 < dn)
      nearest = j, dn = d2;
    if (farthest < 0 || d2 >= df)
      farthest = j, df = d2;
  }
  const int64_t other = (q == 3 || q == 5) ? nearest : farthest;
  return q <= 4 ? kColors + objects[other][3] : objects[other][2];
}

/// The samples of `counts`/`objects`: every question about every object of
/// each scene in turn (object-major), up to `size` samples.
inline at::Tensor enumerate_samples(const at::Tensor& counts,
                                    const at::Tensor& objects,
                                    int64_t size,
                                    int64_t img) {
  auto samples = at::empty({size, 4}, at::kLong);
  auto s = samples.accessor<int64_t, 2>();
  const auto c = counts.accessor<uint8_t, 1>();
  const auto obj = objects.accessor<int64_t, 3>();
  int64_t k = 0;
  for (int64_t scene = 0; k < size && scene < counts.size(0); ++scene)
    for (int64_t i = 0; i < c[scene] && k < size; ++i)
      for (int64_t q = 0; q < kQuestions && k < size; ++q, ++k) {
        s[k][0] = scene;
        s[k][1] = i;
        s[k][2] = q;
        s[k][3] = answer(obj[scene], c[scene], i, q, img);
      }
  MIP_INTERNAL_ASSERT(k == size);
  return samples;
}

/// A new set: scenes drawn until they hold `p.size` questions.
inline SceneSet generate(const Params& p) {
  Draws d(Draws::mix(uint64_t(p.seed)) ^ uint64_t(p.split_index + 1));
  std::vector<std::vector<std::array<int64_t, kFields>>> scenes;
  for (int64_t questions = 0; questions < p.size;) {
    scenes.push_back(draw_scene(d, p.img_size));
    questions += int64_t(scenes.back().size()) * kQuestions;
  }
  const int64_t n = int64_t(scenes.size()), img = p.img_size;
  SceneSet set;
  set.params = p;
  set.counts = at::empty({n}, at::kByte);
  set.objects = at::full({n, kMaxObjects, kFields}, -1, at::kLong);
  set.images = at::empty({n, 3, img, img}, at::kByte);
  auto obj = set.objects.accessor<int64_t, 3>();
  for (int64_t k = 0; k < n; ++k) {
    const auto& scene = scenes[size_t(k)];
    set.counts.data_ptr<uint8_t>()[k] = uint8_t(scene.size());
    for (size_t i = 0; i < scene.size(); ++i)
      for (int64_t f = 0; f < kFields; ++f)
        obj[k][int64_t(i)][f] = scene[i][size_t(f)];
    draw_image(scene, img, set.images.data_ptr<uint8_t>() + k * 3 * img * img);
  }
  set.samples = enumerate_samples(set.counts, set.objects, p.size, img);
  return set;
}

// --- the cache file
// ----------------------------------------------------------
//
// A fixed little-endian header (magic, versions, the parameters, the number
// of scenes, the payload's length and CRC-32), then the payload: the object
// count of each scene (uint8), the objects (int16 x, y, colour, shape; -1 for
// unused rows) and the images (uint8 [S, 3, H, W]).

constexpr char kMagic[8] = {'M', 'I', 'P', 'S', 'C', 'E', 'N', 'E'};
constexpr uint32_t kFormatVersion = 1;

struct Header {
  char magic[8];
  uint32_t format_version;
  uint32_t generator_version;
  int64_t size, img_size, seed, split_index, scenes;
  uint64_t payload_bytes;
  uint32_t crc;
  uint32_t reserved;
};
static_assert(sizeof(Header) == 72, "the cache header is 72 bytes");

/// The file `data_folder` holds the set of `p` in: MI-Prometheus's
/// `<split>_<size>_<img_size>` and the seed.
inline std::filesystem::path cache_path(const std::string& data_folder,
                                        const Params& p) {
  return std::filesystem::path(data_folder) /
         (splits()[size_t(p.split_index)] + "_" + std::to_string(p.size) + "_" +
          std::to_string(p.img_size) + "_seed" + std::to_string(p.seed) +
          ".scenes");
}

inline uint64_t payload_bytes(int64_t scenes, int64_t img) {
  return uint64_t(scenes) * (1 + kMaxObjects * kFields * 2 + 3 * img * img);
}

inline uint32_t crc32(const std::string& bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

/// The payload of `set`, as written after the header.
inline std::string payload(const SceneSet& set) {
  const int64_t n = set.counts.size(0);
  std::string out;
  out.reserve(payload_bytes(n, set.params.img_size));
  out.append(reinterpret_cast<const char*>(set.counts.data_ptr<uint8_t>()),
             size_t(n));
  const auto obj = set.objects.contiguous();
  const int64_t* o = obj.data_ptr<int64_t>();
  for (int64_t k = 0; k < n * kMaxObjects * kFields; ++k) {
    const auto v = int16_t(o[k]);
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  out.append(reinterpret_cast<const char*>(set.images.data_ptr<uint8_t>()),
             size_t(set.images.numel()));
  return out;
}

/// Writes `set` to `file` through a temporary file in the same folder and a
/// rename (a reader never sees half a file). Returns "" or why it failed.
inline std::string write_cache(const SceneSet& set,
                               const std::filesystem::path& file) {
  static std::atomic<int> counter{0};
  const std::string body = payload(set);
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.format_version = kFormatVersion;
  h.generator_version = kGeneratorVersion;
  h.size = set.params.size;
  h.img_size = set.params.img_size;
  h.seed = set.params.seed;
  h.split_index = set.params.split_index;
  h.scenes = set.counts.size(0);
  h.payload_bytes = body.size();
  h.crc = crc32(body);
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (ec)
    return "cannot create the folder [" + file.parent_path().string() +
           "]: " + ec.message();
  const auto tmp = std::filesystem::path(file.string() + ".tmp." +
                                         std::to_string(::getpid()) + "." +
                                         std::to_string(counter++));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(&h), sizeof h);
    out.write(body.data(), std::streamsize(body.size()));
    out.close();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return "cannot write [" + tmp.string() + "]";
    }
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    return "cannot rename [" + tmp.string() + "] to [" + file.string() +
           "]: " + ec.message();
  }
  return "";
}

/// Reads the set of `p` from `file` into `set`. Returns "" when it was read,
/// else why the file cannot be used (missing, stale, truncated, corrupt).
inline std::string read_cache(const std::filesystem::path& file,
                              const Params& p,
                              SceneSet& set) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return "there is no file [" + file.string() + "]";
  Header h{};
  in.read(reinterpret_cast<char*>(&h), sizeof h);
  if (!in || std::memcmp(h.magic, kMagic, sizeof kMagic) != 0)
    return "[" + file.string() + "] is not a scene cache (bad header)";
  if (h.format_version != kFormatVersion ||
      h.generator_version != kGeneratorVersion)
    return "[" + file.string() + "] is stale: written by format " +
           std::to_string(h.format_version) + ", generator " +
           std::to_string(h.generator_version) + "; this build uses format " +
           std::to_string(kFormatVersion) + ", generator " +
           std::to_string(kGeneratorVersion);
  if (h.size != p.size || h.img_size != p.img_size || h.seed != p.seed ||
      h.split_index != p.split_index)
    return "[" + file.string() + "] is stale: it holds size " +
           std::to_string(h.size) + ", img_size " + std::to_string(h.img_size) +
           ", seed " + std::to_string(h.seed) + ", split " +
           (h.split_index >= 0 && h.split_index < 3
                ? splits()[size_t(h.split_index)]
                : std::to_string(h.split_index)) +
           "; wanted size " + std::to_string(p.size) + ", img_size " +
           std::to_string(p.img_size) + ", seed " + std::to_string(p.seed) +
           ", split " + splits()[size_t(p.split_index)];
  const int64_t n = h.scenes;
  if (n <= 0 || n > p.size || h.payload_bytes != payload_bytes(n, p.img_size))
    return "[" + file.string() + "] is corrupt: its header is inconsistent";
  std::string body(size_t(h.payload_bytes), '\0');
  in.read(body.data(), std::streamsize(body.size()));
  if (size_t(in.gcount()) != body.size())
    return "[" + file.string() +
           "] is truncated: " + std::to_string(in.gcount()) + " of " +
           std::to_string(body.size()) +
           " payload bytes (a write that did not finish?)";
  if (in.peek() != std::char_traits<char>::eof())
    return "[" + file.string() + "] is corrupt: bytes after the payload";
  if (crc32(body) != h.crc)
    return "[" + file.string() + "] is corrupt: checksum mismatch";
  const int64_t img = p.img_size;
  set.params = p;
  set.counts = at::empty({n}, at::kByte);
  std::memcpy(set.counts.data_ptr<uint8_t>(), body.data(), size_t(n));
  set.objects = at::empty({n, kMaxObjects, kFields}, at::kLong);
  int64_t* o = set.objects.data_ptr<int64_t>();
  const char* src = body.data() + n;
  for (int64_t k = 0; k < n * kMaxObjects * kFields; ++k, src += 2) {
    int16_t v;
    std::memcpy(&v, src, sizeof v);
    o[k] = v;
  }
  set.images = at::empty({n, 3, img, img}, at::kByte);
  std::memcpy(set.images.data_ptr<uint8_t>(), src, size_t(n * 3 * img * img));
  // The header and checksum agree; still refuse objects no generator makes.
  const auto c = set.counts.accessor<uint8_t, 1>();
  int64_t questions = 0;
  for (int64_t k = 0; k < n; ++k) {
    if (c[k] < 2 || c[k] > kMaxObjects)
      return "[" + file.string() + "] is corrupt: scene " + std::to_string(k) +
             " has " + std::to_string(c[k]) + " objects";
    questions += c[k] * kQuestions;
    for (int64_t i = 0; i < c[k]; ++i) {
      const auto row = set.objects[k][i];
      const int64_t colour = row[2].item<int64_t>(),
                    shape = row[3].item<int64_t>();
      if (colour < 0 || colour >= kColors || shape < 0 || shape >= kShapes)
        return "[" + file.string() + "] is corrupt: scene " +
               std::to_string(k) + " object " + std::to_string(i) +
               " has colour " + std::to_string(colour) + ", shape " +
               std::to_string(shape);
    }
  }
  if (questions < p.size)
    return "[" + file.string() + "] is corrupt: its scenes hold " +
           std::to_string(questions) + " questions, fewer than size " +
           std::to_string(p.size);
  set.samples = enumerate_samples(set.counts, set.objects, p.size, img);
  return "";
}

}  // namespace mip::plugins::scenes
