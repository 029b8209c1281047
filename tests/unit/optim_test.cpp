// Every optimizer and learning-rate scheduler against golden values from
// Python PyTorch (tests/data/optim/golden.yaml, written by make_golden.py in
// the same folder): the same arguments through make_optimizer /
// make_scheduler, the same gradients and validation losses, in double
// precision, and every recorded value compared.
#include <mip/core/optim.hpp>
#include <mip/core/registry.hpp>

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "common/test_util.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace optim_test {

const std::string kGolden =
    std::string(MIP_SOURCE_DIR) + "/tests/data/optim/golden.yaml";

// Relative tolerance. The optimizers run the same element-wise operations in
// the same order as PyTorch's Python code (agreement is exact in practice);
// the epoch schedules are a closed form here but recursive in PyTorch
// (lr *= gamma each decay; CosineAnnealingLR's ratio of cosines), which
// differ by a few units in the last place; 1e-12 allows that and nothing
// else.
constexpr double kRelTol = 1e-12;

const YAML::Node& golden() {
  static const YAML::Node node = YAML::LoadFile(kGolden);
  return node;
}

/// The ids of one section of the golden file (none if it does not load:
/// GoldenFile.Loads then fails).
std::vector<std::string> ids(const std::string& section) {
  std::vector<std::string> out;
  try {
    for (const auto& c : golden()[section])
      out.push_back(c["id"].as<std::string>());
  } catch (const std::exception&) {
  }
  return out;
}

YAML::Node find_case(const std::string& section, const std::string& id) {
  for (const auto& c : golden()[section])
    if (c["id"].as<std::string>() == id)
      return c;
  ADD_FAILURE() << "no " << id << " in " << section;
  return {};
}

std::vector<double> doubles(const YAML::Node& n) {
  return n.as<std::vector<double>>();
}

/// A registry holding `args` (name plus keyword arguments) under `path`.
void configure(ParamRegistry& r,
               const std::string& path,
               const YAML::Node& args) {
  for (const auto& kv : args) {
    YAML::Emitter e;
    e << YAML::Flow << kv.second;
    r.apply_override(path + "." + kv.first.as<std::string>() + "=" + e.c_str());
  }
}

void expect_close(double expected, double actual, const std::string& what) {
  EXPECT_NEAR(actual, expected, kRelTol * std::abs(expected)) << what;
}

