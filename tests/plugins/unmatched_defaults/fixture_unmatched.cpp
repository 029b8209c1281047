// Problems registered next to the defaults files alpha.yml and Beta.yml;
// with FIXTURE_GAMMA, also Gamma, which has no defaults file of its own;
// with FIXTURE_UNREGISTERED, none at all (the registration lines forgotten).
#include <mip/sdk/problem.hpp>
#include <mip/sdk/register.hpp>

namespace {
class FixtureProblem : public mip::sdk::Problem {
 public:
  explicit FixtureProblem(mip::sdk::Context&) {}
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
}  // namespace

#ifndef FIXTURE_UNREGISTERED
MIP_REGISTER_PROBLEM(FixtureProblem, "Alpha", "fixture: gets alpha.yml")
MIP_REGISTER_PROBLEM(FixtureProblem, "Beta", "fixture: gets Beta.yml")
#endif
#ifdef FIXTURE_GAMMA
MIP_REGISTER_PROBLEM(FixtureProblem, "Gamma", "fixture: matches no file")
#endif
