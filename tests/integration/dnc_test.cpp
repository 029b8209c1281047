// The DNC (plugins/models/dnc): its addressing against hand-computed cases on
// a small memory, then the model built through the real loader (shapes,
// gradients, options, errors, the memory trace) and trained by the real
// worker on serial recall (loss, checkpoint round trip).
#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <string>
#include <vector>

#include <mip/core/checkpoint.hpp>
#include <mip/memory/addressing.hpp>

#include "common/components.hpp"
#include "common/worker_runs.hpp"
#include "dnc_addressing.hpp"
#include "dnc_fused.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace dnc_test {

using sdk::DataDict;

at::Tensor t(std::vector<float> v, at::IntArrayRef shape) {
  return at::tensor(v, at::kFloat).view(shape);
}

void expect_close(const at::Tensor& got,
                  const at::Tensor& expected,
                  double tol = 1e-5,
                  double rtol = 0.0) {
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_TRUE(at::allclose(got, expected, rtol, tol)) << "got\n"
                                                      << got << "\nexpected\n"
                                                      << expected;
}

// --- addressing, by hand ----------------------------------------------------

TEST(DncAddressing, UsageRisesWhereWrittenAndFallsWhereFreedReadsRead) {
  // Two write heads, two read heads, 4 addresses.
  const at::Tensor usage = t({0.5f, 0.f, 0.2f, 0.9f}, {1, 4});
  const at::Tensor write =
      t({0.5f, 0.f, 0.f, 0.f, 0.5f, 0.1f, 0.f, 0.f}, {1, 2, 4})
          .requires_grad_();
  const at::Tensor free_gate = t({0.5f, 1.f}, {1, 2, 1}).requires_grad_();
  const at::Tensor read =
      t({0.f, 0.f, 1.f, 0.2f, 0.f, 0.f, 0.f, 0.5f}, {1, 2, 4});
  // Written: 1 - (1 - 0.5)(1 - 0.5) = 0.75 at address 0, 0.1 at 1:
  //   u = [0.5 + 0.5 * 0.75, 0 + 0.1, 0.2, 0.9] = [0.875, 0.1, 0.2, 0.9].
  // Kept: (1 - 0.5 r1)(1 - 1.0 r2) = [1, 1, 0.5, 0.9 * 0.5].
  const at::Tensor got = dnc::update_usage(usage, write, free_gate, read);
  expect_close(got, t({0.875f, 0.1f, 0.1f, 0.405f}, {1, 4}));
  expect_close(dnc::fused::update_usage(usage, write, free_gate, read),
               t({0.875f, 0.1f, 0.1f, 0.405f}, {1, 4}));
  // The write weights are not differentiated; the free gates are. With a the
  // usage after the write, d sum / d f1 = -sum a r1 (1 - f2 r2)
  //   = -(0.2 * 1 * 1 + 0.9 * 0.2 * 0.5) = -0.29,
  // d sum / d f2 = -sum a (1 - f1 r1) r2 = -(0.9 * 0.9 * 0.5) = -0.405.
  got.sum().backward();
  EXPECT_FALSE(write.grad().defined());
  expect_close(free_gate.grad(), t({-0.29f, -0.405f}, {1, 2, 1}));
}

TEST(DncAddressing, AllocationGoesToTheLeastUsedAddressesInOrder) {
  // Row 0, usage [0.4, 0.1, 0.9, 0.5]: sorted, addresses 1, 0, 3, 2; the k-th
  // gets (1 - u_k) times the product of the usages before it:
  //   a1 = 0.9, a0 = 0.6 * 0.1, a3 = 0.5 * 0.1 * 0.4, a2 = 0.1 * 0.1 * 0.4 *
  //   0.5.
  // Row 1 holds the same usages permuted: its weights follow them.
  const at::Tensor usage =
      t({0.4f, 0.1f, 0.9f, 0.5f, 0.9f, 0.5f, 0.1f, 0.4f}, {2, 4});
  const at::Tensor expected =
      t({0.06f, 0.9f, 0.002f, 0.02f, 0.002f, 0.02f, 0.9f, 0.06f}, {2, 4});
  expect_close(dnc::allocation(usage), expected);
  expect_close(dnc::fused::allocation(usage), expected);
  // Unused memory (usage 0 everywhere, as at the start): the first address
  // takes it all (equal usages keep the address order).
  for (const at::Tensor& fresh : {dnc::allocation(at::zeros({1, 4})),
                                  dnc::fused::allocation(at::zeros({1, 4}))}) {
    EXPECT_NEAR(fresh[0][0].item<float>(), 1.0, 1e-5);
    EXPECT_NEAR(fresh[0].slice(0, 1).sum().item<float>(), 0.0, 1e-5);
  }
}

