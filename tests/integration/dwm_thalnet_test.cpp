// DWM and ThalNetModel through the real loader, the real trainer and real
// checkpoints: DWM's head and bookmark against MI-Prometheus's update written
// out on plain numbers, shapes for several batches and lengths, gradients to
// every parameter, a short serial-recall training that lowers the loss, the
// checkpoint round trip, and the errors of bad keys.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include <mip/core/checkpoint.hpp>

#include "common/components.hpp"
#include "common/test_util.hpp"
#include "common/worker_runs.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace dwm_thalnet_test {

using test::RunResult;
using test::TempDir;

class MemoryModel : public test::Components {
 public:
  /// Serial recall with its default sizes (10 inputs, 8 outputs).
  std::shared_ptr<sdk::Problem> recall() {
    return problem("SerialRecallCommandLines",
                   "{batch_size: 4, min_sequence_length: 1, "
                   "max_sequence_length: 5}");
  }
  std::shared_ptr<sdk::Model> make(const std::string& name,
                                   const std::string& yaml = "") {
    return model(name, *recall(), yaml);
  }
  /// The model's outputs for random inputs [b, t, 10] drawn from `seed`;
  /// `seed` also seeds LibTorch's generator (ThalNet's initial center).
  /// Random bits [b, t, 10] drawn from `seed`.
  static at::Tensor inputs(int64_t b, int64_t t, uint64_t seed) {
    return (at::rand({b, t, 10}, test::seeded(seed)) > 0.5).to(at::kFloat);
  }
  sdk::DataDict forward(sdk::Model& m, int64_t b, int64_t t, uint64_t seed) {
    sdk::DataDict batch;
    batch["sequences"] = inputs(b, t, seed);
    at::manual_seed(seed);
    return m.forward(batch);
  }
  /// The parameter `name` of `m` (a handle on the same tensor).
  at::Tensor parameter(sdk::Model& m, const std::string& name) {
    const auto params = m.named_parameters();
    const at::Tensor* p = params.find(name);
    EXPECT_NE(p, nullptr) << name;
    return p ? *p : at::Tensor();
  }
};

// --- DWM's addressing, by hand ----------------------------------------------

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}
double softplus(double x) {
  return std::log1p(std::exp(x));
}
std::vector<double> softmax(std::vector<double> v) {
  double sum = 0;
  for (double& x : v)
    sum += (x = std::exp(x));
  for (double& x : v)
    x /= sum;
  return v;
}

/// One head's state in MI-Prometheus's DWM: attention, bookmark, memory
/// [A][C].
struct Head {
  std::vector<double> w, bookmark;
  std::vector<std::vector<double>> memory;
};

/// MI-Prometheus's Interface.update for one head and one fixed update vector
/// (shift logits s[3], bookmark gate jd, jump logits j[3], sharpening g,
/// erase e[C], add a[C]), on plain numbers.
void dwm_step(Head& h,
              const std::vector<double>& s,
              double jd,
              const std::vector<double>& j,
              double g,
              const std::vector<double>& e,
              const std::vector<double>& a) {
  const size_t n = h.w.size();
  // Write with the previous attention: erase, then add.
  for (size_t i = 0; i < n; ++i)
    for (size_t c = 0; c < a.size(); ++c)
      h.memory[i][c] =
          h.memory[i][c] * (1 - h.w[i] * sigmoid(e[c])) + h.w[i] * a[c];
  // The bookmark keeps its place with probability sigmoid(jd).
  for (size_t i = 0; i < n; ++i)
    h.bookmark[i] = (1 - sigmoid(jd)) * h.w[i] + sigmoid(jd) * h.bookmark[i];
  // Stay, jump to the bookmark, jump to address 0.
  const std::vector<double> jump = softmax(j);
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = jump[0] * h.w[i] + jump[1] * h.bookmark[i] +
           jump[2] * (i == 0 ? 1.0 : 0.0);
  // MI-Prometheus's circular_conv: y[i] = s0 v[i-1] + s1 v[i] + s2 v[i+1].
  const std::vector<double> k =
      softmax({softplus(s[0]), softplus(s[1]), softplus(s[2])});
  std::vector<double> y(n);
  for (size_t i = 0; i < n; ++i)
    y[i] = k[0] * v[(i + n - 1) % n] + k[1] * v[i] + k[2] * v[(i + 1) % n];
  // Sharpening: (y + 1e-12)^(1 + softplus(g)), normalised.
  double sum = 0;
  for (size_t i = 0; i < n; ++i)
    sum += (y[i] = std::pow(y[i] + 1e-12, 1 + softplus(g)));
  for (size_t i = 0; i < n; ++i)
    h.w[i] = y[i] / sum;
}

