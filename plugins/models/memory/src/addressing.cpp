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
  at::Tensor norms = keys.norm(2, -1, /*keepdim=*/true).clamp_min(eps) *
                     memory.norm(2, -1).clamp_min(eps).unsqueeze(1);
  return dots / norms;
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

at::Tensor circular_shift_index(int64_t num_addresses,
                                int64_t shift_size,
                                const at::Device& device) {
  MIP_CHECK(shift_size % 2 == 1, mip::ParameterError,
            "circular_shift: the shift size must be odd (a centred kernel), "
            "got ",
            shift_size);
  MIP_CHECK(num_addresses >= 1, mip::ParameterError,
            "circular_shift: the memory needs at least one address, got ",
            num_addresses);
  // idx[j, a] = (a + j - s/2) mod A: the address whose weight entry j
  // carries to a.
  auto opts = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor offsets = at::arange(shift_size, opts) - shift_size / 2;
  return at::remainder(at::arange(num_addresses, opts).unsqueeze(0) +
                           offsets.unsqueeze(1),
                       num_addresses)
      .flatten();
}

at::Tensor circular_shift(const at::Tensor& weights,
                          const at::Tensor& shift,
                          const at::Tensor& index) {
  auto sizes = weights.sizes().vec();
  sizes.insert(sizes.end() - 1, shift.size(-1));
  at::Tensor gathered = weights.index_select(-1, index).view(sizes);
  return (gathered * shift.unsqueeze(-1)).sum(-2);
}

at::Tensor circular_shift(const at::Tensor& weights, const at::Tensor& shift) {
  return circular_shift(
      weights, shift,
      circular_shift_index(weights.size(-1), shift.size(-1), weights.device()));
}

at::Tensor sharpen(const at::Tensor& weights,
                   const at::Tensor& gamma,
                   double eps) {
  // (w + eps)^gamma as exp(gamma log(w + eps)): the same values, and a
  // backward several times cheaper than pow's with a tensor exponent.
  at::Tensor p = at::exp(gamma * at::log(weights + eps));
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
  // Outer products per head: [B, H, A, C]. The product over the heads is
  // unrolled: at::prod's backward counts zeros on the host (a
  // synchronisation per step) and costs more than H - 1 multiplies.
  at::Tensor w = weights.unsqueeze(-1);
  at::Tensor erased = w * erase.unsqueeze(2);
  at::Tensor keep = 1 - erased.select(1, 0);
  for (int64_t h = 1; h < erased.size(1); ++h) {
    keep = keep * (1 - erased.select(1, h));
  }
  at::Tensor added = weights.size(1) == 1
                         ? w.select(1, 0) * add.select(1, 0).unsqueeze(1)
                         : (w * add.unsqueeze(2)).sum(1);
  return memory * keep + added;
}

}  // namespace mip::memory
