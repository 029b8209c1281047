#include <ATen/ATen.h>

#include <mip/memory/addressing.hpp>
#include <mip/sdk/error.hpp>

namespace mip::memory {

at::Tensor cosine_similarity(const at::Tensor& keys,
                             const at::Tensor& memory,
                             double eps) {
  // [B, H, 1, C] . [B, 1, A, C] summed over C: a broadcast multiply, which on
  // the CPU beats a batched matmul at these sizes; matmul on accelerators.
  at::Tensor dots = keys.is_cuda()
                        ? at::matmul(keys, memory.transpose(1, 2))
                        : (keys.unsqueeze(2) * memory.unsqueeze(1)).sum(-1);
  at::Tensor norms =
      keys.norm(2, -1, /*keepdim=*/true) * memory.norm(2, -1).unsqueeze(1);
  return dots / norms.clamp_min(eps);
}

at::Tensor content_weights(const at::Tensor& keys,
                           const at::Tensor& beta,
                           const at::Tensor& memory) {
  return at::softmax(beta * memory::cosine_similarity(keys, memory), -1);
}

at::Tensor interpolate(const at::Tensor& content,
                       const at::Tensor& previous,
                       const at::Tensor& gate) {
  // One op (and one backward node) for previous + gate * (content - previous).
  return at::lerp(previous, content, gate);
}

at::Tensor circular_shift(const at::Tensor& weights, const at::Tensor& shift) {
  const int64_t a = weights.size(-1), s = shift.size(-1);
  MIP_CHECK(s % 2 == 1, mip::ParameterError,
            "circular_shift: the shift size must be odd (a centred kernel), "
            "got ",
            s);
  // idx[j, i] = (i - (j - s/2)) mod a: the address that lands on i.
  auto opts = at::TensorOptions().dtype(at::kLong).device(weights.device());
  at::Tensor offsets = at::arange(s, opts) - s / 2;
  at::Tensor idx =
      at::remainder(at::arange(a, opts).unsqueeze(0) - offsets.unsqueeze(1), a);
  auto sizes = weights.sizes().vec();
  sizes.insert(sizes.end() - 1, s);
  at::Tensor gathered = weights.index_select(-1, idx.flatten()).view(sizes);
  return (gathered * shift.unsqueeze(-1)).sum(-2);
}

at::Tensor sharpen(const at::Tensor& weights,
                   const at::Tensor& gamma,
                   double eps) {
  at::Tensor p = at::pow(weights + eps, gamma);
  return p / p.sum(-1, /*keepdim=*/true);
}

at::Tensor read_memory(const at::Tensor& weights, const at::Tensor& memory) {
  if (weights.is_cuda()) {
    return at::matmul(weights, memory);
  }
  return (weights.unsqueeze(-1) * memory.unsqueeze(1)).sum(2);
}

at::Tensor erase_and_add(const at::Tensor& memory,
                         const at::Tensor& weights,
                         const at::Tensor& erase,
                         const at::Tensor& add) {
  if (weights.size(1) == 1) {
    // One head: no product or sum over the heads (reductions cost more than
    // the rest of the write at these sizes).
    const at::Tensor w = weights.squeeze(1).unsqueeze(-1);  // [B, A, 1]
    return at::addcmul(memory * (1 - w * erase), w, add);
  }
  // Outer products per head: [B, H, A, C]. The product over the heads is
  // taken head by head: prod()'s backward reads a count of zeros back to the
  // host (a synchronisation per step).
  at::Tensor w = weights.unsqueeze(-1);
  at::Tensor factors = 1 - w * erase.unsqueeze(2);
  at::Tensor keep = factors.select(1, 0);
  for (int64_t h = 1; h < factors.size(1); ++h) {
    keep = keep * factors.select(1, h);
  }
  at::Tensor added = (w * add.unsqueeze(2)).sum(1);
  return memory * keep + added;
}

}  // namespace mip::memory