TEST(DncAddressing, SecondWriteHeadAllocatesOnTheUsageTheFirstLeaves) {
  const std::vector<double> u = {0.4, 0.1, 0.9, 0.5};
  const std::vector<double> a1 = {0.06, 0.9, 0.002, 0.02};
  // Head 1 writes with gate 1: u2 = u + (1 - u) a1.
  std::vector<double> u2(4);
  for (size_t i = 0; i < 4; ++i)
    u2[i] = u[i] + (1 - u[i]) * a1[i];  // 0.436, 0.91, 0.9002, 0.51
  // Sorted: addresses 0, 3, 2, 1.
  std::vector<double> a2(4);
  a2[0] = 1 - u2[0];
  a2[3] = (1 - u2[3]) * u2[0];
  a2[2] = (1 - u2[2]) * u2[0] * u2[3];
  a2[1] = (1 - u2[1]) * u2[0] * u2[3] * u2[2];
  std::vector<float> expected;
  for (double v : a1)
    expected.push_back(static_cast<float>(v));
  for (double v : a2)
    expected.push_back(static_cast<float>(v));
  const at::Tensor usage = t({0.4f, 0.1f, 0.9f, 0.5f}, {1, 4});
  expect_close(
      dnc::write_allocation(usage, at::ones({1, 2, 1}), at::ones({1, 2, 1})),
      t(expected, {1, 2, 4}));
  expect_close(dnc::fused::write_allocation(usage, at::ones({1, 2, 1}),
                                            at::ones({1, 2, 1})),
               t(expected, {1, 2, 4}));
}

TEST(DncAddressing, LinksRecordWhichAddressWasWrittenAfterWhich) {
  const at::Tensor off = 1 - at::eye(3);
  at::Tensor link = at::zeros({1, 1, 3, 3}), prec = at::zeros({1, 1, 3});
  // Write address 0, then address 1.
  for (int64_t address : {0, 1}) {
    const at::Tensor w = at::zeros({1, 1, 3});
    w[0][0][address] = 1.f;
    link = dnc::update_link(link, prec, w, off);
    prec = dnc::update_precedence(prec, w);
  }
  // L[1][0] = 1: address 1 was written after address 0; nothing else.
  at::Tensor expected = at::zeros({1, 1, 3, 3});
  expected[0][0][1][0] = 1.f;
  expect_close(link, expected);
  expect_close(prec, t({0.f, 1.f, 0.f}, {1, 1, 3}));
  // From a read at address 0, forward leads to 1; from a read at 1, backward
  // leads to 0. Two read heads: [1, 0, 0] and [0, 1, 0].
  const at::Tensor read = t({1.f, 0.f, 0.f, 0.f, 1.f, 0.f}, {1, 2, 3});
  const at::Tensor fwd = dnc::forward_weights(link, read);
  const at::Tensor bwd = dnc::backward_weights(link, read);
  expect_close(fwd, t({0.f, 1.f, 0.f, 0.f, 0.f, 0.f}, {1, 2, 1, 3}));
  expect_close(bwd, t({0.f, 0.f, 0.f, 1.f, 0.f, 0.f}, {1, 2, 1, 3}));
  // The fused step from the state before the second write: the same link
  // and precedence; read mode all forward for head 1, all backward for
  // head 2, so the reads are the directions above.
  const at::Tensor first = t({1.f, 0.f, 0.f}, {1, 1, 3});
  const at::Tensor second = t({0.f, 1.f, 0.f}, {1, 1, 3});
  const auto [fused_link, fused_prec, fused_read] = dnc::fused::links_and_read(
      dnc::update_link(at::zeros({1, 1, 3, 3}), at::zeros({1, 1, 3}), first,
                       off),
      first, second, read, at::zeros({1, 2, 3}),
      t({0.f, 1.f, 0.f, 1.f, 0.f, 0.f}, {1, 2, 3}));
  expect_close(fused_link, expected);
  expect_close(fused_prec, t({0.f, 1.f, 0.f}, {1, 1, 3}));
  expect_close(fused_read, t({0.f, 1.f, 0.f, 1.f, 0.f, 0.f}, {1, 2, 3}));
}

