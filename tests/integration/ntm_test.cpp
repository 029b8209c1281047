// The memory addressing primitives (mip_memory) on hand-computed cases, and
// the NTM and EncoderSolverNTM models (plugin mip_ntm) through the real
// loader, the real mip-online-trainer and its checkpoints.
#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <string>
#include <vector>

#include <mip/core/checkpoint.hpp>
#include <mip/memory/addressing.hpp>
#include <mip/memory/sequence_model.hpp>

#include "common/components.hpp"
#include "common/test_util.hpp"
#include "common/worker_runs.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace ntm_test {

namespace mm = mip::memory;
using test::error_of;

/// A [1, 1, n] tensor (one batch, one head) of `v`.
at::Tensor row(std::vector<float> v) {
  const auto n = static_cast<int64_t>(v.size());
  return at::tensor(v).view({1, 1, n});
}

/// Expects `got` to hold `want` (same shape) to 1e-6.
void expect_near(const at::Tensor& got, const at::Tensor& want) {
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(at::allclose(got, want, 1e-5, 1e-6)) << "got\n"
                                                   << got << "\nwant\n"
                                                   << want;
}

// --- circular shift: out[a] = sum_j shift[j] * w[(a + j - S/2) mod A] -----

TEST(CircularShift, OneHotMovesByHalfTheKernelMinusTheEntry) {
  const at::Tensor w = row({0, 0, 1, 0, 0});  // attention on address 2
  // S = 3: entry 0 moves forward by 1, entry 1 keeps, entry 2 moves back 1.
  expect_near(mm::circular_shift(w, row({1, 0, 0})), row({0, 0, 0, 1, 0}));
  expect_near(mm::circular_shift(w, row({0, 1, 0})), w);
  expect_near(mm::circular_shift(w, row({0, 0, 1})), row({0, 1, 0, 0, 0}));
  // S = 5: entries 0 and 4 move by +2 and -2.
  expect_near(mm::circular_shift(w, row({1, 0, 0, 0, 0})),
              row({0, 0, 0, 0, 1}));
  expect_near(mm::circular_shift(w, row({0, 0, 0, 0, 1})),
              row({1, 0, 0, 0, 0}));
}

TEST(CircularShift, WrapsAroundBothEnds) {
  // Forward from the last address lands on the first, back from the first
  // on the last.
  expect_near(mm::circular_shift(row({0, 0, 0, 1}), row({1, 0, 0})),
              row({1, 0, 0, 0}));
  expect_near(mm::circular_shift(row({1, 0, 0, 0}), row({0, 0, 1})),
              row({0, 0, 0, 1}));
}

TEST(CircularShift, SpreadWeightingMixesNeighbours) {
  // w = [.1 .2 .3 .4], shift [.5 .25 .25]:
  //   out[a] = .5 w[a-1] + .25 w[a] + .25 w[a+1]
  //   out[0] = .5*.4 + .25*.1 + .25*.2 = .275
  //   out[1] = .5*.1 + .25*.2 + .25*.3 = .175
  //   out[2] = .5*.2 + .25*.3 + .25*.4 = .275
  //   out[3] = .5*.3 + .25*.4 + .25*.1 = .275
  expect_near(
      mm::circular_shift(row({.1f, .2f, .3f, .4f}), row({.5f, .25f, .25f})),
      row({.275f, .175f, .275f, .275f}));
}

TEST(CircularShift, FewerAddressesThanShifts) {
  // A = 2, S = 5: moves of +2, +1, 0, -1, -2 taken mod 2.
  const at::Tensor w = row({1, 0});
  expect_near(mm::circular_shift(w, row({1, 0, 0, 0, 0})), row({1, 0}));
  expect_near(mm::circular_shift(w, row({0, 1, 0, 0, 0})), row({0, 1}));
  expect_near(mm::circular_shift(w, row({0, 0, 0, 1, 0})), row({0, 1}));
  expect_near(mm::circular_shift(w, row({0, 0, 0, 0, 1})), row({1, 0}));
  // A = 1: every move lands on the only address.
  expect_near(mm::circular_shift(row({1}), row({.2f, .3f, .5f})), row({1}));
}

