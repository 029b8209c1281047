// What a memory-augmented model did at each step of its last forward, kept
// for visualisation (MI-Prometheus's plots of memory and attention) when the
// host asks for it. Off by default: a model that is not asked keeps nothing.
#pragma once

#include <ATen/core/Tensor.h>

namespace mip::memory {

/// The last forward's memory and attention, detached, one entry per step.
struct MemoryTrace {
  at::Tensor memory;         ///< memory after each step [B, T, A, C]
  at::Tensor read_weights;   ///< read heads' weightings [B, T, Hr, A]
  at::Tensor write_weights;  ///< write heads' weightings [B, T, Hw, A]
};

/// Implemented by the memory models next to mip::sdk::Model; a host reaches
/// it with dynamic_cast from the model it loaded.
/// Example:
///   if (auto* t = dynamic_cast<mip::memory::TracesMemory*>(model.get()))
///     t->set_memory_tracing(true);
class __attribute__((visibility("default"))) TracesMemory {
 public:
  virtual ~TracesMemory() = default;
  /// Whether forward() keeps a MemoryTrace (off unless asked).
  virtual void set_memory_tracing(bool on) = 0;
  /// The trace of the last forward (undefined tensors when tracing is off).
  virtual const MemoryTrace& memory_trace() const = 0;
};

}  // namespace mip::memory