TEST(DncAddressing, SoftWritesScaleTheOldLinksAndLinkToThePrecedence) {
  // L'[i][j] = (1 - w_i - w_j) L[i][j] + w_i p_j off the diagonal, 0 on it;
  // p' = (1 - sum w) p + w.
  const std::vector<float> w = {0.5f, 0.25f, 0.f}, p = {0.2f, 0.2f, 0.4f};
  const float old = 0.1f;
  std::vector<float> expected(9, 0.f);
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 3; ++j)
      if (i != j)
        expected[i * 3 + j] = (1 - w[i] - w[j]) * old + w[i] * p[j];
  const at::Tensor write = t(w, {1, 1, 3}), prec = t(p, {1, 1, 3});
  expect_close(dnc::update_link(at::full({1, 1, 3, 3}, old), prec, write,
                                1 - at::eye(3)),
               t(expected, {1, 1, 3, 3}));
  // 1 - sum w = 0.25: [0.05 + 0.5, 0.05 + 0.25, 0.1].
  expect_close(dnc::update_precedence(prec, write),
               t({0.55f, 0.3f, 0.1f}, {1, 1, 3}));
}

TEST(DncAddressing, ReadWeightsMixContentForwardAndBackwardByTheReadMode) {
  // Modes (backward, forward, content) = (0.2, 0.3, 0.5):
  //   0.5 [0.1, 0.2, 0.7] + 0.3 [0, 1, 0] + 0.2 [1, 0, 0].
  const at::Tensor got = dnc::read_weights(
      t({0.1f, 0.2f, 0.7f}, {1, 1, 3}), t({0.f, 1.f, 0.f}, {1, 1, 1, 3}),
      t({1.f, 0.f, 0.f}, {1, 1, 1, 3}), t({0.2f, 0.3f, 0.5f}, {1, 1, 3}));
  expect_close(got, t({0.25f, 0.4f, 0.35f}, {1, 1, 3}));
  // Two write heads: modes (b1, b2, f1, f2, c) = (0.1, 0.1, 0.2, 0.1, 0.5),
  // forward [0, 1, 0] and [0, 0, 1], backward [1, 0, 0] and [0, 1, 0]:
  //   0.5 c + [0, 0.2, 0.1] + [0.1, 0.1, 0].
  const at::Tensor two =
      dnc::read_weights(t({0.1f, 0.2f, 0.7f}, {1, 1, 3}),
                        t({0.f, 1.f, 0.f, 0.f, 0.f, 1.f}, {1, 1, 2, 3}),
                        t({1.f, 0.f, 0.f, 0.f, 1.f, 0.f}, {1, 1, 2, 3}),
                        t({0.1f, 0.1f, 0.2f, 0.1f, 0.5f}, {1, 1, 5}));
  expect_close(two, t({0.15f, 0.4f, 0.45f}, {1, 1, 3}));
}

// --- the fused CPU functions against the composite ones ---------------------

/// Random double inputs on a small memory, requiring gradients.
at::Tensor leaf(at::IntArrayRef shape, double low = 0.0, double high = 1.0) {
  return (low + (high - low) * at::rand(shape, at::kDouble)).requires_grad_();
}

/// Runs `fn` (the fused function) and `reference` (the composite one) on
/// the same inputs, compares their outputs, then the gradients of every input
/// for the same random weighting of the outputs (a gradcheck against
/// LibTorch's autograd, in double precision).
template <typename Fused, typename Reference>
void expect_same_maths(std::vector<at::Tensor> inputs,
                       Fused fn,
                       Reference reference,
                       const std::string& what) {
  SCOPED_TRACE(what);
  auto grads_of = [&](const std::vector<at::Tensor>& outputs,
                      const std::vector<at::Tensor>& weights) {
    at::Tensor loss = at::zeros({}, at::kDouble);
    for (size_t i = 0; i < outputs.size(); ++i)
      loss = loss + (outputs[i] * weights[i]).sum();
    std::vector<at::Tensor> wrt;
    for (const at::Tensor& x : inputs)
      if (x.requires_grad())
        wrt.push_back(x);
    // Inputs that are not differentiated (update_usage's write weights)
    // get no gradient in either.
    return torch::autograd::grad({loss}, wrt, {}, /*retain_graph=*/false,
                                 /*create_graph=*/false, /*allow_unused=*/true);
  };
  const std::vector<at::Tensor> got = fn(inputs), expected = reference(inputs);
  ASSERT_EQ(got.size(), expected.size());
  std::vector<at::Tensor> weights;
  for (size_t i = 0; i < got.size(); ++i) {
    expect_close(got[i], expected[i], 1e-12);
    weights.push_back(at::randn(got[i].sizes(), at::kDouble));
  }
  const auto g = grads_of(got, weights), e = grads_of(expected, weights);
  ASSERT_EQ(g.size(), e.size());
  for (size_t i = 0; i < g.size(); ++i) {
    SCOPED_TRACE("gradient of input " + std::to_string(i));
    ASSERT_EQ(g[i].defined(), e[i].defined());
    if (e[i].defined())
      expect_close(g[i], e[i], 1e-10, 1e-10);
  }
}

