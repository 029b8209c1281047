// The encoder-solver models (plugin mip_encoder_solver: EncoderSolverLSTM,
// MAES) and the LSTM's fused path (plugin mip_lstm), through the real loader
// and the real mip-online-trainer: shapes, where the models switch, gradients,
// a short training, checkpoints, MAES's encoder transfer, the memory trace,
// parameter errors; the fused LSTM against a step-by-step reference.
#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <mip/core/checkpoint.hpp>
#include <mip/memory/sequence_model.hpp>

#include "common/components.hpp"
#include "common/test_util.hpp"
#include "common/worker_runs.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace encoder_solver_test {

namespace fs = std::filesystem;
using test::seeded;

// Serial recall with 3 control and 8 data bits, lengths `min`..`max`.
std::string serial_recall(int64_t batch, int64_t min, int64_t max) {
  return "{control_bits: 3, data_bits: 8, batch_size: " +
         std::to_string(batch) +
         ", min_sequence_length: " + std::to_string(min) +
         ", max_sequence_length: " + std::to_string(max) + "}";
}

const char* const kEsLstm = "{hidden_state_size: 16}";
const char* const kMaes = "{controller: {hidden_state_size: 12}}";

at::Tensor predictions(sdk::Model& m, const sdk::DataDict& batch) {
  return m.forward(batch).at("predictions");
}

std::map<std::string, at::Tensor> params(const torch::nn::Module& m) {
  std::map<std::string, at::Tensor> out;
  for (const auto& p : m.named_parameters())
    out[p.key()] = p.value().detach().clone();
  return out;
}

/// The parameters whose name starts with `prefix`.
std::map<std::string, at::Tensor> starting(
    const std::map<std::string, at::Tensor>& all, const std::string& prefix) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [k, v] : all)
    if (k.rfind(prefix, 0) == 0)
      out[k] = v;
  return out;
}

void expect_equal(const std::map<std::string, at::Tensor>& a,
                  const std::map<std::string, at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (const auto& [k, v] : a) {
    ASSERT_TRUE(b.count(k)) << k;
    EXPECT_TRUE(at::equal(v, b.at(k))) << k;
  }
}

class EncoderSolver : public test::Components {
 protected:
  std::shared_ptr<sdk::Problem> task(int64_t min, int64_t max) {
    return problem("SerialRecallCommandLines", serial_recall(4, min, max));
  }
  std::shared_ptr<sdk::Problem> unmasked() {
    return problem("SerialRecallCommandLines",
                   "{control_bits: 3, data_bits: 8, batch_size: 4, "
                   "min_sequence_length: 2, "
                   "max_sequence_length: 6, use_mask: false}");
  }
  sdk::DataDict batch(sdk::Problem& p, int64_t b, uint64_t seed = 1) {
    at::Generator gen = seeded(seed);
    return p.get_batch(test::range(b), gen);
  }
  /// The first step at which the recall bit (1) is on.
  static int64_t recall_step(const sdk::DataDict& batch) {
    const at::Tensor on = batch.at("sequences").select(0, 0).select(1, 1);
    for (int64_t t = 0; t < on.size(0); ++t)
      if (on[t].item<float>() != 0)
        return t;
    return -1;
  }
  /// Each named parameter's gradient after one backward of the problem's
  /// loss: defined and non-zero somewhere, except those under a `frozen`
  /// prefix, which get none.
  void expect_gradients_reach(sdk::Model& m,
                              sdk::Problem& p,
                              const std::vector<std::string>& frozen = {}) {
    const sdk::DataDict b = batch(p, 8);
    p.evaluate_loss(b, m.forward(b)).backward();
    int64_t checked = 0;
    for (const auto& w : m.named_parameters()) {
      bool freeze = false;
      for (const auto& f : frozen)
        freeze = freeze || w.key().rfind(f, 0) == 0;
      if (freeze) {
        EXPECT_FALSE(w.value().requires_grad()) << w.key();
        EXPECT_FALSE(w.value().grad().defined()) << w.key();
        continue;
      }
      ASSERT_TRUE(w.value().grad().defined()) << w.key();
      EXPECT_GT(w.value().grad().abs().sum().item<double>(), 0) << w.key();
      ++checked;
    }
    EXPECT_GT(checked, 0);
  }
};

