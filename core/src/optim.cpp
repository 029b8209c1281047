// Optimizers by name and learning-rate schedulers.
#include <mip/core/optim.hpp>
#include <mip/core/text.hpp>
#include <mip/sdk/error.hpp>

#include <cmath>

namespace mip {

// --- optimizers
// ----------------------------------------------------------------

namespace {

/// Reads the optimizer's keyword arguments, refusing any it does not take.
class OptimizerArgs {
 public:
  OptimizerArgs(const sdk::ParamView& v,
                std::string name,
                std::vector<std::string> known)
      : v_(v), name_(std::move(name)), known_(std::move(known)) {
    for (const auto& k : v_.keys()) {
      if (k == "name")
        continue;
      if (std::find(known_.begin(), known_.end(), k) == known_.end()) {
        std::string all;
        for (const auto& a : known_)
          all += " " + a;
        throw ConfigError("optimizer " + name_ + " has no argument [" +
                          v_.path() + "." + k + "]" + did_you_mean(k, known_) +
                          " (its arguments:" + all + ")");
      }
    }
  }
  /// A number argument, or PyTorch's default for it.
  double number(const std::string& k, double pytorch_default) const {
    return v_.get<double>(k, pytorch_default);
  }
  /// A yes/no argument, or PyTorch's default for it.
  bool flag(const std::string& k, bool pytorch_default) const {
    return v_.get<bool>(k, pytorch_default);
  }
  std::tuple<double, double> betas(std::tuple<double, double> fallback) const {
    if (!v_.has("betas"))
      return fallback;
    const auto l = v_.get<std::vector<double>>("betas");
    MIP_CHECK(l.size() == 2, ConfigError, "[", v_.path(),
              ".betas] needs two numbers, got ", l.size());
    return {l[0], l[1]};
  }