std::string name_of(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

torch::Tensor tensor_of(const std::vector<double>& v) {
  return torch::tensor(v, torch::kFloat64);
}

double lr_of(const torch::optim::Optimizer& opt) {
  return opt.param_groups().at(0).options().get_lr();
}

/// An SGD optimizer at `lr` for a scheduler to drive.
struct SchedulerRig {
  ParamRegistry registry;
  torch::Tensor p = torch::zeros({2}, torch::kFloat64).requires_grad_();
  std::unique_ptr<torch::optim::Optimizer> opt;
  std::unique_ptr<LrScheduler> sched;
  explicit SchedulerRig(const YAML::Node& c) {
    registry.apply_override("training.optimizer.name=SGD");
    registry.apply_override("training.optimizer.lr=" +
                            c["lr"].as<std::string>());
    configure(registry, "training.scheduler", c["args"]);
    opt = make_optimizer(*registry.view("training.optimizer"), {p});
    sched = make_scheduler(*registry.view("training.scheduler"), *opt);
  }
};

TEST(GoldenFile, LoadsWithEveryOptimizerAndScheduler) {
  ASSERT_NO_THROW(golden()) << kGolden;
  std::set<std::string> names;
  for (const auto& section :
       {"optimizers", "epoch_schedulers", "plateau_schedulers"})
    for (const auto& c : golden()[section])
      names.insert(c["args"]["name"].as<std::string>());
  for (const char* n :
       {"Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "StepLR", "MultiStepLR",
        "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau"})
    EXPECT_TRUE(names.count(n)) << n << " has no golden values";
}

// --- optimizers --------------------------------------------------------------

class OptimizerGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimizerGolden, MatchesPyTorchAfterEveryStep) {
  const auto c = find_case("optimizers", GetParam());
  ParamRegistry r;
  configure(r, "training.optimizer", c["args"]);
  auto weight =
      tensor_of(doubles(golden()["weight"])).reshape({3, 2}).requires_grad_();
  auto bias = tensor_of(doubles(golden()["bias"])).requires_grad_();
  auto opt = make_optimizer(*r.view("training.optimizer"), {weight, bias});
  const auto& grads = golden()["gradients"];
  const auto& expected = c["params"];
  ASSERT_EQ(grads.size(), expected.size());
  for (size_t step = 0; step < grads.size(); ++step) {
    const auto g = doubles(grads[step]);
    ASSERT_EQ(g.size(), 8u);
    weight.mutable_grad() =
        tensor_of({g.begin(), g.begin() + 6}).reshape({3, 2});
    bias.mutable_grad() = tensor_of({g.begin() + 6, g.end()});
    opt->step();
    const auto want = doubles(expected[step]);
    ASSERT_EQ(want.size(), 8u);
    const auto w = weight.detach().reshape({-1});
    for (int64_t i = 0; i < 8; ++i) {
      const double got =
          i < 6 ? w[i].item<double>() : bias[i - 6].item<double>();
      expect_close(want[i], got,
                   "after step " + std::to_string(step + 1) + ", " +
                       (i < 6 ? "weight[" + std::to_string(i)
                              : "bias[" + std::to_string(i - 6)) +
                       "]");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(PyTorch,
                         OptimizerGolden,
                         ::testing::ValuesIn(ids("optimizers")),
                         name_of);

// --- epoch schedules ---------------------------------------------------------

class EpochSchedulerGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(EpochSchedulerGolden, MatchesPyTorchAfterEveryEpoch) {
  const auto c = find_case("epoch_schedulers", GetParam());
  const auto want = doubles(c["lrs"]);
  SchedulerRig rig(c);
  for (size_t e = 1; e <= want.size(); ++e) {
    rig.sched->epoch_end(static_cast<int64_t>(e));
    expect_close(want[e - 1], lr_of(*rig.opt),
                 "lr after epoch " + std::to_string(e));
  }
  // Resuming after any number of epochs gives the same learning rate.
  for (size_t e = 1; e <= want.size(); ++e) {
    SchedulerRig resumed(c);
    resumed.sched->restore(rig.sched->state(), static_cast<int64_t>(e));
    expect_close(want[e - 1], lr_of(*resumed.opt),
                 "lr resumed after epoch " + std::to_string(e));
  }
}

INSTANTIATE_TEST_SUITE_P(PyTorch,
                         EpochSchedulerGolden,
                         ::testing::ValuesIn(ids("epoch_schedulers")),
                         name_of);

// --- ReduceLROnPlateau -------------------------------------------------------

class PlateauGolden : public ::testing::TestWithParam<std::string> {};

void expect_plateau_step(const YAML::Node& c,
                         size_t i,
                         const SchedulerRig& rig,
                         const std::string& how) {
  const std::string at = how + " validation " + std::to_string(i + 1);
  const auto s = rig.sched->state();
  expect_close(doubles(c["lrs"])[i], lr_of(*rig.opt), "lr " + at);
  expect_close(doubles(c["lrs"])[i], s.at("lr.0"), "state lr.0 " + at);
  expect_close(doubles(c["best"])[i], s.at("best"), "best " + at);
  EXPECT_EQ(doubles(c["num_bad_epochs"])[i], s.at("num_bad_epochs"))
      << "num_bad_epochs " << at;
  EXPECT_EQ(doubles(c["cooldown_counter"])[i], s.at("cooldown_counter"))
      << "cooldown_counter " << at;
}

TEST_P(PlateauGolden, MatchesPyTorchAfterEveryValidation) {
  const auto c = find_case("plateau_schedulers", GetParam());
  const auto losses = doubles(c["losses"]);
  ASSERT_EQ(losses.size(), c["lrs"].size());
  SchedulerRig rig(c);
  for (size_t i = 0; i < losses.size(); ++i) {
    rig.sched->epoch_end(static_cast<int64_t>(i + 1));  // does nothing
    rig.sched->validation(losses[i]);
    expect_plateau_step(c, i, rig, "after");
  }
}

TEST_P(PlateauGolden, RestoredFromStateMidSequenceContinuesIdentically) {
  const auto c = find_case("plateau_schedulers", GetParam());
  const auto losses = doubles(c["losses"]);
  // Uninterrupted: the state after each validation.
  SchedulerRig straight(c);
  std::vector<SchedulerState> states;
  for (double loss : losses) {
    straight.sched->validation(loss);
    states.push_back(straight.sched->state());
  }
  // Stop after k validations, resume a fresh optimizer and scheduler from
  // the state, and carry on.
  for (size_t k = 1; k < losses.size(); ++k) {
    SchedulerRig resumed(c);
    resumed.sched->restore(states[k - 1], static_cast<int64_t>(k));
    EXPECT_EQ(resumed.sched->state(), states[k - 1]) << "restored at " << k;
    for (size_t i = k; i < losses.size(); ++i) {
      resumed.sched->validation(losses[i]);
      EXPECT_EQ(resumed.sched->state(), states[i])
          << "validation " << i + 1 << " after resuming at " << k;
      expect_plateau_step(c, i, resumed,
                          "resumed at " + std::to_string(k) + ", after");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(PyTorch,
                         PlateauGolden,
                         ::testing::ValuesIn(ids("plateau_schedulers")),
                         name_of);

}  // namespace optim_test
}  // namespace mip