TEST(CircularShift, EqualsMiPrometheusConvolutionPerSampleAndHead) {
  // MI-Prometheus: pad w with its last S/2 and first S/2 entries, then
  // cross-correlate (conv1d) each sample with its own kernel.
  auto gen = test::seeded(3);
  const int64_t b = 3, h = 2, a = 6, s = 3;
  const at::Tensor w = at::softmax(at::randn({b, h, a}, gen), -1);
  const at::Tensor k = at::softmax(at::randn({b, h, s}, gen), -1);
  const at::Tensor got = mm::circular_shift(w, k);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < h; ++j) {
      const at::Tensor x = w[i][j];
      const at::Tensor padded =
          at::cat({x.slice(0, a - s / 2), x, x.slice(0, 0, s / 2)});
      const at::Tensor want =
          at::conv1d(padded.view({1, 1, -1}), k[i][j].view({1, 1, -1}));
      expect_near(got[i][j], want.view({a}));
    }
}

TEST(CircularShift, EvenKernelIsAnError) {
  EXPECT_HAS(error_of([] {
               mm::circular_shift(row({1, 0}), row({.5f, .5f}));
             }),
             "shift size must be odd");
}

// --- sharpening, content, interpolation ---------------------------------

TEST(Sharpen, RaisesToGammaAndRenormalises) {
  // [.5 .25 .25]^2 = [.25 .0625 .0625], sum .375: [2/3 1/6 1/6].
  const at::Tensor w = row({.5f, .25f, .25f});
  expect_near(mm::sharpen(w, at::full({1, 1, 1}, 2.0)),
              row({2.f / 3, 1.f / 6, 1.f / 6}));
  expect_near(mm::sharpen(w, at::ones({1, 1, 1})), w);
}

TEST(ContentAddressing, CosineSimilarityWithZeroKeyAndAddress) {
  // Addresses [1 0], [0 1], [1 1], [0 0] against key [1 0]: cosines 1, 0,
  // 1/sqrt(2), and 0 for the zero address (no NaN).
  const at::Tensor memory =
      at::tensor({1.f, 0.f, 0.f, 1.f, 1.f, 1.f, 0.f, 0.f}).view({1, 4, 2});
  const float r = 1.f / std::sqrt(2.f);
  expect_near(mm::cosine_similarity(row({1, 0}), memory), row({1, 0, r, 0}));
  // A zero key is similar to nothing.
  expect_near(mm::cosine_similarity(row({0, 0}), memory), row({0, 0, 0, 0}));
  // Scale does not matter.
  expect_near(mm::cosine_similarity(row({3, 0}), memory), row({1, 0, r, 0}));
  // Weights: softmax of beta * similarity; beta 2 gives e^2, 1, e^(2r), 1.
  const float e2 = std::exp(2.f), er = std::exp(2.f * r);
  const float z = e2 + 1 + er + 1;
  expect_near(
      mm::content_weights(row({1, 0}), at::full({1, 1, 1}, 2.0), memory),
      row({e2 / z, 1 / z, er / z, 1 / z}));
}

TEST(ContentAddressing, GradientIsFiniteOnZeroMemory) {
  const at::Tensor key = row({.3f, .7f}).requires_grad_(true);
  const at::Tensor w =
      mm::content_weights(key, at::ones({1, 1, 1}), at::zeros({1, 3, 2}));
  expect_near(w, row({1.f / 3, 1.f / 3, 1.f / 3}));
  (w * at::arange(3).view({1, 1, 3})).sum().backward();
  EXPECT_TRUE(at::isfinite(key.grad()).all().item<bool>());
}

