// One of two libraries providing the same problem name (built twice).
#include <mip/sdk/problem.hpp>
#include <mip/sdk/register.hpp>

namespace {
class DupProblem final : public mip::sdk::Problem {
 public:
  explicit DupProblem(mip::sdk::Context&) {}
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

MIP_REGISTER_PROBLEM(DupProblem, "FixtureDuplicate", "fixture: provided twice")
