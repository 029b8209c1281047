// Memory addressing shared by the memory-augmented models, vectorised over
// the batch and the heads: no per-sample loop, no host synchronisation.
//
// Shapes: B batch, H heads, A memory addresses, C content bits, S shift size.
//   memory   [B, A, C]
//   weights  [B, H, A]   (attention of each head over the addresses)
//   keys     [B, H, C]
//   scalars  [B, H, 1]   (key strength, gate, sharpening factor)
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace mip::memory {

/// Cosine similarity of each head's key with each address: [B, H, A].
/// Each norm is clamped at `eps` before dividing (as F.normalize does, which
/// MI-Prometheus's models use): a zero key or address gives similarity 0.
at::Tensor cosine_similarity(const at::Tensor& keys,
                             const at::Tensor& memory,
                             double eps = 1e-12);

/// Content addressing: softmax over addresses of beta * cosine similarity.
at::Tensor content_weights(const at::Tensor& keys,
                           const at::Tensor& beta,
                           const at::Tensor& memory);

/// Interpolation gate: g * content + (1 - g) * previous.
at::Tensor interpolate(const at::Tensor& content,
                       const at::Tensor& previous,
                       const at::Tensor& gate);

/// Circular convolution of the weights with a soft shift [B, H, S] (S odd),
/// in MI-Prometheus's orientation (NTM, DNC and DWM alike: a conv1d over the
/// wrapped weights): shift entry j moves attention by S/2 - j addresses
/// (entry 0 forward, the last entry backward), wrapping around the memory:
///   out[a] = sum_j shift[j] * w[(a + j - S/2) mod A].
/// Any A >= 1 works, also A < S.
at::Tensor circular_shift(const at::Tensor& weights, const at::Tensor& shift);

/// The gather index circular_shift uses for A addresses and shift size S,
/// flattened [S * A] (entry j * A + a is (a + j - S/2) mod A); a model that
/// shifts at every step computes it once per sequence.
at::Tensor circular_shift_index(int64_t num_addresses,
                                int64_t shift_size,
                                const at::Device& device);

/// circular_shift with an index from circular_shift_index.
at::Tensor circular_shift(const at::Tensor& weights,
                          const at::Tensor& shift,
                          const at::Tensor& index);

/// Sharpening: w^gamma normalised over the addresses (`eps` avoids 0/0).
at::Tensor sharpen(const at::Tensor& weights,
                   const at::Tensor& gamma,
                   double eps = 1e-12);

/// Read vectors: sum over addresses of weight * content, [B, H, C].
at::Tensor read_memory(const at::Tensor& weights, const at::Tensor& memory);

/// NTM write: every head erases then adds,
///   M' = M * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T,
/// with erase and add vectors [B, H, C] (erase in [0, 1]).
at::Tensor erase_and_add(const at::Tensor& memory,
                         const at::Tensor& weights,
                         const at::Tensor& erase,
                         const at::Tensor& add);

}  // namespace mip::memory