TEST(Interpolation, GateMixesContentAndPrevious) {
  // .25 * [1 0] + .75 * [0 1].
  expect_near(
      mm::interpolate(row({1, 0}), row({0, 1}), at::full({1, 1, 1}, .25)),
      row({.25f, .75f}));
}

// --- reading and writing ---------------------------------------------

TEST(Memory, ReadIsTheWeightedSumOfAddresses) {
  // M = [[1 2] [3 4]]; head 0 on address 0, head 1 at .25/.75:
  // [1 2] and .25*[1 2] + .75*[3 4] = [2.5 3.5].
  const at::Tensor memory = at::tensor({1.f, 2.f, 3.f, 4.f}).view({1, 2, 2});
  const at::Tensor w = at::tensor({1.f, 0.f, .25f, .75f}).view({1, 2, 2});
  expect_near(mm::read_memory(w, memory),
              at::tensor({1.f, 2.f, 2.5f, 3.5f}).view({1, 2, 2}));
}

TEST(Memory, EraseAndAddWithTwoHeads) {
  // M = [[1 2] [3 4]]; head 1: w [1 0], erase [1 0], add [10 0];
  // head 2: w [.5 .5], erase [0 1], add [0 2].
  //   keep = (1 - w1 e1^T) * (1 - w2 e2^T)
  //        = [[0 1] [1 1]] * [[1 .5] [1 .5]] = [[0 .5] [1 .5]]
  //   M * keep = [[0 1] [3 2]]
  //   + w1 a1^T = [[10 0] [0 0]], + w2 a2^T = [[0 1] [0 1]]
  //   M' = [[10 2] [3 3]]
  const at::Tensor memory = at::tensor({1.f, 2.f, 3.f, 4.f}).view({1, 2, 2});
  const at::Tensor w = at::tensor({1.f, 0.f, .5f, .5f}).view({1, 2, 2});
  const at::Tensor erase = at::tensor({1.f, 0.f, 0.f, 1.f}).view({1, 2, 2});
  const at::Tensor add = at::tensor({10.f, 0.f, 0.f, 2.f}).view({1, 2, 2});
  expect_near(mm::erase_and_add(memory, w, erase, add),
              at::tensor({10.f, 2.f, 3.f, 3.f}).view({1, 2, 2}));
}

// --- the models ------------------------------------------------------

/// Serial recall with 3 control and 4 data bits: batches of any size and
/// length, the store marker on bit 0 and the recall marker on bit 1.
constexpr const char* kRecall =
    "{control_bits: 3, data_bits: 4, batch_size: 4, min_sequence_length: 1, "
    "max_sequence_length: 6}";

class NtmModels : public test::Components,
                  public ::testing::WithParamInterface<std::string> {
 protected:
  std::shared_ptr<sdk::Problem> recall(const std::string& yaml = kRecall) {
    return problem("SerialRecallCommandLines", yaml);
  }
  std::shared_ptr<sdk::Model> build(const std::string& yaml = "") {
    if (!problem_)
      problem_ = recall();
    return model(GetParam(), *problem_, yaml);
  }
  /// A serial-recall batch of `b` samples of `len` items.
  sdk::DataDict batch(int64_t b, int64_t len, uint64_t seed = 1) {
    auto p = recall(
        "{control_bits: 3, data_bits: 4, batch_size: " + std::to_string(b) +
        ", min_sequence_length: " + std::to_string(len) +
        ", max_sequence_length: " + std::to_string(len) + "}");
    auto gen = test::seeded(seed);
    return p->get_batch(test::range(b), gen);
  }
  static mm::SequenceMemoryModel& traces(sdk::Model& m) {
    auto* t = dynamic_cast<mm::SequenceMemoryModel*>(&m);
    EXPECT_NE(t, nullptr) << "the model offers no memory trace";
    return *t;
  }
  std::shared_ptr<sdk::Problem> problem_;
};