/// A DWM over 5 addresses of 2 bits whose update vector is its bias alone
/// (the layer's weights zeroed), so each step's addressing is known.
std::shared_ptr<sdk::Model> fixed_update_dwm(MemoryModel& t,
                                             const std::vector<float>& bias) {
  auto m = t.make("DWM",
                  "{memory_addresses_size: 5, memory_content_size: 2, "
                  "plot_memory: true}");
  at::NoGradGuard no_grad;
  t.parameter(*m, "i2u.weight").zero_();
  t.parameter(*m, "i2u.bias").copy_(at::tensor(bias));
  return m;
}

TEST_F(MemoryModel, DwmHeadAndBookmarkFollowMiPrometheusUpdate) {
  const std::vector<double> s{0.5, 0.0, -1.0}, j{1.0, 0.2, -1.0}, e{2.0, -1.0},
      a{0.5, -0.25};
  const double jd = -0.3, g = 0.4;
  std::vector<float> bias;
  for (const auto& part :
       std::vector<std::vector<double>>{s, {jd}, j, {g}, e, a})
    bias.insert(bias.end(), part.begin(), part.end());
  auto m = fixed_update_dwm(*this, bias);
  const sdk::DataDict out = forward(*m, 2, 4, 1);
  const at::Tensor w = out.at("read_weights"), bm = out.at("bookmark_weights"),
                   memory = out.at("memory");
  ASSERT_EQ(w.sizes(), (at::IntArrayRef{2, 4, 1, 5}));
  EXPECT_TRUE(out.at("write_weights").equal(w));
  Head h{{1, 0, 0, 0, 0},
         {1, 0, 0, 0, 0},
         std::vector<std::vector<double>>(5, std::vector<double>(2, 0.01))};
  for (int64_t step = 0; step < 4; ++step) {
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t sample = 0; sample < 2; ++sample)
        EXPECT_NEAR(w[sample][step][0][i].item<double>(), h.w[size_t(i)], 1e-5)
            << "attention read with at step " << step << ", address " << i;
    dwm_step(h, s, jd, j, g, e, a);
    for (int64_t i = 0; i < 5; ++i) {
      EXPECT_NEAR(bm[1][step][0][i].item<double>(), h.bookmark[size_t(i)], 1e-5)
          << "bookmark after step " << step << ", address " << i;
      for (int64_t c = 0; c < 2; ++c)
        EXPECT_NEAR(memory[1][step][i][c].item<double>(),
                    h.memory[size_t(i)][size_t(c)], 1e-5)
            << "memory after step " << step << " at [" << i << ", " << c << "]";
    }
  }
}

TEST_F(MemoryModel, DwmShiftEntryZeroMovesTheHeadOneAddressForward) {
  // Shift logits (10, -10, -10): kernel entry 0 takes all the weight, which
  // in MI-Prometheus's convolution moves the attention from i - 1 to i. The
  // jump logits keep the head where it is, sharpening is strong (gamma ~ 11).
  auto m =
      fixed_update_dwm(*this, {10, -10, -10, 0, 10, -10, -10, 10, 0, 0, 0, 0});
  const at::Tensor w = forward(*m, 3, 4, 2).at("read_weights");
  for (int64_t step = 0; step < 4; ++step)
    for (int64_t sample = 0; sample < 3; ++sample)
      EXPECT_GT(w[sample][step][0][step].item<double>(), 0.99)
          << "step " << step << ": " << w[sample][step][0];
}

