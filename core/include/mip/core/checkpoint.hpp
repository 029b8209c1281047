#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace at {
class Tensor;
}
namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace mip {

/// What a checkpoint records beside the weights.
struct CheckpointMeta {
  std::string model_name;
  std::string problem_name;
  int64_t episode = 0;
  int64_t epoch = 0;
  double loss = 0.0;   ///< validation loss the checkpoint was saved on
  std::string status;  ///< MI-Prometheus's status string
  std::string timestamp;
  double best_loss = 0.0;
  int64_t best_episode = -1;
  std::map<std::string, std::string> training_stats;    ///< formatted values
  std::map<std::string, std::string> validation_stats;  ///< formatted values
  // The run's identity (format 2; empty in checkpoints of 0.1.0):
  std::string run_id;          ///< written at the folder's creation
  std::string config_digest;   ///< of training_configuration.yaml as saved
  std::string worker;          ///< the trainer that wrote it
  int64_t format_version = 0;  ///< as read (1: 0.1.0, no checksum, no id)
};

/// Named tensors stored beside the weights (the state a resume needs).
using CheckpointExtra = std::map<std::string, at::Tensor>;

/// Saves weights, optimizer state (when given), `extra` and `meta` to `path`
/// atomically (temporary file, then rename). The file is a 24-byte header
/// (magic, length and CRC-32 of what follows) and LibTorch's archive.
void save_checkpoint(const std::string& path,
                     const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta,
                     const CheckpointExtra* extra = nullptr);

/// Loads `path` into `model` (and `optimizer`, `extra` when given); throws
/// mip::DataError naming the file when it is truncated, damaged (checksum),
/// foreign or does not match the model. The checksum is verified before
/// LibTorch reads a byte; checkpoints of 0.1.0 (no header) load unverified.
CheckpointMeta load_checkpoint(const std::string& path,
                               torch::nn::Module& model,
                               torch::optim::Optimizer* optimizer = nullptr,
                               CheckpointExtra* extra = nullptr);

/// The model's parameters and buffers in a checkpoint, by their full names
/// ("layer.weight"), in the order stored; what Python's torch.jit.load sees
/// as the `model` submodule's state_dict (docs/interop.md).
std::vector<std::pair<std::string, at::Tensor>> checkpoint_weights(
    const std::string& path);

/// A digest (hex) of the model weights in a checkpoint: equal digests mean
/// bit-identical weights.
std::string checkpoint_digest(const std::string& path);

/// Reads only the metadata of a checkpoint.
CheckpointMeta read_checkpoint_meta(const std::string& path);

}  // namespace mip
