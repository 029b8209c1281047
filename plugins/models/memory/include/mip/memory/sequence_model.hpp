// The frame the memory models share: sequences [B, T, I] in, logits
// [B, T, O] out, and what each step did kept for visualisation.
#pragma once

#include <cstdint>
#include <mip/memory/trace.hpp>
#include <mip/sdk/error.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/param_view.hpp>

namespace mip::memory {

/// The integer `key` of `p`, which must be >= 1 (the error names the key).
inline int64_t positive(const mip::sdk::ParamView& p, const char* key) {
  const auto v = p.get<int64_t>(key);
  MIP_CHECK(v >= 1, mip::ParameterError, "[", p.path(), ".", key,
            "] must be >= 1, got ", v);
  return v;
}

/// A model reading `sequences` [B, T, input_size_] and writing
/// `predictions` [B, T, output_size_], with a StepTrace behind
/// memory_trace() that also publishes each step when the host records the
/// forward (begin it with trace_.begin(step_recorder())). The derived model
/// sets the sizes and fills the trace.
class SequenceMemoryModel : public mip::sdk::Model,
                            public mip::sdk::PublishesSteps {
 public:
  mip::sdk::DataDefinitions input_definitions() const override {
    return {
        {"sequences", {{-1, -1, input_size_}, at::kFloat, "inputs [B, T, I]"}}};
  }
  mip::sdk::DataDefinitions output_definitions() const override {
    return {{"predictions",
             {{-1, -1, output_size_}, at::kFloat, "logits [B, T, O]"}}};
  }
  /// What the last forward did at each step (named tensors [B, T, ...],
  /// detached; the model's page lists them); empty unless plot_memory or
  /// set_plot_memory(true) asked for it.
  const mip::sdk::DataDict& memory_trace() const { return trace_.tensors(); }
  void set_plot_memory(bool on) { trace_.set_on(on); }

 protected:
  int64_t input_size_ = 0, output_size_ = 0;
  StepTrace trace_;
};

}  // namespace mip::memory
