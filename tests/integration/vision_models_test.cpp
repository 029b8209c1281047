// The image and visual-reasoning models (plugins mip_alexnet_wrapper,
// mip_relational_net, mip_vqa_baselines) built through the real plugin
// loader, on batches shaped as MI-Prometheus's MNIST, SortOfCLEVR
// (images [B, 3, H, W], questions [B, 13], targets [B]) and ShapeColorQuery
// (questions [B, 3, 7]) give them: shapes, gradients, a seeded short
// training, checkpoints written and read by the real checkpoint code,
// parameter errors, and the relation network against MI-Prometheus's
// explicit pairs.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include <mip/core/checkpoint.hpp>

#include "common/components.hpp"
#include "common/test_util.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace vision_models_test {

using Values = std::map<std::string, double>;

/// One model under test: its name, the problem's default values it is sized
/// from, parameters on its defaults, and the words per question of its
/// batches (0: questions [B, Q]; -1: no questions, an image classifier).
struct Case {
  std::string model;
  Values problem;
  std::string yaml;
  int64_t words = 0;
};

const Values kClevr = {{"height", 32},
                       {"width", 32},
                       {"depth", 3},
                       {"num_classes", 10},
                       {"question_encoding_size", 13}};
const Values kShapeColorQuery = {{"height", 32},
                                 {"width", 32},
                                 {"depth", 3},
                                 {"num_classes", 10},
                                 {"question_encoding_size", 7},
                                 {"seq_length", 3}};
const Values kGrey = {
    {"num_channels", 1}, {"height", 63}, {"width", 63}, {"num_classes", 10}};

std::vector<Case> cases() {
  return {{"AlexnetWrapper", kGrey, "", -1},
          {"RelationalNetwork", kClevr, "", 0},
          {"CNN_LSTM", kClevr, "", 0},
          {"CNN_LSTM", kShapeColorQuery,
           "{lstm: {num_layers: 2, bidirectional: true, dropout: 0.1}}", 3},
          {"StackedAttentionNetwork", kClevr, "", 0},
          {"MultiHopsStackedAttentionNetwork", kShapeColorQuery, "", 3}};
}

/// A batch of `b` samples whose target is learnable: the question's one-hot
/// position (sum over words) modulo the classes, or for image classifiers a
/// bright band at a row given by the class. Images are noise in [0, 1].
sdk::DataDict make_batch(const Case& c, int64_t b, uint64_t seed) {
  at::Generator gen = test::seeded(seed);
  const int64_t classes = int64_t(c.problem.at("num_classes"));
  const int64_t h = int64_t(c.problem.at("height"));
  const int64_t w = int64_t(c.problem.at("width"));
  const int64_t ch = c.words < 0 ? int64_t(c.problem.at("num_channels"))
                                 : int64_t(c.problem.at("depth"));
  sdk::DataDict batch;
  at::Tensor images = at::rand({b, ch, h, w}, gen) * 0.5;
  at::Tensor targets = at::zeros({b}, at::kLong);
  if (c.words < 0) {
    targets = at::randint(classes, {b}, gen);
    const int64_t band = h / classes;
    for (int64_t i = 0; i < b; ++i)
      images[i].narrow(1, targets[i].item<int64_t>() * band, band).add_(0.5);
  } else {
    const int64_t q = int64_t(c.problem.at("question_encoding_size"));
    const int64_t t = std::max<int64_t>(c.words, 1);
    const at::Tensor hot = at::randint(q, {b, t}, gen);
    at::Tensor questions = at::one_hot(hot, q).to(at::kFloat);
    targets = hot.sum(1) % classes;
    batch["questions"] = c.words == 0 ? questions.squeeze(1) : questions;
  }
  batch["images"] = images;
  batch["targets"] = targets;
  return batch;
}

at::Tensor predictions(sdk::Model& m, const sdk::DataDict& batch) {
  return m.forward(batch).at("predictions");
}

at::Tensor loss(sdk::Model& m, const sdk::DataDict& batch) {
  return torch::cross_entropy_loss(predictions(m, batch), batch.at("targets"));
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.model << " " << c.yaml;
}