// --- shapes and switching
// -----------------------------------------------------

TEST_F(EncoderSolver, ForwardShapesForSeveralBatchSizesAndLengths) {
  // EncoderSolverLSTM with 16 units runs the fused LSTM, with 128 the cells.
  for (const auto& [name, yaml] :
       std::vector<std::pair<std::string, std::string>>{
           {"EncoderSolverLSTM", kEsLstm},
           {"EncoderSolverLSTM", "{hidden_state_size: 128}"},
           {"MAES", kMaes}}) {
    for (const auto& [b, len] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 1}, {3, 4}, {8, 7}, {5, 12}}) {
      auto p = task(len, len);
      auto m = model(name, *p, yaml);
      const sdk::DataDict x = batch(*p, b);
      const at::Tensor y = predictions(*m, x);
      EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{b, 2 * len + 2, 8}))
          << name << " " << yaml << " batch " << b << " length " << len;
      EXPECT_TRUE(y.isfinite().all().item<bool>()) << name;
    }
  }
}

// Changing the solver's weights changes the outputs from the recall marker
// on, never before it; changing the encoder's output layer, only before.
TEST_F(EncoderSolver, EncoderRunsUntilTheRecallBitAndTheSolverFromIt) {
  auto p = task(5, 5);
  const std::map<std::string, std::string> parts = {
      {"EncoderSolverLSTM", "solver."}, {"MAES", "solver."}};
  for (const auto& [name, solver] : parts) {
    auto m = model(name, *p, name == "MAES" ? kMaes : kEsLstm);
    const sdk::DataDict x = batch(*p, 4);
    const int64_t r = recall_step(x);
    ASSERT_EQ(r, 6);  // store marker, 5 items, recall marker
    const at::Tensor before = predictions(*m, x);
    {
      torch::NoGradGuard no_grad;
      for (auto& w : m->named_parameters())
        if (w.key().rfind(solver, 0) == 0)
          w.value().add_(0.5);
    }
    const at::Tensor after = predictions(*m, x);
    EXPECT_TRUE(at::equal(before.narrow(1, 0, r), after.narrow(1, 0, r)))
        << name;
    const int64_t solver_steps = before.size(1) - r;
    EXPECT_GT(
        (before.narrow(1, r, solver_steps) - after.narrow(1, r, solver_steps))
            .abs()
            .min()
            .item<double>(),
        0)
        << name << ": every solver step must depend on the solver";
  }
}

TEST_F(EncoderSolver, BothControlBitsOnAtOneStepIsAnError) {
  auto p = task(3, 3);
  auto m = model("MAES", *p, kMaes);
  sdk::DataDict x = batch(*p, 2);
  x["sequences"] = x.at("sequences").clone();
  x["sequences"].select(1, 2).select(1, 1).fill_(1);  // recall on an item
  x["sequences"].select(1, 2).select(1, 0).fill_(1);  // and store
  try {
    m->forward(x);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_HAS(std::string(e.what()),
               "MAES: the store bit (encoding_bit 0) and the recall bit "
               "(solving_bit 1) are both on at step 2 of the first sample");
  }
}

// --- gradients
// -----------------------------------------------------------------

// The loss over every step (use_mask false): with the mask, the encoder's
// output layer feeds nothing that counts, in MI-Prometheus as here.
TEST_F(EncoderSolver, GradientsReachEveryParameter) {
  auto p = unmasked();
  for (const char* controller : {"RNNController", "LSTMController",
                                 "GRUController", "FeedforwardController"}) {
    auto m = model("MAES", *p,
                   std::string("{controller: {name: ") + controller +
                       ", hidden_state_size: 12}}");
    SCOPED_TRACE(controller);
    expect_gradients_reach(*m, *p);
  }
  auto es =
      model("EncoderSolverLSTM", *p, "{hidden_state_size: 16, num_layers: 2}");
  expect_gradients_reach(*es, *p);
}

