// The DNC's memory step on the CPU as a few fused autograd functions, each
// with a written-out backward: the same equations as dnc_addressing.hpp and
// mip::memory's content weighting, computed by plain loops over the batch's
// numbers. At the DNC's sizes (tens of addresses) a step of the composite
// ATen version is about a hundred small ops, each costing more in dispatch and
// autograd bookkeeping than in arithmetic; here each function is one autograd
// node and a loop that touches each number a few times. No host
// synchronisation: the loops run where the data already is, on the host.
//
// CPU only, float or double, any strides; the model uses these on the CPU and
// the composite versions elsewhere (tests/integration/dnc_test.cpp checks
// values and gradients of both against each other in double precision).
//
// Shapes: B batch, R read heads, W write heads, A addresses, C content bits,
// H heads of either kind.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>
#include <vector>

#include "dnc_addressing.hpp"

namespace mip::dnc::fused {
namespace detail {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

inline void check_cpu(const char* what, const variable_list& tensors) {
  for (const at::Tensor& t : tensors) {
    TORCH_CHECK(t.device().is_cpu(), "mip::dnc::fused::", what,
                " runs on the CPU; got a tensor on ", t.device(),
                " (use the composite functions of dnc_addressing.hpp there)");
    TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble,
                "mip::dnc::fused::", what,
                " takes float or double tensors; got ", t.scalar_type());
    TORCH_CHECK(t.scalar_type() == tensors[0].scalar_type(),
                "mip::dnc::fused::", what, ": mixed dtypes ", t.scalar_type(),
                " and ", tensors[0].scalar_type());
  }
}

// --- content weighting ------------------------------------------------------

constexpr double kNormEps = 1e-12;  // as mip::memory::cosine_similarity

struct ContentWeights : public torch::autograd::Function<ContentWeights> {
  static at::Tensor forward(AutogradContext* ctx,
                            const at::Tensor& keys,
                            const at::Tensor& beta,
                            const at::Tensor& memory) {
    const int64_t b_n = keys.size(0), h_n = keys.size(1), c_n = keys.size(2),
                  a_n = memory.size(1);
    at::Tensor out = at::empty({b_n, h_n, a_n}, keys.options());
    at::Tensor cosine = at::empty({b_n, h_n, a_n}, keys.options());
    at::Tensor key_norm = at::empty({b_n, h_n}, keys.options());
    at::Tensor row_norm = at::empty({b_n, a_n}, keys.options());
    AT_DISPATCH_FLOATING_TYPES(keys.scalar_type(), "dnc_content", [&] {
      const auto k = keys.accessor<scalar_t, 3>();
      const auto bt = beta.accessor<scalar_t, 3>();
      const auto m = memory.accessor<scalar_t, 3>();
      auto o = out.accessor<scalar_t, 3>();
      auto cs = cosine.accessor<scalar_t, 3>();
      auto kn = key_norm.accessor<scalar_t, 2>();
      auto mn = row_norm.accessor<scalar_t, 2>();
      for (int64_t b = 0; b < b_n; ++b) {
        for (int64_t a = 0; a < a_n; ++a) {
          scalar_t s = 0;
          for (int64_t c = 0; c < c_n; ++c) {
            s += m[b][a][c] * m[b][a][c];
          }
          mn[b][a] = std::sqrt(s);
        }
        for (int64_t h = 0; h < h_n; ++h) {
          scalar_t s = 0;
          for (int64_t c = 0; c < c_n; ++c) {
            s += k[b][h][c] * k[b][h][c];
          }
          kn[b][h] = std::sqrt(s);
          const scalar_t nk = std::max<scalar_t>(kn[b][h], kNormEps);
          scalar_t top = -std::numeric_limits<scalar_t>::infinity();
          for (int64_t a = 0; a < a_n; ++a) {
            scalar_t dot = 0;
            for (int64_t c = 0; c < c_n; ++c) {
              dot += k[b][h][c] * m[b][a][c];
            }
            cs[b][h][a] = dot / (nk * std::max<scalar_t>(mn[b][a], kNormEps));
            o[b][h][a] = bt[b][h][0] * cs[b][h][a];
            top = std::max(top, o[b][h][a]);
          }
          scalar_t total = 0;
          for (int64_t a = 0; a < a_n; ++a) {
            o[b][h][a] = std::exp(o[b][h][a] - top);
            total += o[b][h][a];
          }
          for (int64_t a = 0; a < a_n; ++a) {
            o[b][h][a] /= total;
          }
        }
      }
    });
    ctx->save_for_backward(
        {keys, beta, memory, out, cosine, key_norm, row_norm});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &keys = saved[0], &beta = saved[1], &memory = saved[2];
    const int64_t b_n = keys.size(0), h_n = keys.size(1), c_n = keys.size(2),
                  a_n = memory.size(1);
    at::Tensor g_keys = at::zeros_like(keys, at::MemoryFormat::Contiguous);
    at::Tensor g_beta = at::empty({b_n, h_n, 1}, keys.options());
    at::Tensor g_memory = at::zeros_like(memory, at::MemoryFormat::Contiguous);
    AT_DISPATCH_FLOATING_TYPES(keys.scalar_type(), "dnc_content_backward", [&] {
      const auto k = keys.accessor<scalar_t, 3>();
      const auto bt = beta.accessor<scalar_t, 3>();
      const auto m = memory.accessor<scalar_t, 3>();
      const auto w = saved[3].accessor<scalar_t, 3>();
      const auto cs = saved[4].accessor<scalar_t, 3>();
      const auto kn = saved[5].accessor<scalar_t, 2>();
      const auto mn = saved[6].accessor<scalar_t, 2>();
      const auto g = grads[0].accessor<scalar_t, 3>();
      auto gk = g_keys.accessor<scalar_t, 3>();
      auto gb = g_beta.accessor<scalar_t, 3>();
      auto gm = g_memory.accessor<scalar_t, 3>();
      std::vector<scalar_t> g_cos(static_cast<size_t>(a_n)),
          g_row_norm(static_cast<size_t>(a_n));
      for (int64_t b = 0; b < b_n; ++b) {
        std::fill(g_row_norm.begin(), g_row_norm.end(), scalar_t(0));
        for (int64_t h = 0; h < h_n; ++h) {
          // Softmax, then the strength: d/ds = w (g - sum g w).
          scalar_t gw = 0;
          for (int64_t a = 0; a < a_n; ++a) {
            gw += g[b][h][a] * w[b][h][a];
          }
          scalar_t g_strength = 0, g_key_norm = 0;
          const scalar_t nk = std::max<scalar_t>(kn[b][h], kNormEps);
          for (int64_t a = 0; a < a_n; ++a) {
            const scalar_t gs = w[b][h][a] * (g[b][h][a] - gw);
            g_strength += gs * cs[b][h][a];
            g_cos[a] = gs * bt[b][h][0];
            // cos = dot / (|k| |m_a|), each norm clamped at eps.
            const scalar_t t = g_cos[a] * cs[b][h][a];
            g_key_norm -= t / nk;
            g_row_norm[a] -= t / std::max<scalar_t>(mn[b][a], kNormEps);
            const scalar_t g_dot =
                g_cos[a] / (nk * std::max<scalar_t>(mn[b][a], kNormEps));
            for (int64_t c = 0; c < c_n; ++c) {
              gk[b][h][c] += g_dot * m[b][a][c];
              gm[b][a][c] += g_dot * k[b][h][c];
            }
          }
          gb[b][h][0] = g_strength;
          // A clamped norm passes no gradient, nor does the norm of zero.
          if (kn[b][h] >= kNormEps) {
            for (int64_t c = 0; c < c_n; ++c) {
              gk[b][h][c] += g_key_norm * k[b][h][c] / kn[b][h];
            }
          }
        }
        for (int64_t a = 0; a < a_n; ++a) {
          if (mn[b][a] >= kNormEps) {
            for (int64_t c = 0; c < c_n; ++c) {
              gm[b][a][c] += g_row_norm[a] * m[b][a][c] / mn[b][a];
            }
          }
        }
      }
    });
    return {g_keys, g_beta, g_memory};
  }
};

// --- usage --------------------------------------------------------------

struct Usage : public torch::autograd::Function<Usage> {
  // prev_write is not differentiated (as update_usage detaches it).
  static at::Tensor forward(AutogradContext* ctx,
                            const at::Tensor& prev_usage,
                            const at::Tensor& prev_write,
                            const at::Tensor& free_gate,
                            const at::Tensor& prev_read) {
    const int64_t b_n = prev_usage.size(0), a_n = prev_usage.size(1),
                  w_n = prev_write.size(1), r_n = prev_read.size(1);
    at::Tensor out = at::empty({b_n, a_n}, prev_usage.options());
    // The usage after the write, kept for the backward.
    at::Tensor after = at::empty({b_n, a_n}, prev_usage.options());
    AT_DISPATCH_FLOATING_TYPES(prev_usage.scalar_type(), "dnc_usage", [&] {
      const auto u = prev_usage.accessor<scalar_t, 2>();
      const auto wr = prev_write.accessor<scalar_t, 3>();
      const auto f = free_gate.accessor<scalar_t, 3>();
      const auto rd = prev_read.accessor<scalar_t, 3>();
      auto o = out.accessor<scalar_t, 2>();
      auto af = after.accessor<scalar_t, 2>();
      for (int64_t b = 0; b < b_n; ++b) {
        for (int64_t a = 0; a < a_n; ++a) {
          scalar_t unwritten = 1;
          for (int64_t w = 0; w < w_n; ++w) {
            unwritten *= 1 - wr[b][w][a];
          }
          af[b][a] = u[b][a] + (1 - u[b][a]) * (1 - unwritten);
          scalar_t keep = 1;
          for (int64_t r = 0; r < r_n; ++r) {
            keep *= 1 - f[b][r][0] * rd[b][r][a];
          }
          o[b][a] = af[b][a] * keep;
        }
      }
    });
    ctx->save_for_backward(
        {prev_usage, prev_write, free_gate, prev_read, after});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    const at::Tensor &prev_usage = s[0], &prev_write = s[1], &free_gate = s[2],
                     &prev_read = s[3];
    const int64_t b_n = prev_usage.size(0), a_n = prev_usage.size(1),
                  w_n = prev_write.size(1), r_n = prev_read.size(1);
    at::Tensor g_usage = at::empty({b_n, a_n}, prev_usage.options());
    at::Tensor g_free = at::empty({b_n, r_n, 1}, prev_usage.options());
    at::Tensor g_read = at::empty({b_n, r_n, a_n}, prev_usage.options());
    AT_DISPATCH_FLOATING_TYPES(prev_usage.scalar_type(), "dnc_usage_bwd", [&] {
      const auto wr = prev_write.accessor<scalar_t, 3>();
      const auto f = free_gate.accessor<scalar_t, 3>();
      const auto rd = prev_read.accessor<scalar_t, 3>();
      const auto af = s[4].accessor<scalar_t, 2>();
      const auto g = grads[0].accessor<scalar_t, 2>();
      auto gu = g_usage.accessor<scalar_t, 2>();
      auto gf = g_free.accessor<scalar_t, 3>();
      auto gr = g_read.accessor<scalar_t, 3>();
      for (int64_t b = 0; b < b_n; ++b) {
        for (int64_t r = 0; r < r_n; ++r) {
          gf[b][r][0] = 0;
        }
        for (int64_t a = 0; a < a_n; ++a) {
          scalar_t unwritten = 1, keep = 1;
          for (int64_t w = 0; w < w_n; ++w) {
            unwritten *= 1 - wr[b][w][a];
          }
          for (int64_t r = 0; r < r_n; ++r) {
            keep *= 1 - f[b][r][0] * rd[b][r][a];
          }
          // d/du (u + (1 - u) x) = 1 - x = the product of (1 - w).
          gu[b][a] = g[b][a] * keep * unwritten;
          for (int64_t r = 0; r < r_n; ++r) {
            scalar_t others = 1;  // the other read heads' factors
            for (int64_t q = 0; q < r_n; ++q) {
              if (q != r) {
                others *= 1 - f[b][q][0] * rd[b][q][a];
              }
            }
            const scalar_t t = -g[b][a] * af[b][a] * others;
            gf[b][r][0] += t * rd[b][r][a];
            gr[b][r][a] = t * f[b][r][0];
          }
        }
      }
    });
    return {g_usage, at::Tensor(), g_free, g_read};
  }
};

// --- allocation ---------------------------------------------------------

constexpr double kUsageEps = 1e-6;  // as allocation() in dnc_addressing.hpp

struct Allocation : public torch::autograd::Function<Allocation> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& usage) {
    const int64_t b_n = usage.size(0), a_n = usage.size(1);
    at::Tensor out = at::empty({b_n, a_n}, usage.options());
    at::Tensor order = at::empty({b_n, a_n}, usage.options().dtype(at::kLong));
    AT_DISPATCH_FLOATING_TYPES(usage.scalar_type(), "dnc_allocation", [&] {
      const auto u = usage.accessor<scalar_t, 2>();
      auto o = out.accessor<scalar_t, 2>();
      auto ord = order.accessor<int64_t, 2>();
      std::vector<int64_t> idx(static_cast<size_t>(a_n));
      std::vector<scalar_t> v(static_cast<size_t>(a_n));
      for (int64_t b = 0; b < b_n; ++b) {
        for (int64_t a = 0; a < a_n; ++a) {
          v[a] = static_cast<scalar_t>(kUsageEps) +
                 static_cast<scalar_t>(1 - kUsageEps) * u[b][a];
        }
        // A stable sort: equal usages are taken in address order.
        std::iota(idx.begin(), idx.end(), int64_t(0));
        std::stable_sort(idx.begin(), idx.end(),
                         [&](int64_t i, int64_t j) { return v[i] < v[j]; });
        scalar_t before = 1;  // the product of the usages sorted before
        for (int64_t k = 0; k < a_n; ++k) {
          const int64_t a = idx[k];
          ord[b][k] = a;
          o[b][a] = (1 - v[a]) * before;
          before *= v[a];
        }
      }
    });
    ctx->save_for_backward({usage, order});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    const at::Tensor& usage = s[0];
    const int64_t b_n = usage.size(0), a_n = usage.size(1);
    at::Tensor g_usage = at::empty({b_n, a_n}, usage.options());
    AT_DISPATCH_FLOATING_TYPES(usage.scalar_type(), "dnc_allocation_bwd", [&] {
      const auto u = usage.accessor<scalar_t, 2>();
      const auto ord = s[1].accessor<int64_t, 2>();
      const auto g = grads[0].accessor<scalar_t, 2>();
      auto gu = g_usage.accessor<scalar_t, 2>();
      std::vector<scalar_t> before(static_cast<size_t>(a_n));
      const auto eps = static_cast<scalar_t>(kUsageEps);
      for (int64_t b = 0; b < b_n; ++b) {
        auto sorted = [&](int64_t k) {
          return eps + (1 - eps) * u[b][ord[b][k]];
        };
        scalar_t p = 1;
        for (int64_t k = 0; k < a_n; ++k) {
          before[k] = p;
          p *= sorted(k);
        }
        // out_k = (1 - s_k) prod_{i<k} s_i, so d/ds_k = before_k (T_k - g_k)
        // with T_k = sum_{m>k} g_m (1 - s_m) prod_{k<i<m} s_i, from the end.
        scalar_t tail = 0;
        for (int64_t k = a_n - 1; k >= 0; --k) {
          const int64_t a = ord[b][k];
          gu[b][a] = (1 - eps) * before[k] * (tail - g[b][a]);
          tail = g[b][a] * (1 - sorted(k)) + sorted(k) * tail;
        }
      }
    });
    return {g_usage};
  }
};

