// A good fixture plugin: a tiny generated problem and a linear model.
// FIXTURE_PROBLEM_NAME lets the same source build a duplicate provider.
#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>

#include <mip/sdk/sdk.hpp>

#ifndef FIXTURE_PROBLEM_NAME
#define FIXTURE_PROBLEM_NAME "FixtureProblem"
#endif

namespace {

class FixtureProblem final : public mip::sdk::Problem {
 public:
  explicit FixtureProblem(mip::sdk::Context& ctx)
      : width_(ctx.params().get<int64_t>("width")),
        size_(ctx.params().get<int64_t>("size")),
        fail_at_(ctx.params().get<int64_t>("fail_at_sample")),
        bad_batch_(ctx.params().get<std::string>("bad_batch")),
        accuracy_aggregates_(ctx.params().get<bool>("accuracy_aggregates")) {
    ctx.logger().debug("FixtureProblem built");
  }
  mip::sdk::DataDefinitions data_definitions() const override {
    return {{"inputs", {{-1, width_}, at::kFloat, "x"}},
            {"targets", {{-1, 1}, at::kFloat, "sum of x"}}};
  }
  mip::sdk::DataDefinitions prediction_definitions() const override {
    return {{"predictions", {{-1, 1}, at::kFloat, "y"}}};
  }
  std::map<std::string, double> default_values() const override {
    return {{"input_size", double(width_)}};
  }
  int64_t size() const override { return size_; }
  mip::sdk::DataDict get_batch(const std::vector<int64_t>& idx,
                               at::Generator& gen) override {
    for (int64_t i : idx)
      MIP_CHECK(i != fail_at_, mip::DataError, "fixture: sample ", i,
                " is unreadable");
    mip::sdk::DataDict d;
    const int64_t wide = width_ + (bad_batch_ == "wrong_shape" ? 1 : 0);
    d["inputs"] = at::rand({int64_t(idx.size()), wide}, gen);
    d["targets"] = d["inputs"].sum(1, true);
    if (bad_batch_ == "wrong_dtype")
      d["targets"] = d["targets"].to(at::kDouble);
    if (bad_batch_ == "extra")
      d["weights"] = at::ones({int64_t(idx.size())});
    return d;
  }
  at::Tensor evaluate_loss(const mip::sdk::DataDict& b,
                           const mip::sdk::DataDict& p) override {
    return at::mse_loss(p.at("predictions"), b.at("targets"));
  }
  // With accuracy_aggregates, the accuracy aggregates without the
  // statistics they are computed from (a plugin author's mistake).
  void add_aggregators(mip::sdk::StatisticsAggregator& agg) override {
    if (accuracy_aggregates_)
      mip::sdk::add_accuracy_aggregators(agg);
  }
  void aggregate_statistics(const mip::sdk::StatisticsCollector& col,
                            mip::sdk::StatisticsAggregator& agg) override {
    if (accuracy_aggregates_)
      mip::sdk::aggregate_accuracy(col, agg);
  }

 private:
  int64_t width_, size_, fail_at_;
  std::string bad_batch_;
  bool accuracy_aggregates_;
};

// y = x W^T + b, drawn and named as torch::nn::Linear (ATen only: the
// plugin then needs no <torch/torch.h>).
class LinearLayer final : public torch::nn::Module {
 public:
  explicit LinearLayer(int64_t in) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    torch::NoGradGuard no_grad;
    weight_ = register_parameter("weight", at::empty({1, in}));
    weight_.uniform_(-bound, bound);
    bias_ = register_parameter("bias", at::empty({1}));
    bias_.uniform_(-bound, bound);
  }
  at::Tensor forward(const at::Tensor& x) const {
    return at::linear(x, weight_, bias_);
  }

 private:
  at::Tensor weight_, bias_;
};

class FixtureModel final : public mip::sdk::Model {
 public:
  explicit FixtureModel(mip::sdk::Context& ctx)
      : in_(ctx.params().get<int64_t>("input_size")) {
    linear_ = register_module("linear", std::make_shared<LinearLayer>(in_));
  }
  mip::sdk::DataDefinitions input_definitions() const override {
    return {{"inputs", {{-1, in_}, at::kFloat, "x"}}};
  }
  mip::sdk::DataDefinitions output_definitions() const override {
    return {{"predictions", {{-1, 1}, at::kFloat, "y"}}};
  }
  mip::sdk::DataDict forward(const mip::sdk::DataDict& b) override {
    mip::sdk::DataDict out;
    out["predictions"] = linear_->forward(b.at("inputs"));
    return out;
  }

 private:
  int64_t in_;
  std::shared_ptr<LinearLayer> linear_;
};

}  // namespace

MIP_REGISTER_PROBLEM(FixtureProblem,
                     FIXTURE_PROBLEM_NAME,
                     "fixture: sum of random numbers",
                     "FixtureAlias")
MIP_REGISTER_MODEL(FixtureModel, "FixtureModel", "fixture: one linear layer")
