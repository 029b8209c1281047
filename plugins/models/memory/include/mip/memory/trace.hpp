// What a memory model did at each step of its last forward (memory contents,
// attentions, states), kept for visualisation when asked for.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <mip/sdk/data.hpp>
#include <mip/sdk/visualization.hpp>
#include <string>
#include <vector>

namespace mip::memory {

/// Named tensors recorded at each step, stacked on dimension 1 ([B, T, ...])
/// and detached at the end of the forward; and published, step by step, to
/// the host's recorder when it records this forward (--visualize). Off by
/// default: record() then does nothing and the forward keeps nothing.
/// Example:
///   trace_.begin(step_recorder());
///   for (...) { ...; trace_.record("memory", memory); }
///   trace_.finish(out);  // out["memory"]: [B, T, A, C] when on
class StepTrace {
 public:
  /// Whether record() does anything in this forward.
  bool on() const { return on_ || recorder_ != nullptr; }
  void set_on(bool on) { on_ = on; }
  /// Forgets the previous forward; `recorder` (or nullptr) gets this one's
  /// steps.
  void begin(mip::sdk::StepRecorder* recorder = nullptr) {
    steps_.clear();
    last_ = mip::sdk::DataDict();
    recorder_ = recorder;
  }
  /// Keeps `step` ([B, ...]) as the next step of `name`, when on, and
  /// publishes it to the recorder, when there is one.
  void record(const std::string& name, const at::Tensor& step) {
    if (recorder_)
      recorder_->publish(name, step);
    if (on_)
      steps_[name].push_back(step.detach());
  }
  /// Stacks what was recorded, keeps it and adds it to `out`.
  void finish(mip::sdk::DataDict& out) {
    for (const auto& [name, steps] : steps_)
      out[name] = last_[name] = at::stack(steps, 1);
    steps_.clear();
  }
  /// What the last forward recorded (empty when off).
  const mip::sdk::DataDict& tensors() const { return last_; }

 private:
  bool on_ = false;
  mip::sdk::StepRecorder* recorder_ = nullptr;
  std::map<std::string, std::vector<at::Tensor>> steps_;
  mip::sdk::DataDict last_;
};

}  // namespace mip::memory
