// Tells a model that writes files of its own beside the trainer's
// checkpoints (mip::sdk::CheckpointListener: MAES's encoder) that one was
// written; the run loop names neither the listener nor this observer.
#include <filesystem>

#include <mip/core/observer.hpp>
#include <mip/core/run.hpp>
#include <mip/sdk/checkpoint_listener.hpp>
#include <mip/sdk/model.hpp>

namespace mip {

namespace {

class ModelCheckpointObserver final : public RunObserver {
 public:
  explicit ModelCheckpointObserver(const Run& run) : run_(run) {}

  void checkpoint_written(const CheckpointWritten& e) override {
    // Asked at each checkpoint: the model is built after the observers.
    auto* listener = dynamic_cast<sdk::CheckpointListener*>(&run_.model());
    if (listener == nullptr)
      return;
    listener->checkpoint_saved(
        {e.path, std::filesystem::path(e.path).parent_path().string(), e.best,
         e.episode});
  }

 private:
  const Run& run_;
};

// Before the status and the console (order 10 and up): a listener's failure
// is the checkpoint's failure, as the trainer reports it.
const ObserverRegistration kModelCheckpoint{
    5, "model-checkpoint", [](const Run& run, Observers&) {
      return std::make_unique<ModelCheckpointObserver>(run);
    }};

}  // namespace

}  // namespace mip