TEST_P(NtmModels, PredictionsAndTraceFollowBatchAndLength) {
  auto m =
      build("{interface: {num_read_heads: 2}, memory: {num_content_bits: 10}}");
  auto& t = traces(*m);
  m->forward(batch(2, 2));
  EXPECT_EQ(t.memory_trace().size(), 0u);  // off by default
  t.set_plot_memory(true);
  for (const int64_t b : {1, 3, 8})
    for (const int64_t len : {1, 3, 6}) {
      const sdk::DataDict x = batch(b, len);
      const int64_t steps = x.at("sequences").size(1);
      const sdk::DataDict out = m->forward(x);
      const at::Tensor y = out.at("predictions");
      EXPECT_EQ(y.sizes(), (at::IntArrayRef{b, steps, 4}));
      EXPECT_TRUE(at::isfinite(y).all().item<bool>());
      // num_addresses -1: as many addresses as input steps.
      const sdk::DataDict& tr = t.memory_trace();
      EXPECT_EQ(tr.size(), 3u);
      EXPECT_EQ(tr.at("memory").sizes(),
                (at::IntArrayRef{b, steps, steps, 10}));
      EXPECT_EQ(tr.at("read_weights").sizes(),
                (at::IntArrayRef{b, steps, 2, steps}));
      EXPECT_EQ(tr.at("write_weights").sizes(),
                (at::IntArrayRef{b, steps, 1, steps}));
      expect_near(tr.at("read_weights").sum(-1), at::ones({b, steps, 2}));
      expect_near(tr.at("write_weights").sum(-1), at::ones({b, steps, 1}));
      EXPECT_FALSE(tr.at("memory").requires_grad());
      // The forward's outputs carry the same tensors.
      EXPECT_TRUE(out.at("memory").equal(tr.at("memory")));
    }
  t.set_plot_memory(false);
  m->forward(batch(2, 2));
  EXPECT_EQ(t.memory_trace().size(), 0u);
  // plot_memory in the configuration turns it on from the start.
  auto on = build("{plot_memory: true}");
  on->forward(batch(2, 3));
  EXPECT_EQ(traces(*on).memory_trace().size(), 3u);
}

TEST_P(NtmModels, FixedMemorySizeIgnoresTheLength) {
  auto m = build("{memory: {num_addresses: 7, num_content_bits: 5}}");
  auto& t = traces(*m);
  t.set_plot_memory(true);
  for (const int64_t len : {1, 5}) {
    const sdk::DataDict x = batch(2, len);
    m->forward(x);
    EXPECT_EQ(t.memory_trace().at("memory").sizes(),
              (at::IntArrayRef{2, x.at("sequences").size(1), 7, 5}));
  }
}

/// Backward of the problem's loss on one batch: every parameter has a
/// gradient, non-zero somewhere. The names of those that do not.
std::string without_gradient(sdk::Model& m,
                             sdk::Problem& p,
                             const sdk::DataDict& b) {
  m.zero_grad();
  p.evaluate_loss(b, m.forward(b)).backward();
  std::string missing;
  for (const auto& item : m.named_parameters()) {
    const at::Tensor& g = item.value().grad();
    if (!g.defined() || g.abs().sum().item<double>() == 0.0)
      missing += " " + item.key();
  }
  return missing;
}

TEST_P(NtmModels, GradientsReachEveryParameterWithEachController) {
  // The loss over every step (no mask): with the mask, EncoderSolverNTM's
  // encoder output layer rightly gets no gradient (its steps are not
  // scored).
  problem_ = recall(
      "{control_bits: 3, data_bits: 4, batch_size: 4, min_sequence_length: 1, "
      "max_sequence_length: 6, use_mask: false}");
  for (const std::string c :
       {"{name: FeedforwardController}", "{name: RNNController}",
        "{name: RNNController, non_linearity: tanh, num_layers: 2}",
        "{name: GRUController}", "{name: LSTMController, num_layers: 2}",
        "{name: FFGRUController, ff_output_size: 12}"}) {
    for (const char* content : {"true", "false"}) {
      SCOPED_TRACE(c + std::string(" content addressing ") + content);
      auto m = build("{controller: " + c +
                     ", interface: {num_read_heads: 2, "
                     "use_content_based_addressing: " +
                     content + "}}");
      const sdk::DataDict b = batch(4, 5);
      EXPECT_EQ(without_gradient(*m, *problem_, b), "");
    }
  }
}

