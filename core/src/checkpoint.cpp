#include <mip/core/checkpoint.hpp>

#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <mip/core/files.hpp>
#include <mip/core/folder.hpp>
#include <mip/core/text.hpp>
#include <mip/sdk/error.hpp>

namespace mip {

namespace {
const char* const kLegacyRngKey = "rng.torch_cpu";

// Format 2 adds the checksummed header and the run's identity records.
constexpr int64_t kFormatVersion = 2;
constexpr const char* kMagic = "mi-prometheus-cpp checkpoint";

// The file header of format 2: magic, payload length (u64, little endian),
// CRC-32 of the payload (u32), reserved (u32). The payload is LibTorch's zip
// archive. A header (not a record inside the archive) lets the checksum be
// verified before LibTorch parses a byte, and covers every record.
constexpr char kFileMagic[8] = {'M', 'I', 'P', 'C', 'K', 'P', 'T', '\n'};
constexpr size_t kHeaderSize = 24;

void put_le(char* at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    at[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_le(const char* at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(at[i]);
  return v;
}

/// MIP_FAULT_KILL_IN_CHECKPOINT=N (kill-and-resume tests): SIGKILL in the
/// middle of this process's N-th checkpoint write (counted from 1), after
/// half of its bytes are in the temporary file.
bool kill_in_this_write() {
  static const int64_t at = [] {
    const char* v = std::getenv("MIP_FAULT_KILL_IN_CHECKPOINT");
    return v ? std::atoll(v) : int64_t{0};
  }();
  static int64_t writes = 0;
  return at > 0 && ++writes == at;
}

void write_map(torch::serialize::OutputArchive& ar,
               const std::string& prefix,
               const std::map<std::string, std::string>& m) {
  std::string keys;
  for (const auto& kv : m) {
    keys += (keys.empty() ? "" : ",") + kv.first;
    ar.write(prefix + "." + kv.first, c10::IValue(kv.second));
  }
  ar.write(prefix + ".__keys__", c10::IValue(keys));
}

c10::IValue read_value(torch::serialize::InputArchive& ar,
                       const std::string& key) {
  c10::IValue v;
  ar.read(key, v);
  return v;
}

/// The comma-separated key list stored under `key` (empty when absent).
std::vector<std::string> read_key_list(torch::serialize::InputArchive& ar,
                                       const std::string& key) {
  c10::IValue keys;
  if (!ar.try_read(key, keys))
    return {};
  return split_skip_empty(keys.toStringRef(), ',');
}

std::map<std::string, std::string> read_map(torch::serialize::InputArchive& ar,
                                            const std::string& prefix) {
  std::map<std::string, std::string> m;
  for (const auto& k : read_key_list(ar, prefix + ".__keys__"))
    m[k] = read_value(ar, prefix + "." + k).toStringRef();
  return m;
}

CheckpointMeta read_meta(torch::serialize::InputArchive& ar,
                         const std::string& path) {
  c10::IValue magic;
  MIP_CHECK(ar.try_read("mip.magic", magic) && magic.isString() &&
                magic.toStringRef() == kMagic,
            DataError, "checkpoint [", path,
            "] is not an MI-Prometheus C++ checkpoint (no mip.magic record); "
            "MI-Prometheus's Python .pt files cannot be read");
  const int64_t version = read_value(ar, "mip.format_version").toInt();
  MIP_CHECK(version <= kFormatVersion, DataError, "checkpoint [", path,
            "] has format version ", version, "; this build reads up to ",
            kFormatVersion);
  CheckpointMeta m;
  m.model_name = read_value(ar, "meta.model_name").toStringRef();
  m.problem_name = read_value(ar, "meta.problem_name").toStringRef();
  m.episode = read_value(ar, "meta.episode").toInt();
  m.epoch = read_value(ar, "meta.epoch").toInt();
  m.loss = read_value(ar, "meta.loss").toDouble();
  m.status = read_value(ar, "meta.status").toStringRef();
  m.timestamp = read_value(ar, "meta.timestamp").toStringRef();
  m.best_loss = read_value(ar, "meta.best_loss").toDouble();
  m.best_episode = read_value(ar, "meta.best_episode").toInt();
  m.training_stats = read_map(ar, "training_stats");
  m.validation_stats = read_map(ar, "validation_stats");
  m.format_version = version;
  c10::IValue v;
  if (ar.try_read("mip.run_id", v))
    m.run_id = v.toStringRef();
  if (ar.try_read("mip.config_digest", v))
    m.config_digest = v.toStringRef();
  if (ar.try_read("mip.worker", v))
    m.worker = v.toStringRef();
  return m;
}

/// Reads `path`, verifies its header (length, checksum) and opens the
/// archive it holds; files of 0.1.0 (a bare zip archive) open unverified.
void open_archive(torch::serialize::InputArchive& ar, const std::string& path) {
  MIP_CHECK(::access(path.c_str(), R_OK) == 0, DataError, "checkpoint [", path,
            "] does not exist or cannot be read");
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in),
                 std::istreambuf_iterator<char>());
    MIP_CHECK(!in.bad(), DataError, "checkpoint [", path,
              "] cannot be read: ", std::strerror(errno));
  }
  const char* payload = bytes.data();
  size_t size = bytes.size();
  if (size >= sizeof kFileMagic &&
      std::memcmp(payload, kFileMagic, sizeof kFileMagic) == 0) {
    MIP_CHECK(size >= kHeaderSize, DataError, "checkpoint [", path,
              "] cannot be read: truncated (", size,
              " bytes, not even its header)");
    const uint64_t length = get_le(payload + 8, 8);
    const uint32_t crc = static_cast<uint32_t>(get_le(payload + 16, 4));
    MIP_CHECK(length == size - kHeaderSize, DataError, "checkpoint [", path,
              "] cannot be read: truncated or bytes appended (its header says ",
              length + kHeaderSize, " bytes, the file has ", size,
              "); use another checkpoint (models/model_best.pt, "
              "model_episode_*.pt) or train again");
    const uint32_t actual = crc32_update(0, payload + kHeaderSize, length);
    MIP_CHECK(actual == crc, DataError, "checkpoint [", path,
              "] is damaged: its content's CRC-32 is ", crc_hex(actual),
              ", the header says ", crc_hex(crc),
              " (bytes changed on disk since it was written); use another "
              "checkpoint (models/model_best.pt, model_episode_*.pt) or train "
              "again");
    payload += kHeaderSize;
    size = length;
  }
  try {
    ar.load_from(payload, size);
  } catch (const c10::Error& e) {
    throw DataError("checkpoint [" + path +
                    "] cannot be read (truncated or not a checkpoint): " +
                    e.what_without_backtrace());
  } catch (const std::exception& e) {
    // TorchScript's parser reports damaged code records with its own
    // exception (found by fuzz/corpus/checkpoint).
    throw DataError(
        "checkpoint [" + path +
        "] cannot be read (damaged or not a checkpoint): " + e.what());
  }
}

/// The fault injection's kill: half of `bytes` in the temporary file a
/// write of `path` uses, then SIGKILL.
[[noreturn]] void kill_in_the_middle(const std::string& path,
                                     const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  if (std::FILE* f = std::fopen(tmp.c_str(), "wb")) {
    std::fwrite(bytes.data(), 1, bytes.size() / 2, f);
    std::fclose(f);
  }
  std::raise(SIGKILL);
  std::abort();
}

}  // namespace

