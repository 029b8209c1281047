// The DNC's own addressing (Graves et al. 2016, as MI-Prometheus's models/dnc
// and DeepMind's dnc/addressing.py compute it): memory usage, the allocation
// weighting from sorted usage, the temporal link matrix and its precedence,
// and the read weighting mixing content with the links' forward and backward
// directions. Vectorised over the batch and the heads: no per-sample loop, no
// host synchronisation.
//
// Shapes: B batch, R read heads, W write heads, A memory addresses.
//   usage        [B, A]
//   read         [B, R, A]       write [B, W, A]
//   link         [B, W, A, A]    link[b, w, i, j]: address i written after j
//   precedence   [B, W, A]
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace mip::dnc {

/// The product over the heads (dim 1) of `x` [B, H, ...], unrolled: with one
/// head a view; never at::prod, whose backward counts zeros on the host (a
/// synchronisation per step).
inline at::Tensor prod_heads(const at::Tensor& x) {
  at::Tensor p = x.select(1, 0);
  for (int64_t h = 1; h < x.size(1); ++h) {
    p = p * x.select(1, h);
  }
  return p;
}

/// u_t = (u + (1 - u) * (1 - prod_w (1 - write_w))) * prod_r (1 - f_r read_r):
/// usage rises where the previous step wrote and falls where it read with a
/// free gate `free_gate` [B, R, 1]. No gradient flows into `prev_write`.
inline at::Tensor update_usage(const at::Tensor& prev_usage,
                               const at::Tensor& prev_write,
                               const at::Tensor& free_gate,
                               const at::Tensor& prev_read) {
  // As DeepMind's Freeness: the write weights' part is not differentiated
  // (MI-Prometheus left the whole update out of the graph, so its free gates
  // never learned).
  const at::Tensor w = prev_write.detach();
  const at::Tensor written =
      w.size(1) == 1 ? w.select(1, 0) : 1 - prod_heads(1 - w);
  const at::Tensor after_write =
      at::addcmul(prev_usage, 1 - prev_usage, written);
  return after_write * prod_heads(1 - free_gate * prev_read);
}

/// The allocation weighting of one write head: with u' = eps + (1 - eps) u
/// sorted ascending (eps = 1e-6), the k-th least used address gets
/// (1 - u'_k) * prod_{i<k} u'_i; [B, A] -> [B, A].
inline at::Tensor allocation(const at::Tensor& usage) {
  constexpr double kEps = 1e-6;  // keeps the products away from 0
  const at::Tensor u = kEps + (1 - kEps) * usage;
  // A stable sort, so that equal usages are taken in address order.
  auto sorted = at::sort(u, /*stable=*/true, /*dim=*/-1, /*descending=*/false);
  const at::Tensor& ascending = std::get<0>(sorted);
  const at::Tensor& order = std::get<1>(sorted);
  // Exclusive cumulative product 1, u_0, u_0 u_1, ... as the exponential of
  // a cumulative sum of logarithms (u >= eps): cumprod's backward checks for
  // zeros on the host at every step.
  const int64_t a = u.size(-1);
  const at::Tensor before = at::exp(
      at::constant_pad_nd(at::log(ascending.narrow(-1, 0, a - 1)), {1, 0}, 0.0)
          .cumsum(-1));
  const at::Tensor in_order = (1 - ascending) * before;
  return at::zeros_like(in_order).scatter(-1, order, in_order);
}

/// The allocation weightings of all write heads [B, W, A] by `allocate`
/// (allocation, or the fused one): head i allocates on the usage the heads
/// before it would leave, u += (1 - u) g_i a_i, with g_i its allocation gate
/// times its write gate (both [B, W, 1]).
template <typename Allocate>
at::Tensor write_allocation_by(const Allocate& allocate,
                               const at::Tensor& usage,
                               const at::Tensor& allocation_gates,
                               const at::Tensor& write_gates) {
  const int64_t heads = write_gates.size(1);
  if (heads == 1) {
    return allocate(usage).unsqueeze(1);
  }
  const at::Tensor gates = allocation_gates * write_gates;
  std::vector<at::Tensor> weights;
  at::Tensor u = usage;
  for (int64_t i = 0; i < heads; ++i) {
    weights.push_back(allocate(u));
    if (i + 1 < heads) {
      u = at::addcmul(u, 1 - u, gates.select(1, i) * weights.back());
    }
  }
  return at::stack(weights, 1);
}

/// write_allocation_by with allocation.
inline at::Tensor write_allocation(const at::Tensor& usage,
                                   const at::Tensor& allocation_gates,
                                   const at::Tensor& write_gates) {
  return write_allocation_by(allocation, usage, allocation_gates, write_gates);
}

/// The link matrix after a write `write` [B, W, A]:
///   L[i, j] = (1 - w_i - w_j) L[i, j] + w_i p_j, and 0 on the diagonal,
/// with `prev_precedence` p; `off_diagonal` is 1 - eye(A).
inline at::Tensor update_link(const at::Tensor& prev_link,
                              const at::Tensor& prev_precedence,
                              const at::Tensor& write,
                              const at::Tensor& off_diagonal) {
  const at::Tensor wi = write.unsqueeze(3), wj = write.unsqueeze(2);
  const at::Tensor link =
      at::addcmul((1 - wi - wj) * prev_link, wi, prev_precedence.unsqueeze(2));
  return link * off_diagonal;
}

/// p = (1 - sum_a w_a) p + w: the last write locations, per write head.
inline at::Tensor update_precedence(const at::Tensor& prev_precedence,
                                    const at::Tensor& write) {
  return at::addcmul(write, 1 - write.sum(2, /*keepdim=*/true),
                     prev_precedence);
}

/// Following the links from the previous read weighting `prev_read`:
/// forward f[b, r, w, i] = sum_j L[b, w, i, j] r[b, r, j], what was written
/// after what was read; [B, R, W, A].
// On the CPU a broadcast multiply and sum beats a batched matmul at these
// sizes; on accelerators matmul.
inline at::Tensor forward_weights(const at::Tensor& link,
                                  const at::Tensor& prev_read) {
  if (link.is_cuda()) {
    return at::matmul(link.unsqueeze(1), prev_read.unsqueeze(2).unsqueeze(-1))
        .squeeze(-1);
  }
  return (link.unsqueeze(1) * prev_read.unsqueeze(2).unsqueeze(3)).sum(-1);
}

/// Backward: b[b, r, w, i] = sum_j L[b, w, j, i] r[b, r, j], what was written
/// before what was read; [B, R, W, A].
inline at::Tensor backward_weights(const at::Tensor& link,
                                   const at::Tensor& prev_read) {
  if (link.is_cuda()) {
    return at::matmul(link.transpose(-1, -2).unsqueeze(1),
                      prev_read.unsqueeze(2).unsqueeze(-1))
        .squeeze(-1);
  }
  return (link.unsqueeze(1) * prev_read.unsqueeze(2).unsqueeze(-1)).sum(-2);
}

/// The read weighting: with the read mode [B, R, 2W + 1] ordered as
/// (backward per write head, forward per write head, content),
///   r = mode_c * content + sum_w mode_f,w f_w + sum_w mode_b,w b_w.
inline at::Tensor read_weights(const at::Tensor& content,
                               const at::Tensor& forward,
                               const at::Tensor& backward,
                               const at::Tensor& read_mode) {
  const int64_t w = forward.size(2);
  const std::vector<at::Tensor> mode = read_mode.split_with_sizes({w, w, 1}, 2);
  const at::Tensor mixed = mode[2] * content;
  if (w == 1) {
    // One write head: fused multiply-adds, no sums over the heads.
    return at::addcmul(at::addcmul(mixed, mode[1], forward.squeeze(2)), mode[0],
                       backward.squeeze(2));
  }
  return mixed + (mode[1].unsqueeze(3) * forward).sum(2) +
         (mode[0].unsqueeze(3) * backward).sum(2);
}

}  // namespace mip::dnc