class VisionModel : public test::Components,
                    public ::testing::WithParamInterface<Case> {
 protected:
  /// The model sized from `values` as the trainer sizes it from a problem.
  std::shared_ptr<sdk::Model> build(const std::string& name,
                                    const Values& values,
                                    const std::string& yaml = "") {
    const Component& c = loader_.find(sdk::ComponentKind::kModel, name);
    ParamRegistry& r = registry("model", c, yaml);
    for (const auto& [k, v] : values)
      r.add_default_number("model." + k, v, "problem");
    ComponentContext ctx(r.view("model"), logger("test"));
    return loader_.create_model(c, ctx);
  }
  std::shared_ptr<sdk::Model> build(const Case& c) {
    return build(c.model, c.problem, c.yaml);
  }
};

TEST_P(VisionModel, PredictsOneRowOfLogitsPerSampleForSeveralBatchSizes) {
  const Case& c = GetParam();
  auto m = build(c);
  // The handshake's view: what it reads, what it writes.
  EXPECT_EQ(m->input_definitions().count("images"), 1u);
  EXPECT_EQ(m->input_definitions().count("questions"), c.words < 0 ? 0u : 1u);
  for (const bool training : {true, false}) {
    m->train(training);
    for (const int64_t b : {1, 3, 8}) {
      const at::Tensor y = predictions(*m, make_batch(c, b, 1));
      EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{b, 10}))
          << "batch " << b << " training " << training;
      EXPECT_TRUE(y.isfinite().all().item<bool>());
    }
  }
}

// Every parameter gets a gradient. Some get one that is zero by
// construction, which the test checks too: the biases of convolutions
// followed by a batch normalisation (it removes any constant); the LSTMs'
// recurrent weights where a direction runs one step from the zero state
// before its output is read (questions [B, Q] are one step; the backward
// direction of the last layer at the last step, which MI-Prometheus reads).
TEST_P(VisionModel, EveryParameterGetsAGradient) {
  const Case& c = GetParam();
  at::manual_seed(3);
  auto m = build(c);
  loss(*m, make_batch(c, 8, 2)).backward();
  const bool one_step = c.words == 0 && c.model != "RelationalNetwork";
  const bool bidirectional =
      c.yaml.find("bidirectional: true") != std::string::npos;
  auto has = [](const std::string& key, const char* part) {
    return key.find(part) != std::string::npos;
  };
  int64_t nonzero = 0, zero = 0;
  for (const auto& w : m->named_parameters()) {
    const std::string& key = w.key();
    ASSERT_TRUE(w.value().grad().defined()) << key;
    const double g = w.value().grad().abs().max().item<double>();
    const bool unused =
        (has(key, "cnn") && has(key, ".conv") && has(key, ".bias")) ||
        (has(key, "lstm.weight_hh") && one_step) ||
        (bidirectional && has(key, "lstm.weight_hh_l1_reverse"));
    if (unused) {
      EXPECT_LT(g, 1e-4) << key;
      ++zero;
    } else {
      EXPECT_GT(g, 0) << key;
      ++nonzero;
    }
  }
  EXPECT_GT(nonzero, 5);
  EXPECT_EQ(zero, c.model == "AlexnetWrapper"
                      ? 0
                      : 4 + int64_t(one_step) + int64_t(bidirectional));
}

// A fixed set of batches (4 of 8 samples; AlexNet's 57 million weights, 1),
// seeded: the mean loss of the last pass is well below the first's.
TEST_P(VisionModel, ShortSeededTrainingLowersTheLoss) {
  const Case& c = GetParam();
  at::manual_seed(4);
  auto m = build(c);
  std::vector<sdk::DataDict> set;
  const bool alexnet = c.model == "AlexnetWrapper";
  for (uint64_t i = 0; i < (alexnet ? 1u : 4u); ++i)
    set.push_back(make_batch(c, 8, 10 + i));
  torch::optim::Adam adam(m->parameters(),
                          torch::optim::AdamOptions(alexnet ? 1e-4 : 2e-3));
  const int passes = alexnet ? 8 : 12;
  std::vector<double> means;
  for (int pass = 0; pass < passes; ++pass) {
    double sum = 0;
    for (const auto& batch : set) {
      adam.zero_grad();
      const at::Tensor l = loss(*m, batch);
      l.backward();
      adam.step();
      sum += l.item<double>();
    }
    means.push_back(sum / double(set.size()));
  }
  EXPECT_LT(means.back(), 0.8 * means.front())
      << "first pass " << means.front() << ", last " << means.back();
}

