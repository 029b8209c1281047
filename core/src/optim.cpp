// Optimizers by name and learning-rate schedulers.
#include <mip/core/registry.hpp>
#include <mip/core/training.hpp>

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
        const auto best = closest(k, known_);
        std::string all;
        for (const auto& a : known_)
          all += " " + a;
        throw ConfigError(
            "optimizer " + name_ + " has no argument [" + v_.path() + "." + k +
            "]" + (best.empty() ? "" : "; did you mean [" + best[0] + "]?") +
            " (its arguments:" + all + ")");
      }
    }
  }
  double d(const std::string& k, double fallback) const {
    return v_.get<double>(k, fallback);
  }
  bool b(const std::string& k, bool fallback) const {
    return v_.get<bool>(k, fallback);
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
      optim::AdamOptions o(a.d("lr", 1e-3));
      o.betas(a.betas({0.9, 0.999}))
          .eps(a.d("eps", 1e-8))
          .weight_decay(a.d("weight_decay", 0.0))
          .amsgrad(a.b("amsgrad", false));
      return std::make_unique<optim::Adam>(std::move(params), o);
    }
    optim::AdamWOptions o(a.d("lr", 1e-3));
    o.betas(a.betas({0.9, 0.999}))
        .eps(a.d("eps", 1e-8))
        .weight_decay(a.d("weight_decay", 1e-2))
        .amsgrad(a.b("amsgrad", false));
    return std::make_unique<optim::AdamW>(std::move(params), o);
  }
  if (name == "SGD") {
    OptimizerArgs a(
        v, name, {"lr", "momentum", "dampening", "weight_decay", "nesterov"});
    MIP_CHECK(v.has("lr"), ConfigError, "optimizer SGD needs [", v.path(),
              ".lr]");
    optim::SGDOptions o(a.d("lr", 0.0));
    o.momentum(a.d("momentum", 0.0))
        .dampening(a.d("dampening", 0.0))
        .weight_decay(a.d("weight_decay", 0.0))
        .nesterov(a.b("nesterov", false));
    return std::make_unique<optim::SGD>(std::move(params), o);
  }
  if (name == "RMSprop") {
    OptimizerArgs a(
        v, name,
        {"lr", "alpha", "eps", "weight_decay", "momentum", "centered"});
    optim::RMSpropOptions o(a.d("lr", 1e-2));
    o.alpha(a.d("alpha", 0.99))
        .eps(a.d("eps", 1e-8))
        .weight_decay(a.d("weight_decay", 0.0))
        .momentum(a.d("momentum", 0.0))
        .centered(a.b("centered", false));
    return std::make_unique<optim::RMSprop>(std::move(params), o);
  }
  if (name == "Adagrad") {
    OptimizerArgs a(
        v, name,
        {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"});
    optim::AdagradOptions o(a.d("lr", 1e-2));
    o.lr_decay(a.d("lr_decay", 0.0))
        .weight_decay(a.d("weight_decay", 0.0))
        .initial_accumulator_value(a.d("initial_accumulator_value", 0.0))
        .eps(a.d("eps", 1e-10));
    return std::make_unique<optim::Adagrad>(std::move(params), o);
  }
  const auto best =
      closest(name, {"Adam", "AdamW", "SGD", "RMSprop", "Adagrad"});
  throw ConfigError("optimizer [" + name + "] (" + v.path() +
                    ".name) is not available" +
                    (best.empty() ? "" : "; did you mean [" + best[0] + "]?") +
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
  std::vector<double> state() const override { return {}; }
  void restore(const std::vector<double>&, int64_t epochs_done) override {
    if (epochs_done > 0)
      epoch_end(epochs_done);
  }

 private:
  torch::optim::Optimizer& opt_;
  Rule rule_;
  std::vector<double> base_;
};

/// ReduceLROnPlateau (mode min, relative threshold), as PyTorch's.
class Plateau final : public LrScheduler {
 public:
  Plateau(torch::optim::Optimizer& opt,
          double factor,
          int64_t patience,
          double threshold,
          int64_t cooldown,
          double min_lr)
      : opt_(opt),
        factor_(factor),
        patience_(patience),
        threshold_(threshold),
        cooldown_(cooldown),
        min_lr_(min_lr) {}
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
      std::vector<double> lrs;
      for (auto& g : opt_.param_groups())
        lrs.push_back(std::max(g.options().get_lr() * factor_, min_lr_));
      set_lrs(opt_, lrs);
      cooldown_left_ = cooldown_;
      bad_ = 0;
    }
  }
  std::vector<double> state() const override {
    std::vector<double> s = {best_, double(bad_), double(cooldown_left_)};
    for (auto& g : opt_.param_groups())
      s.push_back(g.options().get_lr());
    return s;
  }
  void restore(const std::vector<double>& s, int64_t) override {
    if (s.size() < 3)
      return;
    best_ = s[0];
    bad_ = static_cast<int64_t>(s[1]);
    cooldown_left_ = static_cast<int64_t>(s[2]);
    set_lrs(opt_, std::vector<double>(s.begin() + 3, s.end()));
  }

 private:
  torch::optim::Optimizer& opt_;
  double factor_;
  int64_t patience_;
  double threshold_;
  int64_t cooldown_;
  double min_lr_;
  double best_ = std::numeric_limits<double>::infinity();
  int64_t bad_ = 0;
  int64_t cooldown_left_ = 0;
};

}  // namespace

std::unique_ptr<LrScheduler> make_scheduler(const sdk::ParamView& v,
                                            torch::optim::Optimizer& opt) {
  const std::string name = v.get<std::string>("name");
  auto only = [&](std::vector<std::string> known) {
    known.push_back("name");
    for (const auto& k : v.keys()) {
      if (std::find(known.begin(), known.end(), k) != known.end())
        continue;
      const auto best = closest(k, known);
      throw ConfigError(
          "scheduler " + name + " has no argument [" + v.path() + "." + k +
          "]" + (best.empty() ? "" : "; did you mean [" + best[0] + "]?"));
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
    only({"factor", "patience", "threshold", "cooldown", "min_lr", "mode"});
    MIP_CHECK(v.get<std::string>("mode", "min") == "min", ConfigError, "[",
              v.path(), ".mode]: only min (validation loss) is supported");
    const double factor = v.get<double>("factor", 0.1);
    MIP_CHECK(factor > 0 && factor < 1, ConfigError, "[", v.path(),
              ".factor] must be in (0, 1)");
    return std::make_unique<Plateau>(
        opt, factor, v.get<int64_t>("patience", 10),
        v.get<double>("threshold", 1e-4), v.get<int64_t>("cooldown", 0),
        v.get<double>("min_lr", 0.0));
  }
  const auto best = closest(name, {"StepLR", "MultiStepLR", "ExponentialLR",
                                   "CosineAnnealingLR", "ReduceLROnPlateau"});
  throw ConfigError(
      "scheduler [" + name + "] (" + v.path() + ".name) is not available" +
      (best.empty() ? "" : "; did you mean [" + best[0] + "]?") +
      " (available: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, "
      "ReduceLROnPlateau)");
}

}  // namespace mip