void save_checkpoint(const std::string& path,
                     const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta,
                     const CheckpointExtra* extra) {
  torch::serialize::OutputArchive ar;
  ar.write("mip.magic", c10::IValue(std::string(kMagic)));
  ar.write("mip.format_version", c10::IValue(kFormatVersion));
  ar.write("meta.model_name", c10::IValue(meta.model_name));
  ar.write("meta.problem_name", c10::IValue(meta.problem_name));
  ar.write("meta.episode", c10::IValue(meta.episode));
  ar.write("meta.epoch", c10::IValue(meta.epoch));
  ar.write("meta.loss", c10::IValue(meta.loss));
  ar.write("meta.status", c10::IValue(meta.status));
  ar.write("meta.timestamp", c10::IValue(meta.timestamp));
  ar.write("meta.best_loss", c10::IValue(meta.best_loss));
  ar.write("meta.best_episode", c10::IValue(meta.best_episode));
  ar.write("mip.run_id", c10::IValue(meta.run_id));
  ar.write("mip.config_digest", c10::IValue(meta.config_digest));
  ar.write("mip.worker", c10::IValue(meta.worker));
  write_map(ar, "training_stats", meta.training_stats);
  write_map(ar, "validation_stats", meta.validation_stats);
  torch::serialize::OutputArchive model_ar;
  model.save(model_ar);
  ar.write("model", model_ar);
  if (optimizer) {
    torch::serialize::OutputArchive opt_ar;
    optimizer->save(opt_ar);
    ar.write("optimizer", opt_ar);
  }
  if (extra) {
    std::string keys;
    for (const auto& [k, t] : *extra) {
      keys += (keys.empty() ? "" : ",") + k;
      ar.write("extra." + k, t, /*is_buffer=*/true);
    }
    ar.write("extra.__keys__", c10::IValue(keys));
  }
  // Serialized in memory, then written by us: LibTorch's file writer throws
  // again from its destructor when the disk is full (std::terminate), and
  // leaves its partial file behind. The header goes in front.
  std::string bytes(kHeaderSize, '\0');
  ar.save_to([&bytes](const void* data, size_t n) -> size_t {
    bytes.append(static_cast<const char*>(data), n);
    return n;
  });
  const uint64_t length = bytes.size() - kHeaderSize;
  std::memcpy(&bytes[0], kFileMagic, sizeof kFileMagic);
  put_le(&bytes[8], length, 8);
  put_le(&bytes[16], crc32_update(0, bytes.data() + kHeaderSize, length), 4);
  if (kill_in_this_write())
    kill_in_the_middle(path, bytes);
  write_file_atomic(path, bytes);
}

