// A fixture whose factories throw: a mip error from the problem, a plain
// std::runtime_error from the model.
#include <stdexcept>

#include <mip/sdk/sdk.hpp>

namespace {

class ThrowingProblem final : public mip::sdk::Problem {
 public:
  explicit ThrowingProblem(mip::sdk::Context& ctx) {
    ctx.params().get<int64_t>("needed_but_missing");
  }
  mip::sdk::DataDefinitions data_definitions() const override { return {}; }
  mip::sdk::DataDefinitions prediction_definitions() const override {
    return {};
  }
  int64_t size() const override { return 1; }
  mip::sdk::DataDict get_batch(const std::vector<int64_t>&,
                               at::Generator&) override {
    return {};
  }
  at::Tensor evaluate_loss(const mip::sdk::DataDict&,
                           const mip::sdk::DataDict&) override {
    return {};
  }
};

class ThrowingModel final : public mip::sdk::Model {
 public:
  explicit ThrowingModel(mip::sdk::Context&) {
    throw std::runtime_error("fixture model refuses to be built");
  }
  mip::sdk::DataDefinitions input_definitions() const override { return {}; }
  mip::sdk::DataDefinitions output_definitions() const override { return {}; }
  mip::sdk::DataDict forward(const mip::sdk::DataDict&) override { return {}; }
};

}  // namespace

MIP_REGISTER_PROBLEM(ThrowingProblem,
                     "ThrowingProblem",
                     "fixture: constructor throws")
MIP_REGISTER_MODEL(ThrowingModel,
                   "ThrowingModel",
                   "fixture: constructor throws")
