#include <mip/core/checkpoint.hpp>

#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>

#include <mip/sdk/error.hpp>

namespace mip {

namespace {

constexpr int64_t kFormatVersion = 1;
constexpr const char* kMagic = "mi-prometheus-cpp checkpoint";

void write_map(torch::serialize::OutputArchive& ar, const std::string& prefix,
               const std::map<std::string, std::string>& m) {
  std::string keys;
  for (const auto& kv : m) {
    keys += (keys.empty() ? "" : ",") + kv.first;
    ar.write(prefix + "." + kv.first, c10::IValue(kv.second));
  }
  ar.write(prefix + ".__keys__", c10::IValue(keys));
}

c10::IValue read_value(torch::serialize::InputArchive& ar, const std::string& key) {
  c10::IValue v;
  ar.read(key, v);
  return v;
}

std::map<std::string, std::string> read_map(torch::serialize::InputArchive& ar,
                                            const std::string& prefix) {
  std::map<std::string, std::string> m;
  c10::IValue keys;
  if (!ar.try_read(prefix + ".__keys__", keys)) return m;
  std::string all = keys.toStringRef();
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find(',', start);
    if (end == std::string::npos) end = all.size();
    const std::string k = all.substr(start, end - start);
    if (!k.empty()) m[k] = read_value(ar, prefix + "." + k).toStringRef();
    start = end + 1;
  }
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
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta) {
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
  ar.write("rng.torch_cpu",
           at::detail::getDefaultCPUGenerator().get_state(), /*is_buffer=*/true);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    ar.save_to(tmp);
  } catch (const c10::Error& e) {
    std::remove(tmp.c_str());
    throw Error("cannot write checkpoint [" + tmp + "]: " + e.what_without_backtrace());
  }
  MIP_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, Error,
            "cannot rename [", tmp, "] to [", path, "]");
}

CheckpointMeta load_checkpoint(const std::string& path, torch::nn::Module& model,
                               torch::optim::Optimizer* optimizer) {
  torch::serialize::InputArchive ar;
  open_archive(ar, path);
  CheckpointMeta meta = read_meta(ar, path);
  try {
    torch::serialize::InputArchive model_ar;
    ar.read("model", model_ar);
    model.load(model_ar);
    if (optimizer) {
      torch::serialize::InputArchive opt_ar;
      if (ar.try_read("optimizer", opt_ar)) optimizer->load(opt_ar);
    }
  } catch (const c10::Error& e) {
    throw DataError("checkpoint [" + path + "] does not fit model [" +
                    meta.model_name + "]: " + e.what_without_backtrace());
  }
  return meta;
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  torch::serialize::InputArchive ar;
  open_archive(ar, path);
  return read_meta(ar, path);
}

}  // namespace mip