CheckpointMeta load_checkpoint(const std::string& path,
                               torch::nn::Module& model,
                               torch::optim::Optimizer* optimizer,
                               CheckpointExtra* extra) {
  torch::serialize::InputArchive ar;
  open_archive(ar, path);
  CheckpointMeta meta = read_meta(ar, path);
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const auto& p : model.named_parameters())
    shapes.emplace_back(p.key(), p.value().sizes().vec());
  try {
    torch::serialize::InputArchive model_ar;
    ar.read("model", model_ar);
    model.load(model_ar);
    if (optimizer) {
      torch::serialize::InputArchive opt_ar;
      MIP_CHECK(ar.try_read("optimizer", opt_ar), DataError, "checkpoint [",
                path,
                "] holds no optimizer state (only models/model_last.pt does)");
      optimizer->load(opt_ar);
    }
    if (extra) {
      for (const auto& k : read_key_list(ar, "extra.__keys__"))
        ar.read("extra." + k, (*extra)[k], /*is_buffer=*/true);
      // Checkpoints of 0.1.0 stored the generator beside the extras.
      torch::Tensor rng;
      if (!extra->count(kLegacyRngKey) &&
          ar.try_read(kLegacyRngKey, rng, /*is_buffer=*/true))
        (*extra)[kLegacyRngKey] = rng;
    }
  } catch (const c10::Error& e) {
    throw DataError("checkpoint [" + path + "] does not fit model [" +
                    meta.model_name + "]: " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    // torch::jit's own errors, e.g. a record missing from a damaged
    // optimizer state (found by fuzz/corpus/checkpoint).
    throw DataError("checkpoint [" + path + "] does not fit model [" +
                    meta.model_name + "]: " + e.what());
  }
  for (const auto& [name, shape] : shapes) {
    const auto now = model.named_parameters()[name].sizes().vec();
    MIP_CHECK(now == shape, DataError, "checkpoint [", path,
              "] does not fit model [", meta.model_name, "]: parameter ", name,
              " has shape ", c10::IntArrayRef(now), " in the checkpoint, ",
              c10::IntArrayRef(shape),
              " in the model built from the configuration");
  }
  return meta;
}

std::vector<std::pair<std::string, at::Tensor>> checkpoint_weights(
    const std::string& path) {
  torch::serialize::InputArchive ar;
  open_archive(ar, path);
  read_meta(ar, path);
  torch::serialize::InputArchive model_ar;
  ar.read("model", model_ar);
  std::vector<std::pair<std::string, at::Tensor>> out;
  std::function<void(torch::serialize::InputArchive&, const std::string&)>
      walk = [&](torch::serialize::InputArchive& a, const std::string& prefix) {
        for (const auto& k : a.keys()) {
          torch::Tensor t;
          if (a.try_read(k, t, false) || a.try_read(k, t, true)) {
            out.emplace_back(prefix + k, t);
            continue;
          }
          torch::serialize::InputArchive sub;
          if (a.try_read(k, sub))
            walk(sub, prefix + k + ".");
        }
      };
  walk(model_ar, "");
  return out;
}

std::string checkpoint_digest(const std::string& path) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a over names and bytes
  auto mix = [&h](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i)
      h = (h ^ p[i]) * 1099511628211ULL;
  };
  for (const auto& [name, t] : checkpoint_weights(path)) {
    const auto c = t.contiguous();
    mix(name.data(), name.size());
    mix(c.data_ptr(), c.numel() * c.element_size());
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  torch::serialize::InputArchive ar;
  open_archive(ar, path);
  return read_meta(ar, path);
}

}  // namespace mip
