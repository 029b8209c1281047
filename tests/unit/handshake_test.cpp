// The handshake: a problem's data definitions against a model's, and a
// problem's first batch against its own definitions.
#include <ATen/ops/zeros.h>

#include <mip/core/handshake.hpp>
#include <mip/sdk/error.hpp>

#include "common/test_util.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace handshake_test {

sdk::DataDefinition def(std::vector<int64_t> shape,
                        c10::ScalarType t = c10::ScalarType::Float) {
  return {std::move(shape), t, ""};
}

TEST(Handshake, UnknownDimensionsMatchAnything) {
  EXPECT_TRUE(definition_compatible(def({-1, -1, 11}), def({-1, 5, 11})));
  EXPECT_FALSE(definition_compatible(def({-1, -1, 11}), def({-1, -1, 10})));
  EXPECT_FALSE(definition_compatible(def({-1, 11}), def({-1, -1, 11})));
  EXPECT_FALSE(
      definition_compatible(def({-1}), def({-1}, c10::ScalarType::Long)));
}

TEST(Handshake, MismatchPrintsBothDefinitions) {
  const sdk::DataDefinitions problem = {{"sequences", def({-1, -1, 11})}};
  const sdk::DataDefinitions needs = {{"predictions", def({-1, -1, 8})}};
  EXPECT_NO_THROW(check_handshake("P", problem, needs, "M",
                                  {{"sequences", def({-1, -1, 11})}},
                                  {{"predictions", def({-1, -1, 8})}}));
  try {
    check_handshake("P", problem, needs, "M",
                    {{"sequences", def({-1, -1, 12})}},
                    {{"logits", def({-1, -1, 8})}});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(
        msg.find(
            "model M needs [sequences] [-1, -1, 12] Float, problem P provides "
            "[sequences] [-1, -1, 11] Float"),
        std::string::npos)
        << msg;
    EXPECT_NE(
        msg.find(
            "needs [predictions] [-1, -1, 8] Float, which model M does not "
            "provide (it provides: logits)"),
        std::string::npos)
        << msg;
  }
}

TEST(Handshake, BatchMustMatchItsProblemsOwnDefinitions) {
  const sdk::DataDefinitions declared = {
      {"x", def({-1, 3})}, {"y", def({-1}, c10::ScalarType::Long)}};
  sdk::DataDict good;
  good["x"] = at::zeros({5, 3});
  good["y"] = at::zeros({5}, at::kLong);
  EXPECT_NO_THROW(check_batch("[P] (training, batch 0)", declared, good));

  sdk::DataDict bad;
  bad["x"] = at::zeros({5, 4});         // wrong size where one is declared
  bad["z"] = at::zeros({5}, at::kInt);  // not declared; y is missing
  try {
    check_batch("[P] (training, batch 0)", declared, bad);
    FAIL() << "no error";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_HAS(msg,
               "problem [P] (training, batch 0) made a batch that does "
               "not match its own data definitions");
    EXPECT_HAS(msg,
               "[x] is declared [-1, 3] Float, the batch holds [5, 4] "
               "Float");
    EXPECT_HAS(msg, "[y] is declared [-1] Long but the batch lacks it");
    EXPECT_HAS(msg, "[z] [5] Int is in the batch but not declared");
  }
  sdk::DataDict other;
  other["x"] = at::zeros({5, 3}, at::kDouble);
  other["y"] = at::Tensor();  // created by operator[] and never set
  const std::string msg = test::error_of(
      [&] { check_batch("[P] (testing, batch 0)", declared, other); });
  EXPECT_HAS(msg, "the batch holds [5, 3] Double");
  EXPECT_HAS(msg,
             "[y] is declared [-1] Long, the batch holds an undefined "
             "tensor");
}

}  // namespace handshake_test
}  // namespace mip