// MI-Prometheus freezes the encoder's controller and interface; its output
// layer still learns.
TEST_F(EncoderSolver, AFrozenEncoderGetsNoGradient) {
  auto p = unmasked();
  auto m = model("MAES", *p, "{freeze_encoder: true}");
  expect_gradients_reach(*m, *p, {"encoder.controller.", "encoder.interface."});
}

// --- the memory trace
// -----------------------------------------------------------

TEST_F(EncoderSolver, MaesTracesMemoryAndAttentionOnlyWhenAsked) {
  auto p = task(4, 4);
  auto m = model("MAES", *p, kMaes);
  auto* traced = dynamic_cast<memory::SequenceMemoryModel*>(m.get());
  ASSERT_NE(traced, nullptr);
  const sdk::DataDict x = batch(*p, 3);
  EXPECT_EQ(m->forward(x).size(), 1u);  // predictions only
  EXPECT_TRUE(traced->memory_trace().size() == 0u);
  traced->set_plot_memory(true);
  const sdk::DataDict out = m->forward(x);
  const sdk::DataDict& t = traced->memory_trace();
  const int64_t steps = 10, r = recall_step(x);
  // num_addresses -1: one address per input step; 15 content bits.
  EXPECT_EQ(t.at("memory").sizes().vec(),
            (std::vector<int64_t>{3, steps, steps, 15}));
  EXPECT_EQ(t.at("write_weights").sizes().vec(),
            (std::vector<int64_t>{3, steps, 1, steps}));
  EXPECT_EQ(t.at("read_weights").sizes().vec(),
            (std::vector<int64_t>{3, steps, 1, steps}));
  EXPECT_TRUE(at::equal(out.at("memory"), t.at("memory")));
  EXPECT_FALSE(t.at("memory").requires_grad());
  // The encoder writes (attention sums to 1) and reads nothing; the solver
  // reads, writes nothing and leaves the memory as the encoder left it.
  const at::Tensor w = t.at("write_weights").sum({2, 3}),
                   rd = t.at("read_weights").sum({2, 3});
  const at::Tensor mem = t.at("memory");
  EXPECT_TRUE(at::allclose(w.narrow(1, 0, r), at::ones({3, r}), 1e-5, 1e-5));
  EXPECT_TRUE(at::equal(rd.narrow(1, 0, r), at::zeros({3, r})));
  EXPECT_TRUE(at::equal(w.narrow(1, r, steps - r), at::zeros({3, steps - r})));
  EXPECT_GT(rd.narrow(1, r, steps - r).min().item<double>(), 0);
  EXPECT_GT(mem.select(1, r - 1).abs().sum().item<double>(), 0);
  for (int64_t s = r; s < steps; ++s)
    EXPECT_TRUE(at::equal(mem.select(1, s), mem.select(1, r - 1)));
  traced->set_plot_memory(false);
  m->forward(x);
  EXPECT_TRUE(traced->memory_trace().size() == 0u);
  // Asked for in the configuration, and a fixed memory size.
  auto fixed =
      model("MAES", *p, "{visualization_mode: 2, memory: {num_addresses: 30}}");
  fixed->forward(x);
  EXPECT_EQ(dynamic_cast<memory::SequenceMemoryModel*>(fixed.get())
                ->memory_trace()
                .at("memory")
                .sizes()
                .vec(),
            (std::vector<int64_t>{3, steps, 30, 15}));
}

// --- checkpoints
// ----------------------------------------------------------------

TEST_F(EncoderSolver, CheckpointRoundTripRestoresIdenticalOutputs) {
  auto p = task(3, 6);
  const sdk::DataDict x = batch(*p, 5);
  for (const char* name : {"EncoderSolverLSTM", "MAES"}) {
    const std::string yaml = std::string(name) == "MAES" ? kMaes : kEsLstm;
    at::manual_seed(1);
    auto saved = model(name, *p, yaml);
    const std::string file = folder(std::string(name) + ".pt");
    save_checkpoint(file, *saved, nullptr, CheckpointMeta{name});
    at::manual_seed(2);
    auto loaded = model(name, *p, yaml);
    ASSERT_FALSE(at::equal(predictions(*saved, x), predictions(*loaded, x)));
    load_checkpoint(file, *loaded);
    EXPECT_TRUE(at::equal(predictions(*saved, x), predictions(*loaded, x)))
        << name;
  }
}

