// The handshake: a problem's data definitions against a model's.
#include <mip/core/handshake.hpp>
#include <mip/sdk/error.hpp>

#include "common/test_util.hpp"

namespace mip {
namespace {

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

}  // namespace
}  // namespace mip
