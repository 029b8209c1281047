#pragma once

#include <cstdint>
#include <string>

#include <mip/sdk/error.hpp>

namespace mip::sdk {

/// A checkpoint the trainer has just written (after its file is in place).
struct CheckpointSaved {
  std::string path;           ///< the checkpoint file
  std::string models_folder;  ///< the experiment's models/ folder
  bool best = false;          ///< model_best.pt (else model_last.pt)
  int64_t episode = 0;        ///< the episode it was saved at
};

/// Implemented, next to mip::sdk::Model, by a model that writes files of its
/// own beside the trainer's checkpoints (MAES's encoder); the trainer reaches
/// it with dynamic_cast. A model that does not implement it is unaffected.
/// Example:
///   class Maes : public mip::sdk::Model, public mip::sdk::CheckpointListener {
///     void checkpoint_saved(const mip::sdk::CheckpointSaved& c) override;
///   };
class MIP_SDK_VISIBLE CheckpointListener {
 public:
  virtual ~CheckpointListener() = default;
  /// Called after each checkpoint of the model is written.
  virtual void checkpoint_saved(const CheckpointSaved& saved) = 0;
};

}  // namespace mip::sdk