// --- training through the worker
// ------------------------------------------------

/// A short seeded serial-recall training (batches of 32, 1-5 items) of
/// `model` (a flow map) under `d`/`sub`: its experiment folder.
fs::path train(const test::TempDir& d,
               const std::string& sub,
               const std::string& model,
               int episodes) {
  return test::short_run(
      d,
      "{name: SerialRecallCommandLines, control_bits: 3, data_bits: 8, "
      "batch_size: 32, min_sequence_length: 1, max_sequence_length: 5, "
      "size: 640}",
      model, episodes, sub);
}

double mean(const std::vector<double>& v, size_t from, size_t n) {
  double s = 0;
  for (size_t i = from; i < from + n; ++i)
    s += v.at(i);
  return s / double(n);
}

void expect_loss_lowered(const fs::path& exp) {
  const auto loss = test::csv_column(exp / "training_statistics.csv", "loss");
  ASSERT_GE(loss.size(), 20u);
  const double first = mean(loss, 0, 10),
               last = mean(loss, loss.size() - 10, 10);
  EXPECT_LT(last, 0.8 * first) << "first " << first << ", last " << last;
}

TEST_F(EncoderSolver, ShortSeededTrainingLowersTheLoss) {
  // MAES learns more slowly at first: 600 episodes (300 for the LSTM).
  for (const auto& [sub, m, episodes] :
       std::vector<std::tuple<std::string, std::string, int>>{
           {"es_lstm", "{name: EncoderSolverLSTM, hidden_state_size: 32}", 300},
           {"maes", "{name: MAES}", 600}}) {
    SCOPED_TRACE(sub);
    const fs::path exp = train(dir_, sub, m, episodes);
    ASSERT_FALSE(exp.empty());
    expect_loss_lowered(exp);
    // The worker's checkpoint, loaded in two new instances built from other
    // seeds, gives both the same outputs (and not those of a new one).
    auto p = task(2, 5);
    const sdk::DataDict x = batch(*p, 6);
    const std::string yaml = sub == "maes" ? "" : "{hidden_state_size: 32}";
    const std::string name = sub == "maes" ? "MAES" : "EncoderSolverLSTM";
    at::manual_seed(11);
    auto a = model(name, *p, yaml);
    const at::Tensor fresh = predictions(*a, x);
    load_checkpoint((exp / "models/model_last.pt").string(), *a);
    at::manual_seed(12);
    auto b = model(name, *p, yaml);
    load_checkpoint((exp / "models/model_last.pt").string(), *b);
    EXPECT_TRUE(at::equal(predictions(*a, x), predictions(*b, x)));
    EXPECT_FALSE(at::equal(predictions(*a, x), fresh));
  }
}

// MI-Prometheus's transfer recipe: train with save_encoder, then train
// another run with load_encoder and freeze_encoder.
TEST_F(EncoderSolver, SavedEncoderLoadsFrozenIntoAnotherRunAndStaysUnchanged) {
  const fs::path first =
      train(dir_, "first", "{name: MAES, save_encoder: true}", 100);
  ASSERT_FALSE(first.empty());
  const fs::path file = first / "models/encoder_best.pt";
  ASSERT_TRUE(fs::is_regular_file(file));
  auto p = task(2, 5);
  // The file holds the best model's encoder controller and interface.
  auto best = model("MAES", *p);
  load_checkpoint((first / "models/model_best.pt").string(), *best);
  auto from_file = model("MAES", *p, "{load_encoder: " + file.string() + "}");
  for (const char* part : {"encoder.controller.", "encoder.interface."})
    expect_equal(starting(params(*best), part),
                 starting(params(*from_file), part));

  const fs::path second = train(
      dir_, "second",
      "{name: MAES, load_encoder: " + file.string() + ", freeze_encoder: true}",
      60);
  ASSERT_FALSE(second.empty());
  auto trained = model("MAES", *p);
  load_checkpoint((second / "models/model_last.pt").string(), *trained);
  const auto after = params(*trained), saved = params(*from_file);
  for (const char* part : {"encoder.controller.", "encoder.interface."})
    expect_equal(starting(after, part), starting(saved, part));
  // The rest learned.
  EXPECT_FALSE(at::equal(after.at("solver.hidden2output.weight"),
                         saved.at("solver.hidden2output.weight")));
}