using Tensors = std::vector<at::Tensor>;

TEST(DncFused, ContentWeightingMatchesTheCompositeOneWithZeroRowsAndKeys) {
  at::manual_seed(1);
  // Two heads, 5 addresses of 3 bits; address 2 of sample 0 is zero, and so
  // is head 1's key in sample 1 (the clamped norms).
  at::Tensor memory = at::randn({2, 5, 3}, at::kDouble);
  memory[0][2].zero_();
  at::Tensor keys = at::randn({2, 2, 3}, at::kDouble);
  keys[1][1].zero_();
  expect_same_maths(
      {keys.requires_grad_(), leaf({2, 2, 1}, 1.0, 4.0),
       memory.requires_grad_()},
      [](const Tensors& x) {
        return Tensors{dnc::fused::content_weights(x[0], x[1], x[2])};
      },
      [](const Tensors& x) {
        return Tensors{memory::content_weights(x[0], x[1], x[2])};
      },
      "content weighting");
}

TEST(DncFused, UsageAndAllocationMatchTheCompositeOnes) {
  at::manual_seed(2);
  for (int64_t heads : {1, 3}) {
    const std::string h = std::to_string(heads);
    expect_same_maths(
        {leaf({2, 6}), leaf({2, heads, 6}), leaf({2, heads, 1}),
         leaf({2, heads, 6})},
        [](const Tensors& x) {
          return Tensors{dnc::fused::update_usage(x[0], x[1], x[2], x[3])};
        },
        [](const Tensors& x) {
          return Tensors{dnc::update_usage(x[0], x[1], x[2], x[3])};
        },
        "usage, heads " + h);
    // Usages with ties (the stable order) and distinct ones.
    at::Tensor usage = at::rand({3, 6}, at::kDouble);
    usage[1].fill_(0.25);
    usage[2][4] = usage[2][1].item<double>();
    expect_same_maths(
        {usage.requires_grad_(), leaf({3, heads, 1}), leaf({3, heads, 1})},
        [](const Tensors& x) {
          return Tensors{dnc::fused::write_allocation(x[0], x[1], x[2])};
        },
        [](const Tensors& x) {
          return Tensors{dnc::write_allocation(x[0], x[1], x[2])};
        },
        "allocation, heads " + h);
  }
}

TEST(DncFused, EraseAndAddMatchesTheCompositeOne) {
  at::manual_seed(3);
  for (int64_t heads : {1, 2}) {
    expect_same_maths(
        {leaf({2, 5, 3}, -1.0, 1.0), leaf({2, heads, 5}), leaf({2, heads, 3}),
         leaf({2, heads, 3}, -1.0, 1.0)},
        [](const Tensors& x) {
          return Tensors{dnc::fused::erase_and_add(x[0], x[1], x[2], x[3])};
        },
        [](const Tensors& x) {
          return Tensors{memory::erase_and_add(x[0], x[1], x[2], x[3])};
        },
        "erase and add, heads " + std::to_string(heads));
  }
}