// The real checkpoint code: weights and batch-normalisation statistics come
// back, so an instance built from another seed predicts the same.
TEST_P(VisionModel, CheckpointRoundTripRestoresIdenticalOutputs) {
  const Case& c = GetParam();
  const sdk::DataDict x = make_batch(c, 4, 5);
  at::manual_seed(1);
  auto saved = build(c);
  {
    torch::NoGradGuard no_grad;
    predictions(*saved, make_batch(c, 8, 6));  // moves running statistics
  }
  saved->eval();
  const std::string file = folder("model.pt");
  save_checkpoint(file, *saved, nullptr, CheckpointMeta{c.model});
  at::manual_seed(2);
  auto loaded = build(c);
  loaded->eval();
  ASSERT_FALSE(at::equal(predictions(*saved, x), predictions(*loaded, x)));
  load_checkpoint(file, *loaded);
  EXPECT_TRUE(at::equal(predictions(*saved, x), predictions(*loaded, x)));
}

INSTANTIATE_TEST_SUITE_P(
    Each, VisionModel, ::testing::ValuesIn(cases()), [](const auto& info) {
      std::string n = info.param.model;
      n.erase(std::remove(n.begin(), n.end(), '_'), n.end());
      return n + "_" + std::to_string(info.index);
    });

class VisionModelErrors : public VisionModel {};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST_F(VisionModelErrors, PretrainedWeightsAreRefusedNamingTheKey) {
  EXPECT_HAS(
      error_of([&] { build("AlexnetWrapper", kGrey, "{pretrained: true}"); }),
      "[model.pretrained] is true, but no pretrained weights exist "
      "here: nothing is downloaded");
  for (const char* name :
       {"StackedAttentionNetwork", "MultiHopsStackedAttentionNetwork"})
    EXPECT_HAS(error_of([&] {
                 build(name, kShapeColorQuery, "{use_pretrained_cnn: true}");
               }),
               "[model.use_pretrained_cnn] is true, but pretrained ResNet "
               "weights are not available here");
}

TEST_F(VisionModelErrors, BadSizesNameTheirKeys) {
  Values small = kGrey;
  small["height"] = 32;
  EXPECT_HAS(error_of([&] { build("AlexnetWrapper", small); }),
             "[model.height, model.width] = 32x63 is smaller than AlexNet's "
             "63x63 minimum; resize the problem's images");
  Values two = kGrey;
  two["num_channels"] = 2;
  EXPECT_HAS(error_of([&] { build("AlexnetWrapper", two); }),
             "[model.num_channels] must be 1");
  EXPECT_HAS(
      error_of([&] { build("CNN_LSTM", kClevr, "{lstm: {hidden_size: 0}}"); }),
      "[model.lstm]: hidden_size and num_layers must be >= 1, got 0");
  EXPECT_HAS(error_of([&] {
               build("StackedAttentionNetwork", kClevr,
                     "{attention_layer: {nb_nodes: 0}}");
             }),
             "[model.attention_layer.nb_nodes] must be >= 1, got 0");
}

// MI-Prometheus's wrapper copies a grey image into the three channels: a
// grey model and a colour model with the same weights agree.
TEST_F(VisionModelErrors, AlexnetRepeatsGreyImagesIntoThreeChannels) {
  Values colour = kGrey;
  colour["num_channels"] = 3;
  auto grey = build("AlexnetWrapper", kGrey);
  auto rgb = build("AlexnetWrapper", colour);
  {
    torch::NoGradGuard no_grad;
    auto from = grey->named_parameters();
    for (auto& w : rgb->named_parameters())
      w.value().copy_(from[w.key()]);
  }
  grey->eval();
  rgb->eval();
  sdk::DataDict x = make_batch({"AlexnetWrapper", kGrey, "", -1}, 3, 7);
  sdk::DataDict x3;
  x3["images"] = x.at("images").repeat({1, 3, 1, 1});
  EXPECT_TRUE(at::allclose(predictions(*grey, x), predictions(*rgb, x3)));
}