// --- erase and add ------------------------------------------------------

struct EraseAndAdd : public torch::autograd::Function<EraseAndAdd> {
  static at::Tensor forward(AutogradContext* ctx,
                            const at::Tensor& memory,
                            const at::Tensor& write,
                            const at::Tensor& erase,
                            const at::Tensor& add) {
    const int64_t b_n = memory.size(0), a_n = memory.size(1),
                  c_n = memory.size(2), w_n = write.size(1);
    at::Tensor out = at::empty({b_n, a_n, c_n}, memory.options());
    AT_DISPATCH_FLOATING_TYPES(memory.scalar_type(), "dnc_erase_add", [&] {
      const auto m = memory.accessor<scalar_t, 3>();
      const auto wr = write.accessor<scalar_t, 3>();
      const auto e = erase.accessor<scalar_t, 3>();
      const auto ad = add.accessor<scalar_t, 3>();
      auto o = out.accessor<scalar_t, 3>();
      for (int64_t b = 0; b < b_n; ++b) {
        for (int64_t a = 0; a < a_n; ++a) {
          for (int64_t c = 0; c < c_n; ++c) {
            scalar_t keep = 1, added = 0;
            for (int64_t w = 0; w < w_n; ++w) {
              keep *= 1 - wr[b][w][a] * e[b][w][c];
              added += wr[b][w][a] * ad[b][w][c];
            }
            o[b][a][c] = m[b][a][c] * keep + added;
          }
        }
      }
    });
    ctx->save_for_backward({memory, write, erase, add});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    const at::Tensor &memory = s[0], &write = s[1];
    const int64_t b_n = memory.size(0), a_n = memory.size(1),
                  c_n = memory.size(2), w_n = write.size(1);
    at::Tensor g_memory = at::empty({b_n, a_n, c_n}, memory.options());
    at::Tensor g_write = at::zeros({b_n, w_n, a_n}, memory.options());
    at::Tensor g_erase = at::zeros({b_n, w_n, c_n}, memory.options());
    at::Tensor g_add = at::zeros({b_n, w_n, c_n}, memory.options());
    AT_DISPATCH_FLOATING_TYPES(memory.scalar_type(), "dnc_erase_add_bwd", [&] {
      const auto m = memory.accessor<scalar_t, 3>();
      const auto wr = write.accessor<scalar_t, 3>();
      const auto e = s[2].accessor<scalar_t, 3>();
      const auto ad = s[3].accessor<scalar_t, 3>();
      const auto g = grads[0].accessor<scalar_t, 3>();
      auto gm = g_memory.accessor<scalar_t, 3>();
      auto gw = g_write.accessor<scalar_t, 3>();
      auto ge = g_erase.accessor<scalar_t, 3>();
      auto ga = g_add.accessor<scalar_t, 3>();
      for (int64_t b = 0; b < b_n; ++b) {
        for (int64_t a = 0; a < a_n; ++a) {
          for (int64_t c = 0; c < c_n; ++c) {
            const scalar_t gbac = g[b][a][c];
            scalar_t keep = 1;
            for (int64_t w = 0; w < w_n; ++w) {
              keep *= 1 - wr[b][w][a] * e[b][w][c];
            }
            gm[b][a][c] = gbac * keep;
            for (int64_t w = 0; w < w_n; ++w) {
              scalar_t others = 1;  // the other heads' erase factors
              for (int64_t v = 0; v < w_n; ++v) {
                if (v != w) {
                  others *= 1 - wr[b][v][a] * e[b][v][c];
                }
              }
              const scalar_t t = gbac * m[b][a][c] * others;
              gw[b][w][a] += ad[b][w][c] * gbac - t * e[b][w][c];
              ge[b][w][c] -= t * wr[b][w][a];
              ga[b][w][c] += gbac * wr[b][w][a];
            }
          }
        }
      }
    });
    return {g_memory, g_write, g_erase, g_add};
  }
};

