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
/// `eps` keeps a zero key or address finite (similarity 0).
at::Tensor cosine_similarity(const at::Tensor& keys,
                             const at::Tensor& memory,
                             double eps = 1e-8);

/// Content addressing: softmax over addresses of beta * cosine similarity.
at::Tensor content_weights(const at::Tensor& keys,
                           const at::Tensor& beta,
                           const at::Tensor& memory);

/// Interpolation gate: g * content + (1 - g) * previous.
at::Tensor interpolate(const at::Tensor& content,
                       const at::Tensor& previous,
                       const at::Tensor& gate);

/// Circular convolution of the weights with a soft shift [B, H, S] (S odd):
/// shift entry j moves attention by j - S/2 addresses, forward for a positive
/// offset, wrapping around the memory:
///   out[a] = sum_j shift[j] * w[(a - (j - S/2)) mod A].
at::Tensor circular_shift(const at::Tensor& weights, const at::Tensor& shift);

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
