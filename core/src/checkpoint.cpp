#include <mip/core/checkpoint.hpp>

#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>

#include <mip/core/files.hpp>
#include <mip/core/text.hpp>
#include <mip/sdk/error.hpp>

namespace mip {

namespace {
const char* const kLegacyRngKey = "rng.torch_cpu";
}  // namespace

namespace {

constexpr int64_t kFormatVersion = 1;
constexpr const char* kMagic = "mi-prometheus-cpp checkpoint";

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
  return m;
}

void open_archive(torch::serialize::InputArchive& ar, const std::string& path) {
  MIP_CHECK(::access(path.c_str(), R_OK) == 0, DataError, "checkpoint [", path,
            "] does not exist or cannot be read");
  try {
    ar.load_from(path);
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
  // leaves its partial file behind.
  std::string bytes;
  ar.save_to([&bytes](const void* data, size_t n) -> size_t {
    bytes.append(static_cast<const char*>(data), n);
    return n;
  });
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

std::string checkpoint_digest(const std::string& path) {
  torch::serialize::InputArchive ar;
  open_archive(ar, path);
  read_meta(ar, path);
  torch::serialize::InputArchive model_ar;
  ar.read("model", model_ar);
  uint64_t h = 1469598103934665603ULL;  // FNV-1a over names and bytes
  auto mix = [&h](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i)
      h = (h ^ p[i]) * 1099511628211ULL;
  };
  std::function<void(torch::serialize::InputArchive&, const std::string&)>
      walk = [&](torch::serialize::InputArchive& a, const std::string& prefix) {
        for (const auto& k : a.keys()) {
          torch::Tensor t;
          if (a.try_read(k, t, false) || a.try_read(k, t, true)) {
            const auto c = t.contiguous();
            mix((prefix + k).data(), prefix.size() + k.size());
            mix(c.data_ptr(), c.numel() * c.element_size());
            continue;
          }
          torch::serialize::InputArchive sub;
          if (a.try_read(k, sub))
            walk(sub, prefix + k + ".");
        }
      };
  walk(model_ar, "");
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