// --- shapes -----------------------------------------------------------------

TEST_F(MemoryModel, DwmShapesFollowTheBatchAndTheLength) {
  auto m = make("DWM",
                "{num_heads: 2, use_content_addressing: true, "
                "memory_content_size: 4, plot_memory: true}");
  for (const auto& [b, t] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 1}, {3, 2}, {4, 7}, {16, 12}}) {
    const sdk::DataDict out = forward(*m, b, t, 3);
    const int64_t a = std::max<int64_t>(t, 3);  // memory_addresses_size -1
    EXPECT_EQ(out.at("predictions").sizes(), (at::IntArrayRef{b, t, 8}));
    EXPECT_EQ(out.at("memory").sizes(), (at::IntArrayRef{b, t, a, 4}));
    for (const char* k : {"read_weights", "write_weights", "bookmark_weights"})
      EXPECT_EQ(out.at(k).sizes(), (at::IntArrayRef{b, t, 2, a})) << k;
    EXPECT_NEAR(out.at("read_weights").sum().item<double>(), double(b * t * 2),
                1e-3)
        << "each attention sums to 1";
  }
  auto fixed = make("DWM", "{memory_addresses_size: 6}");
  const sdk::DataDict out = forward(*fixed, 2, 9, 4);
  EXPECT_EQ(out.at("predictions").sizes(), (at::IntArrayRef{2, 9, 8}));
  EXPECT_EQ(out.size(), 1u) << "no trace unless plot_memory asks for it";
}

TEST_F(MemoryModel, ThalNetShapesFollowTheBatchAndTheLength) {
  auto m = make("ThalNetModel",
                "{num_modules: 3, center_size_per_module: 6, "
                "context_input_size: 5, plot_memory: true}");
  for (const auto& [b, t] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 1}, {3, 2}, {4, 7}, {16, 12}}) {
    const sdk::DataDict out = forward(*m, b, t, 5);
    EXPECT_EQ(out.at("predictions").sizes(), (at::IntArrayRef{b, t, 8}));
    EXPECT_EQ(out.at("center").sizes(), (at::IntArrayRef{b, t, 3, 6}));
    EXPECT_EQ(out.at("module_state_0").sizes(), (at::IntArrayRef{b, t, 6}));
    EXPECT_EQ(out.at("module_state_2").sizes(), (at::IntArrayRef{b, t, 14}))
        << "the last module's state: its output (8), then its slot (6)";
    EXPECT_TRUE(out.at("module_state_2")
                    .narrow(2, 0, 8)
                    .equal(out.at("predictions").detach()));
  }
  EXPECT_EQ(forward(*make("ThalNetModel"), 2, 3, 6).size(), 1u)
      << "no trace unless plot_memory asks for it";
}