// --- parameter errors
// -----------------------------------------------------------

TEST_F(EncoderSolver, BadParametersNameTheirKey) {
  auto p = task(2, 3);
  const std::string text = dir_.write("not_an_encoder.pt", "PK not a zip");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{memory: {num_content_bits: 0}}",
       "[model.memory.num_content_bits] must be >= 1, got 0"},
      {"{memory: {num_addresses: 0}}",
       "[model.memory.num_addresses] must be >= 1, or -1"},
      {"{mae_interface: {shift_size: 2}}",
       "[model.mae_interface.shift_size] must be odd"},
      {"{mas_interface: {shift_size: 0}}",
       "[model.mas_interface.shift_size] must be >= 1, got 0"},
      {"{controller: {hidden_state_size: 0}}",
       "[model.controller.hidden_state_size] must be >= 1, got 0"},
      {"{controller: {name: Transformer}}",
       "[model.controller.name] is 'Transformer'"},
      {"{solving_bit: 0}",
       "[model.solving_bit] must differ from encoding_bit, both are 0"},
      {"{encoding_bit: 11}",
       "[model.encoding_bit] must index a bit of the input item (0..10), got "
       "11"},
      {"{load_encoder: " + folder("none.pt") + "}",
       "[model.load_encoder]: encoder file [" + folder("none.pt") +
           "] not found"},
      {"{load_encoder: " + text + "}",
       "[model.load_encoder]: [" + text + "] is not a MAES encoder file"},
  };
  for (const auto& [yaml, message] : cases) {
    try {
      model("MAES", *p, yaml);
      ADD_FAILURE() << yaml << ": no error";
    } catch (const ParameterError& e) {
      EXPECT_HAS(std::string(e.what()), message);
    }
  }
  try {
    model("EncoderSolverLSTM", *p, "{hidden_state_size: 0}");
    ADD_FAILURE() << "no error";
  } catch (const ParameterError& e) {
    EXPECT_HAS(std::string(e.what()),
               "[model.hidden_state_size] must be >= 1, got 0");
  }
}

TEST_F(EncoderSolver, AnEncoderOfAnotherShapeIsRefusedNamingFileAndKey) {
  const fs::path exp =
      train(dir_, "small", "{name: MAES, save_encoder: true}", 20);
  ASSERT_FALSE(exp.empty());
  const std::string file = (exp / "models/encoder_best.pt").string();
  auto p = task(2, 3);
  try {
    model("MAES", *p,
          "{load_encoder: " + file + ", memory: {num_content_bits: 10}}");
    FAIL() << "no error";
  } catch (const ParameterError& e) {
    EXPECT_HAS(std::string(e.what()),
               "[model.load_encoder]: [" + file +
                   "] holds interface.hidden2write_params.weight of shape "
                   "[34, 20], this configuration needs [24, 20]");
  }
}

// --- the LSTM's fused path
// --------------------------------------------------------