TEST_P(NtmModels, BadKeysNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{memory: {num_content_bits: 0}}",
       "[model.memory.num_content_bits] must be >= 1, got 0"},
      {"{memory: {num_addresses: 0}}", "[model.memory.num_addresses] must be"},
      {"{interface: {num_read_heads: 0}}",
       "[model.interface.num_read_heads] must be >= 1, got 0"},
      {"{interface: {shift_size: 4}}",
       "[model.interface.shift_size] must be odd"},
      {"{controller: {hidden_state_size: 0}}",
       "[model.controller.hidden_state_size] must be >= 1, got 0"},
      {"{controller: {name: TransformerController}}",
       "[model.controller.name] is 'TransformerController'"},
      {"{controller: {name: RNNController, non_linearity: none}}",
       "[model.controller.non_linearity]"},
      {"{controller: {name: FFGRUController}}",
       "[model.controller.ff_output_size] is required"},
  };
  for (const auto& [yaml, message] : cases)
    EXPECT_HAS(error_of([&] { build(yaml); }), message);
}

/// The rows' mean `column` over the first and the last `n` rows of a CSV.
std::pair<double, double> first_and_last(const std::filesystem::path& csv,
                                         const std::string& column,
                                         size_t n) {
  const std::vector<double> v = test::csv_column(csv, column);
  EXPECT_GE(v.size(), 2 * n) << csv;
  if (v.size() < 2 * n)
    return {0, 0};
  double first = 0, last = 0;
  for (size_t i = 0; i < n; ++i) {
    first += v[i] / double(n);
    last += v[v.size() - 1 - i] / double(n);
  }
  return {first, last};
}

/// A seeded serial-recall experiment training model `name` for `episodes`.
std::string recall_experiment(const test::TempDir& d,
                              const std::string& name,
                              int episodes) {
  const std::string problem =
      "{name: SerialRecallCommandLines, control_bits: 3, data_bits: 8, "
      "batch_size: 32, min_sequence_length: 1, max_sequence_length: 4}";
  return d.write(
      "config.yaml",
      "training:\n  seed_torch: 7\n  seed_numpy: 7\n  problem: " + problem +
          "\n  optimizer: {name: Adam, lr: 0.01}\n  gradient_clipping: 10\n"
          "  terminal_conditions: {episode_limit: " +
          std::to_string(episodes) +
          ", loss_stop: 0.0}\n"
          "validation:\n  partial_validation_interval: 100\n  problem: " +
          problem.substr(0, problem.size() - 1) + ", size: 64}" +
          "\nmodel:\n  name: " + name +
          "\n  controller: {name: RNNController, hidden_state_size: 32, "
          "num_layers: 1, non_linearity: sigmoid}\n"
          "  interface: {num_read_heads: 1, shift_size: 3}\n"
          "  memory: {num_content_bits: 10, num_addresses: -1}\n");
}

TEST_P(NtmModels, ShortTrainingOnSerialRecallLowersTheLoss) {
  const test::RunResult r = test::run(
      test::kOnline + " --config " + recall_experiment(dir_, GetParam(), 400) +
      " --expdir " + folder("exp") + " --li 10");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto exp =
      test::only_experiment(dir_.path() / "exp", "training_statistics.csv");
  const auto [first, last] =
      first_and_last(exp / "training_statistics.csv", "loss", 40);
  // Measured: NTM 0.696 -> 0.579, EncoderSolverNTM 0.697 -> 0.499.
  EXPECT_LT(last, 0.9 * first) << "first rows " << first << ", last " << last;
}