TEST_F(MemoryModel, ThalNetEqualsMiPrometheusModuleByModule) {
  // MI-Prometheus's ThalNetCell on the model's own weights: every module
  // reads a context from the previous step's center (weight-normalised
  // layer), runs its FF-GRU controller (the first on [input, context]), and
  // writes its slot (the end of its state); the output is the start of the
  // last module's state. The model computes the same with its layers fused.
  const int64_t n = 3, k = 6, b = 4, t = 6;
  auto m = make("ThalNetModel",
                "{num_modules: 3, center_size_per_module: 6, "
                "context_input_size: 5}");
  const at::Tensor predictions = forward(*m, b, t, 12).at("predictions");
  const auto p = [&](const std::string& name) { return parameter(*m, name); };
  const at::Tensor x = inputs(b, t, 12);
  at::manual_seed(12);  // the initial center, drawn module by module
  std::vector<at::Tensor> slots, states, outputs;
  for (int64_t i = 0; i < n; ++i) {
    slots.push_back(at::randn({b, k}));
    states.push_back(at::zeros({b, i == n - 1 ? 8 + k : k}));
  }
  for (int64_t step = 0; step < t; ++step) {
    const at::Tensor center = at::cat(slots, 1);
    for (int64_t i = 0; i < n; ++i) {
      const std::string module = "module_" + std::to_string(i) + ".",
                        c = module + "controller.";
      const at::Tensor v = p(module + "fc_context.weight_v");
      const at::Tensor context = at::linear(
          center, p(module + "fc_context.weight_g") * v / v.norm(2, 1, true),
          p(module + "fc_context.bias"));
      const at::Tensor in =
          i == 0 ? at::cat({x.select(1, step), context}, 1) : context;
      states[size_t(i)] = at::gru_cell(
          at::linear(in, p(c + "ff.weight"), p(c + "ff.bias")),
          states[size_t(i)], p(c + "gru.weight_ih"), p(c + "gru.weight_hh"),
          p(c + "gru.bias_ih"), p(c + "gru.bias_hh"));
    }
    for (int64_t i = 0; i < n; ++i)
      slots[size_t(i)] = states[size_t(i)].narrow(1, i == n - 1 ? 8 : 0, k);
    outputs.push_back(states.back().narrow(1, 0, 8));
  }
  const at::Tensor expected = at::stack(outputs, 1);
  EXPECT_TRUE(at::allclose(predictions, expected, 1e-4, 1e-5))
      << (predictions - expected).abs().max();
}

// --- gradients
// ----------------------------------------------------------------

void expect_gradients_everywhere(sdk::Model& m, const sdk::DataDict& out) {
  const at::Tensor p = out.at("predictions");
  (p * at::randn(p.sizes(), test::seeded(9))).sum().backward();
  int64_t checked = 0;
  for (const auto& item : m.named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0.0)
        << item.key();
    ++checked;
  }
  EXPECT_GT(checked, 2);
}

TEST_F(MemoryModel, DwmGradientsReachEveryParameter) {
  for (const char* yaml :
       {"{}", "{num_heads: 2, use_content_addressing: true}"}) {
    auto m = make("DWM", yaml);
    expect_gradients_everywhere(*m, forward(*m, 4, 6, 7));
  }
}

TEST_F(MemoryModel, ThalNetGradientsReachEveryParameter) {
  auto m = make("ThalNetModel",
                "{center_size_per_module: 8, context_input_size: 6}");
  expect_gradients_everywhere(*m, forward(*m, 4, 6, 8));
  EXPECT_EQ(m->named_parameters().size(), 4u * 9)
      << "per module: fc_context (bias, weight_g, weight_v), ff (2), gru (4)";
}

// --- errors
// -------------------------------------------------------------------

TEST_F(MemoryModel, BadKeysAreNamed) {
  const auto error = [this](const std::string& name, const std::string& yaml) {
    return test::error_of([&] { make(name, yaml); });
  };
  EXPECT_HAS(error("DWM", "{hidden_state_size: 0}"),
             "[model.hidden_state_size] must be >= 1, got 0");
  EXPECT_HAS(error("DWM", "{memory_content_size: -2}"),
             "[model.memory_content_size] must be >= 1, got -2");
  EXPECT_HAS(error("DWM", "{num_heads: 0}"),
             "[model.num_heads] must be >= 1, got 0");
  EXPECT_HAS(error("DWM", "{shift_size: 4}"),
             "[model.shift_size] must be odd and >= 3");
  EXPECT_HAS(error("DWM", "{memory_addresses_size: 2}"),
             "[model.memory_addresses_size] must be -1 (the input length) or "
             "at least shift_size (3), got 2");
  EXPECT_HAS(error("ThalNetModel", "{num_modules: 1}"),
             "[model.num_modules] must be >= 2");
  EXPECT_HAS(error("ThalNetModel", "{center_size_per_module: 0}"),
             "[model.center_size_per_module] must be >= 1, got 0");
  EXPECT_HAS(error("ThalNetModel", "{context_input_size: 0}"),
             "[model.context_input_size] must be >= 1, got 0");
  EXPECT_HAS(error("ThalNetModel", "{output_size: 0}"),
             "[model.output_size] must be >= 1, got 0");
}