TEST(DncFused, LinksAndReadMatchTheCompositeOnes) {
  at::manual_seed(4);
  for (const auto& [reads, writes] :
       std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {2, 3}}) {
    const int64_t a = 5;
    const at::Tensor off = 1 - at::eye(a, at::kDouble);
    expect_same_maths(
        {leaf({2, writes, a, a}), leaf({2, writes, a}), leaf({2, writes, a}),
         leaf({2, reads, a}), leaf({2, reads, a}),
         leaf({2, reads, 2 * writes + 1})},
        [](const Tensors& x) {
          const auto [l, p, r] =
              dnc::fused::links_and_read(x[0], x[1], x[2], x[3], x[4], x[5]);
          return Tensors{l, p, r};
        },
        [&](const Tensors& x) {
          const at::Tensor l = dnc::update_link(x[0], x[1], x[2], off);
          return Tensors{
              l, dnc::update_precedence(x[1], x[2]),
              dnc::read_weights(x[4], dnc::forward_weights(l, x[3]),
                                dnc::backward_weights(l, x[3]), x[5])};
        },
        "links, reads " + std::to_string(reads) + ", writes " +
            std::to_string(writes));
  }
}

/// The message of the c10::Error that `f` throws (the fused functions check
/// their inputs as ATen's kernels do), or "(no error)".
template <typename F>
std::string c10_error_of(F&& f) {
  try {
    f();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  }
  return "(no error)";
}

TEST(DncFused, ErrorsNameTheFunctionTheDeviceAndTheDtype) {
  EXPECT_HAS(c10_error_of([] {
               dnc::fused::allocation(at::zeros({2, 3}, at::kLong));
             }),
             "mip::dnc::fused::allocation takes float or double tensors; got "
             "Long");
  EXPECT_HAS(c10_error_of([] {
               dnc::fused::allocation(
                   at::zeros({2, 3}, at::TensorOptions().device(at::kMeta)));
             }),
             "mip::dnc::fused::allocation runs on the CPU; got a tensor on "
             "meta");
  EXPECT_HAS(c10_error_of([] {
               dnc::fused::erase_and_add(
                   at::zeros({1, 2, 3}), at::zeros({1, 1, 2}, at::kDouble),
                   at::zeros({1, 1, 3}), at::zeros({1, 1, 3}));
             }),
             "erase_and_add: mixed dtypes Double and Float");
}

// --- the model through the loader -------------------------------------------

class DncModel : public test::Components {
 protected:
  std::shared_ptr<sdk::Problem> recall() {
    return problem("SerialRecallCommandLines",
                   "{batch_size: 4, min_sequence_length: 2, "
                   "max_sequence_length: 5}");
  }
  std::shared_ptr<sdk::Model> dnc(const std::string& yaml = "") {
    if (!problem_)
      problem_ = recall();
    return model("DNC", *problem_, yaml);
  }
  /// A serial recall batch of `b` samples.
  DataDict batch(int64_t b, uint64_t seed = 1) {
    auto p = problem("SerialRecallCommandLines",
                     "{batch_size: " + std::to_string(b) +
                         ", min_sequence_length: 2, max_sequence_length: 5}");
    at::Generator gen = test::seeded(seed);
    return p->get_batch(test::range(b), gen);
  }
  /// One forward and backward of the problem's loss: names of the parameters
  /// whose gradient is missing or zero everywhere.
  std::vector<std::string> dead_parameters(sdk::Model& m) {
    const DataDict b = batch(8);
    m.zero_grad();
    problem_->evaluate_loss(b, m.forward(b)).backward();
    std::vector<std::string> dead;
    for (const auto& p : m.named_parameters())
      if (!p.value().grad().defined() ||
          p.value().grad().abs().sum().item<double>() == 0.0)
        dead.push_back(p.key());
    return dead;
  }
  std::shared_ptr<sdk::Problem> problem_;
};

TEST_F(DncModel, PredictionsAndMemoryFollowBatchSizeAndLength) {
  for (int64_t b : {1, 3, 8})
    for (int64_t len : {1, 4, 9}) {
      torch::manual_seed(0);
      auto m = dnc("{plot_memory: true}");
      DataDict in;
      in["sequences"] = at::rand({b, len, 10});
      const DataDict out = m->forward(in);
      EXPECT_EQ(out.at("predictions").sizes(), at::IntArrayRef({b, len, 8}));
      // memory_addresses_size -1: one address per input step.
      EXPECT_EQ(out.at("memory").sizes(), at::IntArrayRef({b, len, len, 15}));
      EXPECT_EQ(out.at("read_weights").sizes(),
                at::IntArrayRef({b, len, 1, len}));
      EXPECT_EQ(out.at("write_weights").sizes(),
                at::IntArrayRef({b, len, 1, len}));
      EXPECT_EQ(out.at("usage").sizes(), at::IntArrayRef({b, len, len}));
    }
  // A fixed memory keeps its size whatever the length; more heads.
  auto m =
      dnc("{memory_addresses_size: 6, num_reads: 2, num_writes: 3, "
          "plot_memory: true}");
  DataDict in;
  in["sequences"] = at::rand({2, 11, 10});
  const DataDict out = m->forward(in);
  EXPECT_EQ(out.at("predictions").sizes(), at::IntArrayRef({2, 11, 8}));
  EXPECT_EQ(out.at("memory").sizes(), at::IntArrayRef({2, 11, 6, 15}));
  EXPECT_EQ(out.at("read_weights").sizes(), at::IntArrayRef({2, 11, 2, 6}));
  EXPECT_EQ(out.at("write_weights").sizes(), at::IntArrayRef({2, 11, 3, 6}));
}

