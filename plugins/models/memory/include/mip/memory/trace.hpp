// What a memory model did at each step of its last forward (memory contents,
// attentions, states), kept for visualisation when asked for.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <mip/sdk/data.hpp>
#include <string>
#include <vector>

namespace mip::memory {

/// Named tensors recorded at each step, stacked on dimension 1 ([B, T, ...])
/// and detached at the end of the forward. Off by default: record() then
/// does nothing and the forward keeps nothing.
/// Example:
///   trace_.begin();
///   for (...) { ...; trace_.record("memory", memory); }
///   trace_.finish(out);  // out["memory"]: [B, T, A, C] when on
class StepTrace {
 public:
  bool on() const { return on_; }
  void set_on(bool on) { on_ = on; }
  /// Forgets the previous forward.
  void begin() {
    steps_.clear();
    last_ = mip::sdk::DataDict();
  }
  /// Keeps `step` ([B, ...]) as the next step of `name`, when on.
  void record(const std::string& name, const at::Tensor& step) {
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
  std::map<std::string, std::vector<at::Tensor>> steps_;
  mip::sdk::DataDict last_;
};

}  // namespace mip::memory