// --- training and checkpoints through the trainer ---------------------------

/// `episodes` of seeded online training on serial recall (batches of 32,
/// 1 to 5 items) with `model` (a flow map), under `d`/exp: the experiment
/// folder.
std::filesystem::path short_recall_run(const TempDir& d,
                                       const std::string& model,
                                       int episodes) {
  const std::string problem =
      "{name: SerialRecallCommandLines, batch_size: 32, "
      "min_sequence_length: 1, max_sequence_length: 5, size: 64}";
  const std::string config =
      d.write("config.yaml",
              "training:\n  seed_torch: 3\n  seed_numpy: 3\n"
              "  problem: " +
                  problem +
                  "\n  optimizer: {name: Adam, lr: 0.01}\n"
                  "  gradient_clipping: 10\n"
                  "  terminal_conditions: {episode_limit: " +
                  std::to_string(episodes) +
                  "}\n"
                  "validation:\n  partial_validation_interval: 1000\n"
                  "  problem: " +
                  problem + "\nmodel: " + model + "\n");
  const RunResult r = test::run(test::kOnline + " --config " + config +
                                " --expdir " + d.str() + "/exp");
  EXPECT_EQ(r.code, 0) << r.output;
  return test::only_experiment(d.path() / "exp", "training_statistics.csv");
}

double mean(const std::vector<double>& v, size_t from, size_t n) {
  double s = 0;
  for (size_t i = from; i < from + n; ++i)
    s += v.at(i);
  return s / double(n);
}

struct Trained {
  const char* name;
  const char* yaml;  // sizes, for the training and the fresh instances
  int episodes;
};

/// How a failing case names its model.
void PrintTo(const Trained& t, std::ostream* os) {
  *os << t.name;
}

class Training : public MemoryModel,
                 public ::testing::WithParamInterface<Trained> {};

TEST_P(Training, LowersTheLossAndTheCheckpointRestoresTheOutputs) {
  const Trained& p = GetParam();
  TempDir d;
  const auto exp = short_recall_run(
      d, std::string("{name: ") + p.name + ", " + (p.yaml + 1), p.episodes);
  ASSERT_FALSE(exp.empty());
  const std::vector<double> loss =
      test::csv_column(exp / "training_statistics.csv", "loss");
  ASSERT_EQ(loss.size(), size_t(p.episodes));
  const double first = mean(loss, 0, 20),
               last = mean(loss, loss.size() - 20, 20);
  std::cout << p.name << ": loss " << first << " -> " << last << "\n";
  EXPECT_LT(last, first - 0.05);

  // The checkpoint the trainer saved, in two fresh instances: the same
  // outputs, other than an untrained instance's.
  const std::string saved = (exp / "models/model_last.pt").string();
  auto a = make(p.name, p.yaml), b = make(p.name, p.yaml),
       fresh = make(p.name, p.yaml);
  const at::Tensor before = forward(*a, 4, 5, 11).at("predictions");
  load_checkpoint(saved, *a);
  load_checkpoint(saved, *b);
  const at::Tensor out_a = forward(*a, 4, 5, 11).at("predictions");
  EXPECT_FALSE(out_a.equal(before));
  EXPECT_TRUE(out_a.equal(forward(*b, 4, 5, 11).at("predictions")));
  EXPECT_FALSE(out_a.equal(forward(*fresh, 4, 5, 11).at("predictions")));
  // Saved again from the instance, the weights are bit-identical.
  const std::string again = d.str() + "/again.pt";
  save_checkpoint(again, *a, nullptr, CheckpointMeta{});
  EXPECT_EQ(checkpoint_digest(again), checkpoint_digest(saved));
}