TEST_F(DncModel, MemoryTraceIsOffByDefaultAndDetachedWhenOn) {
  const DataDict b = batch(4);
  EXPECT_EQ(dnc()->forward(b).size(), 1u);  // predictions only
  auto m = dnc("{plot_memory: true}");
  const DataDict out = m->forward(b);
  const int64_t steps = b.at("sequences").size(1);
  for (const char* key : {"memory", "read_weights", "write_weights", "usage"}) {
    EXPECT_FALSE(out.at(key).requires_grad()) << key;
    EXPECT_EQ(out.at(key).size(1), steps) << key;
  }
  // Weightings of a write or read head sum to at most 1; usage in [0, 1].
  EXPECT_LE(out.at("write_weights").sum(-1).max().item<float>(), 1.f + 1e-5f);
  EXPECT_LE(out.at("read_weights").sum(-1).max().item<float>(), 1.f + 1e-5f);
  EXPECT_GE(out.at("usage").min().item<float>(), 0.f);
  EXPECT_LE(out.at("usage").max().item<float>(), 1.f);
  // Something was written: the memory of the last step is not zero.
  EXPECT_GT(out.at("memory").select(1, steps - 1).abs().sum().item<float>(),
            0.f);
}

TEST_F(DncModel, GradientsReachEveryParameter) {
  auto m = dnc();
  EXPECT_EQ(dead_parameters(*m), std::vector<std::string>{});
  // Each interface output (a row of the parameter generator) is used.
  const at::Tensor g = m->named_parameters()["param_gen.weight"].grad();
  EXPECT_EQ((g.abs().sum(1) == 0).sum().item<int64_t>(), 0);
}

TEST_F(DncModel, EachNtmOptionRunsAndLearnsThroughEveryParameter) {
  const DataDict b = batch(4);
  torch::manual_seed(3);
  const at::Tensor plain = dnc()->forward(b).at("predictions");
  for (const std::string opt : {"use_ntm_write", "use_ntm_read",
                                "use_ntm_order", "use_extra_write_gate"}) {
    torch::manual_seed(3);
    auto m = dnc("{" + opt + ": true}");
    EXPECT_EQ(dead_parameters(*m), std::vector<std::string>{}) << opt;
    const at::Tensor g = m->named_parameters()["param_gen.weight"].grad();
    EXPECT_EQ((g.abs().sum(1) == 0).sum().item<int64_t>(), 0) << opt;
    const at::Tensor out = m->forward(b).at("predictions");
    EXPECT_TRUE(out.isfinite().all().item<bool>()) << opt;
    // Same seed, same weights where the layout is the same: the option
    // changes what the model computes.
    if (opt == "use_ntm_order" || opt == "use_extra_write_gate")
      EXPECT_FALSE(out.equal(plain)) << opt;
  }
  auto all =
      dnc("{use_ntm_write: true, use_ntm_read: true, use_ntm_order: true, "
          "use_extra_write_gate: true, shift_size: 5, num_reads: 2}");
  EXPECT_EQ(dead_parameters(*all), std::vector<std::string>{});
}

TEST_F(DncModel, EveryControllerTypeRuns) {
  for (const std::string c : {"FeedforwardController", "RNNController",
                              "GRUController", "FFGRUController"}) {
    auto m = dnc("{controller_type: " + c +
                 ", non_linearity: tanh, ff_output_size: 12}");
    EXPECT_EQ(dead_parameters(*m), std::vector<std::string>{}) << c;
  }
}

