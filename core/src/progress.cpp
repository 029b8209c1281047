// The training progress: validation bookkeeping and its checkpoint entries.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <mutex>

#include <mip/core/optim.hpp>
#include <mip/core/progress.hpp>

namespace mip {

namespace {
const std::string kStats = "stats.training.";
const std::string kScheduler = "scheduler.";
const std::string kRng = "rng.torch_cpu";

std::vector<double> to_doubles(const at::Tensor& t) {
  const at::Tensor d = t.to(torch::kDouble).contiguous();
  return {d.data_ptr<double>(), d.data_ptr<double>() + d.numel()};
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
}  // namespace

void TrainingProgress::capture_rng() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  const at::Tensor state = gen.get_state().contiguous();
  const auto* bytes = state.data_ptr<uint8_t>();
  torch_cpu_rng.assign(bytes, bytes + state.numel());
}

void TrainingProgress::restore_rng() const {
  if (torch_cpu_rng.empty())
    return;
  const at::Tensor state =
      torch::tensor(std::vector<uint8_t>(torch_cpu_rng), torch::kUInt8);
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

bool TrainingProgress::record_validation(double loss,
                                         int64_t episode,
                                         double min_delta) {
  if (loss < best_loss - min_delta)
    stale_validations = 0;
  else
    ++stale_validations;
  if (!(loss < best_loss))
    return false;
  best_loss = loss;
  best_episode = episode;
  return true;
}

void TrainingProgress::save(CheckpointMeta& meta,
                            CheckpointExtra& extra) const {
  meta.episode = last_episode;
  meta.epoch = epoch;
  meta.best_loss = best_loss;
  meta.best_episode = best_episode;
  extra["stale_validations"] =
      torch::tensor(static_cast<double>(stale_validations));
  if (world_size != 1)  // one process's checkpoints stay as they were
    extra["world_size"] = torch::tensor(static_cast<double>(world_size));
  for (const auto& [key, values] : epoch_statistics)
    extra[kStats + key] = torch::tensor(values, torch::kDouble);
  for (const auto& [key, value] : scheduler)
    extra[kScheduler + key] = torch::tensor(value, torch::kDouble);
  if (!torch_cpu_rng.empty())
    extra[kRng] =
        torch::tensor(std::vector<uint8_t>(torch_cpu_rng), torch::kUInt8);
}

TrainingProgress TrainingProgress::load(const CheckpointMeta& meta,
                                        const CheckpointExtra& extra) {
  TrainingProgress p;
  p.last_episode = meta.episode;
  p.epoch = meta.epoch;
  p.best_loss = meta.best_loss;
  p.best_episode = meta.best_episode;
  for (const auto& [key, tensor] : extra) {
    if (key == "stale_validations")
      p.stale_validations = static_cast<int64_t>(tensor.item<double>());
    else if (key == "world_size")
      p.world_size = static_cast<int64_t>(tensor.item<double>());
    else if (starts_with(key, kStats))
      p.epoch_statistics[key.substr(kStats.size())] = to_doubles(tensor);
    else if (starts_with(key, kScheduler))
      p.scheduler[key.substr(kScheduler.size())] = tensor.item<double>();
    else if (key == kRng) {
      const at::Tensor t = tensor.to(torch::kUInt8).contiguous();
      p.torch_cpu_rng.assign(t.data_ptr<uint8_t>(),
                             t.data_ptr<uint8_t>() + t.numel());
    } else if (key == "scheduler")  // 0.1.0: a plain list
      p.scheduler = scheduler_state_from_list(to_doubles(tensor));
  }
  return p;
}

}  // namespace mip