// --- temporal links, precedence and the read weighting ------------------

struct LinksAndRead : public torch::autograd::Function<LinksAndRead> {
  // Returns {link, precedence, read}.
  static variable_list forward(AutogradContext* ctx,
                               const at::Tensor& prev_link,
                               const at::Tensor& prev_precedence,
                               const at::Tensor& write,
                               const at::Tensor& prev_read,
                               const at::Tensor& content,
                               const at::Tensor& read_mode) {
    const int64_t b_n = prev_link.size(0), w_n = prev_link.size(1),
                  a_n = prev_link.size(2), r_n = prev_read.size(1);
    at::Tensor link = at::empty({b_n, w_n, a_n, a_n}, prev_link.options());
    at::Tensor precedence = at::empty({b_n, w_n, a_n}, prev_link.options());
    at::Tensor read = at::empty({b_n, r_n, a_n}, prev_link.options());
    AT_DISPATCH_FLOATING_TYPES(prev_link.scalar_type(), "dnc_links", [&] {
      const auto lp = prev_link.accessor<scalar_t, 4>();
      const auto pp = prev_precedence.accessor<scalar_t, 3>();
      const auto wr = write.accessor<scalar_t, 3>();
      const auto rp = prev_read.accessor<scalar_t, 3>();
      const auto ct = content.accessor<scalar_t, 3>();
      const auto md = read_mode.accessor<scalar_t, 3>();
      auto l = link.accessor<scalar_t, 4>();
      auto p = precedence.accessor<scalar_t, 3>();
      auto rd = read.accessor<scalar_t, 3>();
      for (int64_t b = 0; b < b_n; ++b) {
        for (int64_t w = 0; w < w_n; ++w) {
          scalar_t written = 0;
          for (int64_t a = 0; a < a_n; ++a) {
            written += wr[b][w][a];
          }
          for (int64_t i = 0; i < a_n; ++i) {
            for (int64_t j = 0; j < a_n; ++j) {
              l[b][w][i][j] =
                  i == j ? scalar_t(0)
                         : (1 - wr[b][w][i] - wr[b][w][j]) * lp[b][w][i][j] +
                               wr[b][w][i] * pp[b][w][j];
            }
          }
          for (int64_t a = 0; a < a_n; ++a) {
            p[b][w][a] = (1 - written) * pp[b][w][a] + wr[b][w][a];
          }
        }
        for (int64_t r = 0; r < r_n; ++r) {
          for (int64_t a = 0; a < a_n; ++a) {
            rd[b][r][a] = md[b][r][2 * w_n] * ct[b][r][a];
          }
          for (int64_t w = 0; w < w_n; ++w) {
            const scalar_t back = md[b][r][w], fwd = md[b][r][w_n + w];
            // forward_i = sum_j L_ij r_j; backward_j = sum_i L_ij r_i.
            for (int64_t i = 0; i < a_n; ++i) {
              scalar_t f = 0;
              for (int64_t j = 0; j < a_n; ++j) {
                f += l[b][w][i][j] * rp[b][r][j];
                rd[b][r][j] += back * l[b][w][i][j] * rp[b][r][i];
              }
              rd[b][r][i] += fwd * f;
            }
          }
        }
      }
    });
    ctx->save_for_backward({prev_link, prev_precedence, write, prev_read,
                            content, read_mode, link});
    return {link, precedence, read};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    const at::Tensor& prev_link = s[0];
    const int64_t b_n = prev_link.size(0), w_n = prev_link.size(1),
                  a_n = prev_link.size(2), r_n = s[3].size(1);
    const at::TensorOptions opts = prev_link.options();
    at::Tensor g_prev_link = at::empty({b_n, w_n, a_n, a_n}, opts);
    at::Tensor g_prev_precedence = at::empty({b_n, w_n, a_n}, opts);
    at::Tensor g_write = at::empty({b_n, w_n, a_n}, opts);
    at::Tensor g_prev_read = at::zeros({b_n, r_n, a_n}, opts);
    at::Tensor g_content = at::empty({b_n, r_n, a_n}, opts);
    at::Tensor g_mode = at::zeros({b_n, r_n, 2 * w_n + 1}, opts);
    AT_DISPATCH_FLOATING_TYPES(prev_link.scalar_type(), "dnc_links_bwd", [&] {
      const auto lp = prev_link.accessor<scalar_t, 4>();
      const auto pp = s[1].accessor<scalar_t, 3>();
      const auto wr = s[2].accessor<scalar_t, 3>();
      const auto rp = s[3].accessor<scalar_t, 3>();
      const auto ct = s[4].accessor<scalar_t, 3>();
      const auto md = s[5].accessor<scalar_t, 3>();
      const auto l = s[6].accessor<scalar_t, 4>();
      const auto g_link = grads[0].accessor<scalar_t, 4>();
      const auto g_prec = grads[1].accessor<scalar_t, 3>();
      const auto g_read = grads[2].accessor<scalar_t, 3>();
      auto glp = g_prev_link.accessor<scalar_t, 4>();
      auto gpp = g_prev_precedence.accessor<scalar_t, 3>();
      auto gw = g_write.accessor<scalar_t, 3>();
      auto grp = g_prev_read.accessor<scalar_t, 3>();
      auto gc = g_content.accessor<scalar_t, 3>();
      auto gmd = g_mode.accessor<scalar_t, 3>();
      // The link's whole gradient, its own plus the reads', per (b, w).
      std::vector<scalar_t> gl(static_cast<size_t>(a_n * a_n));
      for (int64_t b = 0; b < b_n; ++b) {
        for (int64_t r = 0; r < r_n; ++r) {
          for (int64_t a = 0; a < a_n; ++a) {
            gc[b][r][a] = md[b][r][2 * w_n] * g_read[b][r][a];
            gmd[b][r][2 * w_n] += g_read[b][r][a] * ct[b][r][a];
          }
        }
        for (int64_t w = 0; w < w_n; ++w) {
          for (int64_t i = 0; i < a_n; ++i) {
            for (int64_t j = 0; j < a_n; ++j) {
              gl[i * a_n + j] = g_link[b][w][i][j];
            }
          }
          for (int64_t r = 0; r < r_n; ++r) {
            const scalar_t back = md[b][r][w], fwd = md[b][r][w_n + w];
            scalar_t g_back = 0, g_fwd = 0;
            for (int64_t i = 0; i < a_n; ++i) {
              const scalar_t gri = g_read[b][r][i];
              scalar_t f = 0, bk = 0;
              for (int64_t j = 0; j < a_n; ++j) {
                const scalar_t lij = l[b][w][i][j], lji = l[b][w][j][i];
                f += lij * rp[b][r][j];
                bk += lji * rp[b][r][j];
                // forward_i reads L_ij r_j; backward_i reads L_ji r_j.
                gl[i * a_n + j] += fwd * gri * rp[b][r][j];
                gl[j * a_n + i] += back * gri * rp[b][r][j];
                grp[b][r][j] += gri * (fwd * lij + back * lji);
              }
              g_fwd += gri * f;
              g_back += gri * bk;
            }
            gmd[b][r][w] += g_back;
            gmd[b][r][w_n + w] += g_fwd;
          }
          // Precedence: p = (1 - sum w) p_prev + w.
          scalar_t written = 0, gp_dot_p = 0;
          for (int64_t a = 0; a < a_n; ++a) {
            written += wr[b][w][a];
            gp_dot_p += g_prec[b][w][a] * pp[b][w][a];
          }
          for (int64_t a = 0; a < a_n; ++a) {
            gpp[b][w][a] = g_prec[b][w][a] * (1 - written);
            gw[b][w][a] = g_prec[b][w][a] - gp_dot_p;
          }
          // Links off the diagonal:
          //   L_ij = (1 - w_i - w_j) Lprev_ij + w_i p_j.
          for (int64_t i = 0; i < a_n; ++i) {
            for (int64_t j = 0; j < a_n; ++j) {
              if (i == j) {
                glp[b][w][i][j] = 0;
                continue;
              }
              const scalar_t g = gl[i * a_n + j], old = lp[b][w][i][j];
              glp[b][w][i][j] = g * (1 - wr[b][w][i] - wr[b][w][j]);
              gw[b][w][i] += g * (pp[b][w][j] - old);
              gw[b][w][j] -= g * old;
              gpp[b][w][j] += g * wr[b][w][i];
            }
          }
        }
      }
    });
    return {g_prev_link, g_prev_precedence, g_write,
            g_prev_read, g_content,         g_mode};
  }
};

}  // namespace detail