TEST_P(NtmModels, CheckpointRoundTripRestoresOutputs) {
  const test::RunResult r = test::run(test::kOnline + " --config " +
                                      recall_experiment(dir_, GetParam(), 30) +
                                      " --expdir " + folder("exp"));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto exp =
      test::only_experiment(dir_.path() / "exp", "training_statistics.csv");
  const std::string saved = (exp / "models" / "model_last.pt").string();
  const std::string yaml =
      "{controller: {hidden_state_size: 32}, memory: {num_content_bits: 10}}";
  problem_ = recall(
      "{control_bits: 3, data_bits: 8, batch_size: 4, min_sequence_length: "
      "1, max_sequence_length: 4}");
  auto gen = test::seeded(11);
  const sdk::DataDict b = problem_->get_batch(test::range(5), gen);
  // Two fresh instances (different initial weights) give the same outputs
  // once loaded, and not before.
  at::manual_seed(1);
  auto one = build(yaml);
  at::manual_seed(2);
  auto two = build(yaml);
  const at::Tensor before = one->forward(b).at("predictions");
  EXPECT_FALSE(at::equal(before, two->forward(b).at("predictions")));
  load_checkpoint(saved, *one);
  load_checkpoint(saved, *two);
  const at::Tensor after = one->forward(b).at("predictions");
  EXPECT_TRUE(at::equal(after, two->forward(b).at("predictions")));
  EXPECT_FALSE(at::equal(after, before));
}

INSTANTIATE_TEST_SUITE_P(Models,
                         NtmModels,
                         ::testing::Values("NTM", "EncoderSolverNTM"));

// --- EncoderSolverNTM's switch -----------------------------------------

class EncoderSolverNtm : public test::Components {};

/// Adds `delta` to every parameter whose name starts with `prefix`.
void nudge(sdk::Model& m, const std::string& prefix, double delta) {
  torch::NoGradGuard no_grad;
  for (const auto& item : m.named_parameters())
    if (item.key().rfind(prefix, 0) == 0)
      item.value().add_(delta);
}

TEST_F(EncoderSolverNtm, EachSampleSwitchesAtItsOwnRecallMarker) {
  auto p = problem("SerialRecallCommandLines", kRecall);
  for (const char* pass : {"false", "true"}) {
    SCOPED_TRACE(std::string("pass_cell_state ") + pass);
    auto m = model("EncoderSolverNTM", *p,
                   std::string("{pass_cell_state: ") + pass + "}");
    // Sample 0 recalls from step 2, sample 1 from step 4 (bit 0 stores,
    // bit 1 recalls; data on bits 3..6).
    at::Tensor x = at::zeros({2, 7, 7});
    x.select(2, 0).slice(1, 0, 1).fill_(1);
    x.slice(2, 3).slice(1, 1, 4).fill_(1);
    x[0][2][1] = 1;
    x[1][4][1] = 1;
    sdk::DataDict b;
    b["sequences"] = x;
    const at::Tensor base = m->forward(b).at("predictions");
    nudge(*m, "solver.", 0.05);
    const at::Tensor moved = m->forward(b).at("predictions");
    const at::Tensor same = (base - moved).abs().amax(-1) == 0;  // [B, T]
    for (int64_t t = 0; t < 7; ++t) {
      EXPECT_EQ(same[0][t].item<bool>(), t < 2) << "sample 0 step " << t;
      EXPECT_EQ(same[1][t].item<bool>(), t < 4) << "sample 1 step " << t;
    }
    // The solver reads what the encoder wrote: the encoder's weights move
    // the solver's steps too.
    nudge(*m, "encoder.interface.hidden2write_params", 0.05);
    const at::Tensor enc = m->forward(b).at("predictions");
    EXPECT_GT((enc - moved).abs().slice(1, 4).amin().item<double>(), 0.0);
  }
}