// MI-Prometheus builds every ordered pair (o_j, o_i, q) of objects and runs
// g_theta on each; the plugin splits g_theta's first layer instead. The
// same weights give the same logits (eval mode: no dropout).
TEST_F(VisionModelErrors, RelationalNetworkMatchesTheExplicitPairs) {
  const Case c{"RelationalNetwork", kClevr, "", 0};
  auto m = build(c);
  m->eval();
  const sdk::DataDict x = make_batch(c, 3, 8);
  auto p = m->named_parameters();
  auto buffers = m->named_buffers();
  at::Tensor maps = x.at("images");
  for (int i = 1; i <= 4; ++i) {
    const std::string conv = "cnn_model.conv" + std::to_string(i);
    const std::string norm = "cnn_model.batchNorm" + std::to_string(i);
    maps = at::conv2d(maps, p[conv + ".weight"], p[conv + ".bias"], 2, 1);
    maps = at::relu(at::batch_norm(maps, p[norm + ".weight"], p[norm + ".bias"],
                                   buffers[norm + ".running_mean"],
                                   buffers[norm + ".running_var"], false, 0.1,
                                   1e-5, false));
  }
  const int64_t b = 3, d = maps.size(2), k = 26;  // 24 maps + 2 coordinates
  ASSERT_EQ(d, 2);
  const at::Tensor coords = at::linspace(-0.5, 0.5, d);
  const at::Tensor ct = at::stack({coords.unsqueeze(0).repeat({d, 1}),
                                   coords.unsqueeze(1).repeat({1, d})})
                            .unsqueeze(0)
                            .repeat({b, 1, 1, 1});
  const at::Tensor objects =
      at::cat({maps, ct}, 1).view({b, k, d * d}).transpose(2, 1);
  const at::Tensor xi = objects.unsqueeze(1).repeat({1, d * d, 1, 1});
  const at::Tensor q =
      x.at("questions").unsqueeze(1).repeat({1, d * d, 1}).unsqueeze(2);
  const at::Tensor xj =
      at::cat({objects.unsqueeze(2), q}, -1).repeat({1, 1, d * d, 1});
  at::Tensor g = at::cat({xi, xj}, -1).view({b * d * d * d * d, -1});
  for (int i = 1; i <= 4; ++i) {
    const std::string l = "pair_network.g_fc" + std::to_string(i);
    g = at::relu(at::linear(g, p[l + ".weight"], p[l + ".bias"]));
  }
  at::Tensor f = g.view({b, d * d * d * d, 256}).sum(1);
  for (int i = 1; i <= 2; ++i) {
    const std::string l = "sum_network.f_fc" + std::to_string(i);
    f = at::relu(at::linear(f, p[l + ".weight"], p[l + ".bias"]));
  }
  const at::Tensor expected =
      at::linear(f, p["sum_network.f_fc3.weight"], p["sum_network.f_fc3.bias"]);
  const at::Tensor got = predictions(*m, x);
  EXPECT_TRUE(at::allclose(got, expected, 1e-4, 1e-5)) << got << "\n"
                                                       << expected;
  // The same gradients too (the plugin writes its pair network's backward
  // pass itself): of a fixed weighting of the logits, for every parameter.
  const at::Tensor weights = at::randn(expected.sizes());
  (expected * weights).sum().backward();
  std::map<std::string, at::Tensor> want;
  for (const auto& item : p) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    want[item.key()] = item.value().grad().clone();
    item.value().mutable_grad().zero_();
  }
  (got * weights).sum().backward();
  for (const auto& item : p)
    EXPECT_TRUE(at::allclose(item.value().grad(), want[item.key()], 1e-3, 1e-5))
        << item.key() << "\n"
        << (item.value().grad() - want[item.key()]).abs().max();
  // A backward pass through a graph whose activations a later forward pass
  // has overwritten is refused, not silently wrong.
  const at::Tensor first = predictions(*m, x);
  predictions(*m, x);
  const std::string e = error_of([&] { first.sum().backward(); });
  EXPECT_NE(e.find("modified by an inplace operation"), std::string::npos) << e;
}

}  // namespace vision_models_test
}  // namespace mip