TEST_F(DncModel, BadKeysNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{memory_content_size: 0}",
       "[model.memory_content_size] must be >= 1, got 0"},
      {"{num_reads: 0}", "[model.num_reads] must be >= 1, got 0"},
      {"{num_writes: -2}", "[model.num_writes] must be >= 1, got -2"},
      {"{hidden_state_size: 0}",
       "[model.hidden_state_size] must be >= 1, got 0"},
      {"{memory_addresses_size: 0}",
       "[model.memory_addresses_size] must be >= 1, or -1"},
      {"{shift_size: 2}", "[model.shift_size] must be odd"},
      {"{controller_type: LSTM}",
       "[model.controller_type] is 'LSTM': use one of FeedforwardController"},
      {"{controller_type: FFGRUController}",
       "[model.ff_output_size] is required by FFGRUController"},
      {"{controller_type: RNNController, non_linearity: cubic}",
       "[model.non_linearity] is 'cubic'"},
      {"{use_ntm_read: maybe}", "use_ntm_read"},
  };
  for (const auto& [yaml, message] : cases)
    EXPECT_HAS(test::error_of([&] { dnc(yaml); }), message);
}

// --- trained by the worker
// ----------------------------------------------------

/// Serial recall on 1-4 items, batches of 32, for the worker runs.
const std::string kRecall =
    "{name: SerialRecallCommandLines, batch_size: 32, min_sequence_length: 1, "
    "max_sequence_length: 4, size: 64}";
/// The DNC's parameters in the worker runs.
const std::string kSmallDnc = "hidden_state_size: 32, memory_content_size: 10";

double mean(const std::vector<double>& v, size_t from, size_t n) {
  double s = 0;
  for (size_t i = from; i < from + n; ++i)
    s += v.at(i);
  return s / static_cast<double>(n);
}

class DncTraining : public test::Components {};

TEST_F(DncTraining, SerialRecallLossFallsAndTheCheckpointReloadsExactly) {
  test::TempDir d;
  const auto exp =
      test::short_run(d, kRecall, "{name: DNC, " + kSmallDnc + "}", 300);
  ASSERT_FALSE(exp.empty());
  const auto loss = test::csv_column(exp / "training_statistics.csv", "loss");
  ASSERT_EQ(loss.size(), 300u);
  const double first = mean(loss, 0, 20), last = mean(loss, 280, 20);
  std::cout << "[ DNC      ] loss of the first 20 episodes " << first
            << ", of the last 20 " << last << "\n";
  EXPECT_LT(last, 0.75 * first);

  // The worker's checkpoint in a new model instance, saved again and read
  // into a third: all give the same outputs, which the untrained model
  // does not.
  auto p = problem("SerialRecallCommandLines",
                   "{batch_size: 8, min_sequence_length: 1, "
                   "max_sequence_length: 4}");
  at::Generator gen = test::seeded(11);
  const DataDict b = p->get_batch(test::range(8), gen);
  torch::manual_seed(100);
  auto loaded = model("DNC", *p, "{" + kSmallDnc + "}");
  const at::Tensor untrained = loaded->forward(b).at("predictions");
  load_checkpoint((exp / "models/model_last.pt").string(), *loaded);
  const at::Tensor trained = loaded->forward(b).at("predictions");
  EXPECT_FALSE(trained.equal(untrained));
  const std::string again = (d.path() / "again.pt").string();
  CheckpointMeta meta;
  meta.model_name = "DNC";
  save_checkpoint(again, *loaded, nullptr, meta);
  EXPECT_EQ(checkpoint_digest(again),
            checkpoint_digest((exp / "models/model_last.pt").string()));
  torch::manual_seed(200);
  auto reloaded = model("DNC", *p, "{" + kSmallDnc + "}");
  load_checkpoint(again, *reloaded);
  EXPECT_TRUE(reloaded->forward(b).at("predictions").equal(trained));
}

TEST_F(DncTraining, TheWorkerRunsWithTheMemoryTraceOn) {
  test::TempDir d;
  const auto exp = test::short_run(
      d, kRecall, "{name: DNC, " + kSmallDnc + ", plot_memory: true}", 10);
  ASSERT_FALSE(exp.empty());
  EXPECT_EQ(test::csv_column(exp / "training_statistics.csv", "loss").size(),
            10u);
}

}  // namespace dnc_test
}  // namespace mip