TEST_F(EncoderSolverNtm, BitsDefaultToTheProblemsAndMustDiffer) {
  auto p = problem("SerialRecallCommandLines", kRecall);
  EXPECT_NO_THROW(model("EncoderSolverNTM", *p));
  EXPECT_HAS(error_of([&] {
               model("EncoderSolverNTM", *p,
                     "{encoding_bit: 1, solving_bit: 1}");
             }),
             "must differ");
  EXPECT_HAS(
      error_of([&] { model("EncoderSolverNTM", *p, "{solving_bit: 99}"); }),
      "[model.solving_bit] must be an input bit in [0, 7), got 99");
}

// --- MI-Prometheus's own files -----------------------------------------

/// Three of MI-Prometheus's files for these models as its users have them
/// (default_configs named from the repository root, its comments, Python's
/// True/False), run from the repository root for a few episodes.
TEST(NtmConfigs, MiPrometheusFilesRunUnchanged) {
  const std::vector<std::string> files = {
      // configs/ntm/serial_recall_no_mask.yaml
      "default_configs:\n    configs/ntm/serial_recall.yaml\n\n"
      "# Problem parameters:\ntraining:\n    problem:\n"
      "        use_mask: False\n\nvalidation:\n    problem:\n"
      "        use_mask: False\n\ntesting:\n    problem:\n"
      "        use_mask: False\n",
      // configs/maes_baselines/ntm/ntm_serial_recall.yaml
      "# Load the following (default) configs first.\ndefault_configs: \n"
      "    configs/maes_baselines/ntm/default_ntm.yaml,\n"
      "    configs/maes_baselines/default_problem.yaml, \n"
      "    configs/maes_baselines/default_training.yaml\n\n"
      "training:\n    problem:\n        name: &name SerialRecallCommandLines\n"
      "\nvalidation:\n    problem:\n        name: *name \n"
      "\ntesting:\n    problem:\n        name: *name \n",
      // configs/maes_baselines/es_ntm/es_ntm_serial_recall.yaml
      "default_configs: \n"
      "    configs/maes_baselines/default_problem.yaml, \n"
      "    configs/maes_baselines/default_training.yaml\n\n"
      "training:\n    problem:\n        name: &name SerialRecallCommandLines\n"
      "validation:\n    problem:\n        name: *name \n"
      "testing:\n    problem:\n        name: *name \n\n"
      "model:\n    name: EncoderSolverNTM\n"
      "    # Optional parameter: visualization.\n"
      "    #visualization_mode: 2\n"
      "    pass_cell_state: True\n"
      "    controller:\n        name: RNNController\n"
      "        hidden_state_size: 20\n        num_layers: 1\n"
      "        non_linearity: sigmoid\n"
      "    interface:\n        shift_size: 3\n        num_read_heads: 1\n"
      "        use_content_based_addressing: False\n"
      "    memory:\n        num_content_bits: 15\n"
      "        num_addresses: -1\n"};
  for (size_t i = 0; i < files.size(); ++i) {
    test::TempDir d;
    const std::string file = d.write("mip.yaml", files[i]);
    const test::RunResult r =
        test::run("cd " + test::kSource + " && " + test::kOnline +
                  " --config " + file + " --expdir " + d.str() +
                  "/exp --set training.terminal_conditions.episode_limit=3"
                  " --set validation.partial_validation_interval=2"
                  " --set training.problem.batch_size=8"
                  " --set validation.problem.batch_size=8"
                  " --set validation.problem.min_sequence_length=4"
                  " --set validation.problem.max_sequence_length=4"
                  " --set validation.problem.size=16");
    EXPECT_EQ(r.code, 0) << files[i] << "\n" << r.output;
    EXPECT_EQ(test::lines(test::only_experiment(d.path() / "exp") /
                          "training_statistics.csv"),
              4u);
  }
}

}  // namespace ntm_test
}  // namespace mip