/// mip::memory::content_weights: softmax over the addresses of `beta`
/// [B, H, 1] times the cosine similarity of `keys` [B, H, C] with each row
/// of `memory` [B, A, C] (norms clamped at 1e-12); [B, H, A].
inline at::Tensor content_weights(const at::Tensor& keys,
                                  const at::Tensor& beta,
                                  const at::Tensor& memory) {
  detail::check_cpu("content_weights", {keys, beta, memory});
  return detail::ContentWeights::apply(keys, beta, memory);
}

/// update_usage of dnc_addressing.hpp: [B, A]; `prev_write` is not
/// differentiated.
inline at::Tensor update_usage(const at::Tensor& prev_usage,
                               const at::Tensor& prev_write,
                               const at::Tensor& free_gate,
                               const at::Tensor& prev_read) {
  detail::check_cpu("update_usage",
                    {prev_usage, prev_write, free_gate, prev_read});
  return detail::Usage::apply(prev_usage, prev_write.detach(), free_gate,
                              prev_read);
}

/// allocation of dnc_addressing.hpp, one write head: [B, A] -> [B, A].
inline at::Tensor allocation(const at::Tensor& usage) {
  detail::check_cpu("allocation", {usage});
  return detail::Allocation::apply(usage);
}

/// write_allocation of dnc_addressing.hpp with the fused allocation:
/// [B, W, A].
inline at::Tensor write_allocation(const at::Tensor& usage,
                                   const at::Tensor& allocation_gates,
                                   const at::Tensor& write_gates) {
  return mip::dnc::write_allocation_by(fused::allocation, usage,
                                       allocation_gates, write_gates);
}