INSTANTIATE_TEST_SUITE_P(
    MemoryModel,
    Training,
    ::testing::Values(Trained{"DWM", "{hidden_state_size: 16}", 300},
                      Trained{"ThalNetModel",
                              "{center_size_per_module: 16, "
                              "context_input_size: 16}",
                              300}),
    [](const ::testing::TestParamInfo<Trained>& info) {
      return std::string(info.param.name);
    });

// --- MI-Prometheus's own files ----------------------------------------------

/// Makes a run of an experiment take about a second.
const std::string kShrink =
    " --set training.terminal_conditions.episode_limit=4"
    " --set validation.partial_validation_interval=2"
    " --set training.problem.batch_size=8"
    " --set validation.problem.batch_size=8 --set validation.problem.size=16"
    " --set validation.problem.min_sequence_length=4"
    " --set validation.problem.max_sequence_length=4";

TEST(MipFiles, DwmAndThalNetExperimentsRunUnchanged) {
  TempDir d;
  // Its configs/dwm_baselines/dwm/default_dwm.yaml, key for key, and an
  // experiment that includes it as its files did (root-relative paths).
  const std::string model = d.write(
      "default_dwm.yaml",
      "# Model parameters:\nmodel:\n    name: DWM   # dynamic_working_memory\n"
      "    hidden_state_size: 5\n    memory_content_size: 10\n"
      "    memory_addresses_size: -1\n    num_heads: 1\n"
      "    use_content_addressing: False\n    shift_size: 3\n"
      "    plot_memory: False\n");
  const std::string dwm = d.write(
      "serial_recall.yaml",
      "default_configs: \n    " + model +
          ",\n    configs/dwm_baselines/default_settings_simple_task.yaml\n"
          "training:\n    problem:\n        name: &name "
          "SerialRecallCommandLines\n"
          "validation:\n    problem:\n        name: *name \n"
          "testing:\n    problem:\n        name: *name \n");
  RunResult r =
      test::run("cd " + test::kSource + " && " + test::kOnline + " --config " +
                dwm + " --expdir " + d.str() + "/dwm" + kShrink);
  EXPECT_EQ(r.code, 0) << r.output;
  // Its configs/thalnet/serial_recall.yaml, key for key: training.cuda is
  // read by nothing (--gpu is the switch), so it runs with --lenient.
  std::string sections;
  for (const auto& [s, len] : std::vector<std::pair<std::string, std::string>>{
           {"testing", "1000"}, {"validation", "100"}})
    sections += s +
                ":\n    problem:\n        name: *name\n"
                "        control_bits: *cbits\n        data_bits: *dbits\n"
                "        batch_size: 64\n        min_sequence_length: " +
                len + "\n        max_sequence_length: " + len +
                "\n        bias: 0.5\n";
  const std::string thalnet = d.write(
      "thalnet.yaml",
      "training:\n    cuda: True\n    problem:\n"
      "        name: &name SerialRecall\n        control_bits: &cbits 2\n"
      "        data_bits: &dbits 8\n        batch_size: 64\n"
      "        min_sequence_length: 1\n        max_sequence_length: 10\n"
      "    optimizer:\n        name: Adam\n        lr: 0.005\n"
      "    gradient_clipping: 10\n    terminal_conditions:\n"
      "        loss_stop: 0.0001\n        episode_limit: 100000\n" +
          sections +
          "model:\n    name: ThalNetModel\n    context_input_size: 32\n"
          "    input_size: 10\n    output_size: 8\n"
          "    center_size_per_module: 32\n    num_modules: 4\n");
  const std::string command = test::kOnline + " --config " + thalnet +
                              " --expdir " + d.str() + "/thalnet" + kShrink;
  r = test::run(command);
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output, "unknown key [training.cuda]");
  r = test::run(command + " --lenient");
  EXPECT_EQ(r.code, 0) << r.output;
}

}  // namespace dwm_thalnet_test
}  // namespace mip