/// The LSTM as 0.1.0 ran it: one cell per layer stepped over time
/// (at::lstm_cell, what torch::nn::LSTMCell calls), then the linear layer;
/// with the parameter names its checkpoints carry.
struct StepByStepLstm : torch::nn::Module {
  StepByStepLstm(int64_t in, int64_t hidden, int64_t layers, int64_t out) {
    for (int64_t l = 0; l < layers; ++l) {
      auto cell = register_module("lstm_" + std::to_string(l),
                                  std::make_shared<torch::nn::Module>());
      const int64_t i = l == 0 ? in : hidden;
      cells.push_back(
          {cell->register_parameter("weight_ih",
                                    at::randn({4 * hidden, i}) * 0.3),
           cell->register_parameter("weight_hh",
                                    at::randn({4 * hidden, hidden}) * 0.3),
           cell->register_parameter("bias_ih", at::randn({4 * hidden}) * 0.3),
           cell->register_parameter("bias_hh", at::randn({4 * hidden}) * 0.3)});
    }
    auto lin = register_module("linear", std::make_shared<torch::nn::Module>());
    weight = lin->register_parameter("weight", at::randn({out, hidden}) * 0.3);
    bias = lin->register_parameter("bias", at::randn({out}) * 0.3);
  }
  at::Tensor forward(const at::Tensor& x) {
    const int64_t hidden = cells[0][1].size(1);
    std::vector<at::Tensor> h(cells.size()), c(cells.size()), outputs;
    for (size_t l = 0; l < cells.size(); ++l)
      h[l] = c[l] = at::zeros({x.size(0), hidden});
    for (int64_t t = 0; t < x.size(1); ++t) {
      at::Tensor in = x.select(1, t);
      for (size_t l = 0; l < cells.size(); ++l) {
        std::tie(h[l], c[l]) =
            at::lstm_cell(in, {h[l], c[l]}, cells[l][0], cells[l][1],
                          cells[l][2], cells[l][3]);
        in = h[l];
      }
      outputs.push_back(in);
    }
    return at::linear(at::stack(outputs, 1), weight, bias);
  }
  std::vector<std::vector<at::Tensor>> cells;
  at::Tensor weight, bias;
};

// Checkpoints of the step-by-step LSTM, as this version writes them and as
// 0.1.0 did (LibTorch's archive alone), load into the LSTM, which then gives
// the reference's outputs and gradients: through the fused LSTM (two layers
// of 16) and cell by cell (one layer of 128, inputs of 11: see
// mip::memory::fused_lstm_is_faster).
TEST_F(EncoderSolver, LstmLoadsStepByStepCheckpointsAndMatchesThem) {
  auto p = task(1, 1);
  for (const auto& [hidden, layers] :
       std::vector<std::pair<int64_t, int64_t>>{{16, 2}, {128, 1}}) {
    at::manual_seed(3);
    StepByStepLstm reference(11, hidden, layers, 8);
    const std::string current = folder("lstm.pt"), old = folder("lstm_010.pt");
    save_checkpoint(current, reference, nullptr, CheckpointMeta{"LSTM"});
    {
      std::ifstream in(current, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      ASSERT_EQ(bytes.substr(0, 8), "MIPCKPT\n");
      std::ofstream(old, std::ios::binary) << bytes.substr(24);
    }
    for (const std::string& file : {current, old}) {
      SCOPED_TRACE(file + ", " + std::to_string(layers) + " layer(s) of " +
                   std::to_string(hidden));
      auto m = model("LSTM", *p,
                     "{hidden_state_size: " + std::to_string(hidden) +
                         ", num_layers: " + std::to_string(layers) + "}");
      load_checkpoint(file, *m);
      for (const auto& [b, len] :
           std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {4, 3}, {9, 8}}) {
        auto q = task(len, len);
        const sdk::DataDict x = batch(*q, b, uint64_t(len));
        reference.zero_grad();
        m->zero_grad();
        const at::Tensor expected = reference.forward(x.at("sequences"));
        const at::Tensor got = predictions(*m, x);
        ASSERT_EQ(got.sizes(), expected.sizes());
        EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5)
            << "batch " << b << " length " << len;
        expected.pow(2).sum().backward();
        got.pow(2).sum().backward();
        const auto ref_grads = reference.named_parameters();
        for (const auto& w : m->named_parameters()) {
          const at::Tensor g = ref_grads[w.key()].grad();
          EXPECT_LT((w.value().grad() - g).abs().max().item<double>(),
                    1e-4 * (1 + g.abs().max().item<double>()))
              << w.key();
        }
      }
    }
  }
}

}  // namespace encoder_solver_test
}  // namespace mip