/// mip::memory::erase_and_add: M * prod_w (1 - w_w e_w^T) + sum_w w_w a_w^T
/// with `memory` [B, A, C], `write` [B, W, A], `erase` and `add` [B, W, C].
inline at::Tensor erase_and_add(const at::Tensor& memory,
                                const at::Tensor& write,
                                const at::Tensor& erase,
                                const at::Tensor& add) {
  detail::check_cpu("erase_and_add", {memory, write, erase, add});
  return detail::EraseAndAdd::apply(memory, write, erase, add);
}

/// update_link, update_precedence, forward_weights, backward_weights and
/// read_weights of dnc_addressing.hpp in one: returns the new link
/// [B, W, A, A], precedence [B, W, A] and read weighting [B, R, A].
inline std::tuple<at::Tensor, at::Tensor, at::Tensor> links_and_read(
    const at::Tensor& prev_link,
    const at::Tensor& prev_precedence,
    const at::Tensor& write,
    const at::Tensor& prev_read,
    const at::Tensor& content,
    const at::Tensor& read_mode) {
  detail::check_cpu("links_and_read", {prev_link, prev_precedence, write,
                                       prev_read, content, read_mode});
  const auto out = detail::LinksAndRead::apply(
      prev_link, prev_precedence, write, prev_read, content, read_mode);
  return {out[0], out[1], out[2]};
}

}  // namespace mip::dnc::fused
