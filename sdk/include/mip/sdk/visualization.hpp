#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include <mip/sdk/error.hpp>

namespace mip::sdk {

/// What the host records of a forward (`--visualize`): each call hands it one
/// time step of a named tensor, batch first ([B, ...]). The recorder keeps a
/// copy of the samples it wants; the model keeps ownership of `step`.
class MIP_SDK_VISIBLE StepRecorder {
 public:
  virtual ~StepRecorder() = default;
  /// The next step of `name` (call it once per step, in step order).
  virtual void publish(const std::string& name, const at::Tensor& step) = 0;
};

/// Implemented, next to mip::sdk::Model, by a model that publishes named
/// tensors at each time step (memory, attention, gates). The host sets a
/// recorder before a forward it records and clears it after; otherwise
/// step_recorder() is nullptr and publishing costs one pointer test.
/// Example:
///   class MyRnn : public mip::sdk::Model, public mip::sdk::PublishesSteps {
///     DataDict forward(const DataDict& batch) override {
///       StepRecorder* rec = step_recorder();  // once per forward
///       for (int64_t t = 0; t < steps; ++t) {
///         ...;
///         if (rec) rec->publish("memory", memory);  // [B, A, C]
///       }
///     }
///   };
class MIP_SDK_VISIBLE PublishesSteps {
 public:
  virtual ~PublishesSteps() = default;
  /// Called by the host: the recorder of the coming forward, or nullptr.
  void set_step_recorder(StepRecorder* recorder) { recorder_ = recorder; }
  /// The recorder of this forward, or nullptr (nothing is being recorded).
  StepRecorder* step_recorder() const { return recorder_; }

 private:
  StepRecorder* recorder_ = nullptr;
};

}  // namespace mip::sdk