 private:
  const sdk::ParamView& v_;
  std::string name_;
  std::vector<std::string> known_;
};

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(
    const sdk::ParamView& v, std::vector<torch::Tensor> params) {
  namespace optim = torch::optim;
  const std::string name = v.get<std::string>("name");
  if (name == "Adam" || name == "AdamW") {
    OptimizerArgs a(v, name, {"lr", "betas", "eps", "weight_decay", "amsgrad"});
    if (name == "Adam") {
      optim::AdamOptions o(a.number("lr", 1e-3));
      o.betas(a.betas({0.9, 0.999}))
          .eps(a.number("eps", 1e-8))
          .weight_decay(a.number("weight_decay", 0.0))
          .amsgrad(a.flag("amsgrad", false));
      return std::make_unique<optim::Adam>(std::move(params), o);
    }
    optim::AdamWOptions o(a.number("lr", 1e-3));
    o.betas(a.betas({0.9, 0.999}))
        .eps(a.number("eps", 1e-8))
        .weight_decay(a.number("weight_decay", 1e-2))
        .amsgrad(a.flag("amsgrad", false));
    return std::make_unique<optim::AdamW>(std::move(params), o);
  }
  if (name == "SGD") {
    OptimizerArgs a(
        v, name, {"lr", "momentum", "dampening", "weight_decay", "nesterov"});
    MIP_CHECK(v.has("lr"), ConfigError, "optimizer SGD needs [", v.path(),
              ".lr]");
    optim::SGDOptions o(a.number("lr", 0.0));
    o.momentum(a.number("momentum", 0.0))
        .dampening(a.number("dampening", 0.0))
        .weight_decay(a.number("weight_decay", 0.0))
        .nesterov(a.flag("nesterov", false));
    return std::make_unique<optim::SGD>(std::move(params), o);
  }
  if (name == "RMSprop") {
    OptimizerArgs a(
        v, name,
        {"lr", "alpha", "eps", "weight_decay", "momentum", "centered"});
    optim::RMSpropOptions o(a.number("lr", 1e-2));
    o.alpha(a.number("alpha", 0.99))
        .eps(a.number("eps", 1e-8))
        .weight_decay(a.number("weight_decay", 0.0))
        .momentum(a.number("momentum", 0.0))
        .centered(a.flag("centered", false));
    return std::make_unique<optim::RMSprop>(std::move(params), o);
  }
  if (name == "Adagrad") {
    OptimizerArgs a(
        v, name,
        {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"});
    optim::AdagradOptions o(a.number("lr", 1e-2));
    o.lr_decay(a.number("lr_decay", 0.0))
        .weight_decay(a.number("weight_decay", 0.0))
        .initial_accumulator_value(a.number("initial_accumulator_value", 0.0))
        .eps(a.number("eps", 1e-10));
    return std::make_unique<optim::Adagrad>(std::move(params), o);
  }
  throw ConfigError(
      "optimizer [" + name + "] (" + v.path() + ".name) is not available" +
      did_you_mean(name, {"Adam", "AdamW", "SGD", "RMSprop", "Adagrad"}) +
      " (available: Adam, AdamW, SGD, RMSprop, Adagrad)");
}

// --- learning-rate schedulers
// ----------------------------------------------------

namespace {

void set_lrs(torch::optim::Optimizer& opt, const std::vector<double>& lrs) {
  auto& groups = opt.param_groups();
  for (size_t i = 0; i < groups.size() && i < lrs.size(); ++i)
    groups[i].options().set_lr(lrs[i]);
}

/// Schedules that are a closed-form function of the completed epochs.
class EpochSchedule final : public LrScheduler {
 public:
  using Rule = std::function<double(double base, int64_t epochs)>;
  EpochSchedule(torch::optim::Optimizer& opt, Rule rule)
      : opt_(opt), rule_(std::move(rule)) {
    for (auto& g : opt_.param_groups())
      base_.push_back(g.options().get_lr());
  }
  void epoch_end(int64_t epochs_done) override {
    std::vector<double> lrs;
    for (double b : base_)
      lrs.push_back(rule_(b, epochs_done));
    set_lrs(opt_, lrs);
  }
  void validation(double) override {}
  SchedulerState state() const override { return {}; }
  void restore(const SchedulerState&, int64_t epochs_done) override {
    if (epochs_done > 0)
      epoch_end(epochs_done);
  }

 private:
  torch::optim::Optimizer& opt_;
  Rule rule_;
  std::vector<double> base_;
};

/// ReduceLROnPlateau (mode min, relative threshold), as PyTorch's: a
/// reduction by no more than `eps` is skipped.
class Plateau final : public LrScheduler {
 public:
  Plateau(torch::optim::Optimizer& opt,
          double factor,
          int64_t patience,
          double threshold,
          int64_t cooldown,
          double min_lr,
          double eps)
      : opt_(opt),
        factor_(factor),
        patience_(patience),
        threshold_(threshold),
        cooldown_(cooldown),
        min_lr_(min_lr),
        eps_(eps) {}
  void epoch_end(int64_t) override {}
  void validation(double loss) override {
    if (loss < best_ * (1.0 - threshold_)) {
      best_ = loss;
      bad_ = 0;
    } else {
      ++bad_;
    }
    if (cooldown_left_ > 0) {
      --cooldown_left_;
      bad_ = 0;
    }
    if (bad_ > patience_) {
      for (auto& g : opt_.param_groups()) {
        const double old_lr = g.options().get_lr();
        const double new_lr = std::max(old_lr * factor_, min_lr_);
        if (old_lr - new_lr > eps_)
          g.options().set_lr(new_lr);
      }
      cooldown_left_ = cooldown_;
      bad_ = 0;
    }
  }
  SchedulerState state() const override {
    SchedulerState s = {{"best", best_},
                        {"num_bad_epochs", double(bad_)},
                        {"cooldown_counter", double(cooldown_left_)}};
    const auto& groups = opt_.param_groups();
    for (size_t i = 0; i < groups.size(); ++i)
      s["lr." + std::to_string(i)] = groups[i].options().get_lr();
    return s;
  }
  void restore(const SchedulerState& s, int64_t) override {
    if (s.empty())
      return;
    best_ = s.at("best");
    bad_ = static_cast<int64_t>(s.at("num_bad_epochs"));
    cooldown_left_ = static_cast<int64_t>(s.at("cooldown_counter"));
    std::vector<double> lrs;
    for (size_t i = 0; s.count("lr." + std::to_string(i)); ++i)
      lrs.push_back(s.at("lr." + std::to_string(i)));
    set_lrs(opt_, lrs);
  }

 private:
  torch::optim::Optimizer& opt_;
  double factor_;
  int64_t patience_;
  double threshold_;
  int64_t cooldown_;
  double min_lr_;
  double eps_;
  double best_ = std::numeric_limits<double>::infinity();
  int64_t bad_ = 0;
  int64_t cooldown_left_ = 0;
};

}  // namespace

SchedulerState scheduler_state_from_list(const std::vector<double>& list) {
  SchedulerState s;
  if (list.size() < 3)
    return s;
  s["best"] = list[0];
  s["num_bad_epochs"] = list[1];
  s["cooldown_counter"] = list[2];
  for (size_t i = 3; i < list.size(); ++i)
    s["lr." + std::to_string(i - 3)] = list[i];
  return s;
}

std::unique_ptr<LrScheduler> make_scheduler(const sdk::ParamView& v,
                                            torch::optim::Optimizer& opt) {
  const std::string name = v.get<std::string>("name");
  auto only = [&](std::vector<std::string> known) {
    known.push_back("name");
    for (const auto& k : v.keys()) {
      if (std::find(known.begin(), known.end(), k) != known.end())
        continue;
      throw ConfigError("scheduler " + name + " has no argument [" + v.path() +
                        "." + k + "]" + did_you_mean(k, known));
    }
  };
  if (name == "StepLR") {
    only({"step_size", "gamma"});
    const int64_t step = v.get<int64_t>("step_size");
    const double gamma = v.get<double>("gamma", 0.1);
    MIP_CHECK(step > 0, ConfigError, "[", v.path(), ".step_size] must be > 0");
    return std::make_unique<EpochSchedule>(opt, [=](double b, int64_t e) {
      return b * std::pow(gamma, static_cast<double>(e / step));
    });
  }
  if (name == "MultiStepLR") {
    only({"milestones", "gamma"});
    const auto milestones = v.get<std::vector<int64_t>>("milestones");
    const double gamma = v.get<double>("gamma", 0.1);
    return std::make_unique<EpochSchedule>(opt, [=](double b, int64_t e) {
      int64_t passed = 0;
      for (int64_t m : milestones)
        passed += e >= m ? 1 : 0;
      return b * std::pow(gamma, static_cast<double>(passed));
    });
  }
  if (name == "ExponentialLR") {
    only({"gamma"});
    const double gamma = v.get<double>("gamma");
    return std::make_unique<EpochSchedule>(opt, [=](double b, int64_t e) {
      return b * std::pow(gamma, static_cast<double>(e));
    });
  }
  if (name == "CosineAnnealingLR") {
    only({"T_max", "eta_min"});
    const int64_t t_max = v.get<int64_t>("T_max");
    const double eta_min = v.get<double>("eta_min", 0.0);
    MIP_CHECK(t_max > 0, ConfigError, "[", v.path(), ".T_max] must be > 0");
    return std::make_unique<EpochSchedule>(opt, [=](double b, int64_t e) {
      const double pi = std::acos(-1.0);
      return eta_min +
             (b - eta_min) *
                 (1.0 + std::cos(pi * static_cast<double>(e % (2 * t_max)) /
                                 static_cast<double>(t_max))) /
                 2.0;
    });
  }
  if (name == "ReduceLROnPlateau") {
    only({"factor", "patience", "threshold", "cooldown", "min_lr", "mode",
          "eps"});
    MIP_CHECK(v.get<std::string>("mode", "min") == "min", ConfigError, "[",
              v.path(), ".mode]: only min (validation loss) is supported");
    const double factor = v.get<double>("factor", 0.1);
    MIP_CHECK(factor > 0 && factor < 1, ConfigError, "[", v.path(),
              ".factor] must be in (0, 1)");
    return std::make_unique<Plateau>(
        opt, factor, v.get<int64_t>("patience", 10),
        v.get<double>("threshold", 1e-4), v.get<int64_t>("cooldown", 0),
        v.get<double>("min_lr", 0.0), v.get<double>("eps", 1e-8));
  }
  throw ConfigError(
      "scheduler [" + name + "] (" + v.path() + ".name) is not available" +
      did_you_mean(name, {"StepLR", "MultiStepLR", "ExponentialLR",
                          "CosineAnnealingLR", "ReduceLROnPlateau"}) +
      " (available: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, "
      "ReduceLROnPlateau)");
}

// --- gradient clipping
// ------------------------------------------------------------

GradientClipping GradientClipping::from_config(const sdk::ParamView& training) {
  GradientClipping c;
  if (!training.has("gradient_clipping"))
    return c;
  std::unique_ptr<sdk::ParamView> clip;
  try {
    clip = training.child("gradient_clipping");
  } catch (const ParameterError&) {  // not a map: a number (clip by value)
    c.value = training.get<double>("gradient_clipping");
    return c;
  }
  for (const auto& k : clip->keys())
    MIP_CHECK(k == "value" || k == "norm", ConfigError, "[", clip->path(), ".",
              k, "] is unknown; use a number, {value: v} or {norm: n}");
  c.value = clip->get<double>("value", 0.0);
  c.norm = clip->get<double>("norm", 0.0);
  return c;
}

void GradientClipping::apply(const std::vector<torch::Tensor>& params) const {
  if (value > 0)
    torch::nn::utils::clip_grad_value_(params, value);
  if (norm > 0)
    torch::nn::utils::clip_grad_norm_(params, norm);
}

}  // namespace mip
