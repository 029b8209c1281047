// mip-plugins end to end: listing and describing the installed plugins.
#include <string>

#include "common/test_util.hpp"

namespace mip {
namespace {

using test::run;
using test::RunResult;

const std::string kPlugins = MIP_PLUGINS_TOOL;

TEST(MipPlugins, ListAndInfo) {
  RunResult r = run(kPlugins + " list");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("SerialRecallCommandLines, SerialRecall"),
            std::string::npos);
  EXPECT_NE(r.output.find("LSTM"), std::string::npos);
  r = run(kPlugins + " info SerialRecall");
  EXPECT_EQ(r.code, 0) << r.output;
  for (const char* s :
       {"libmip_serial_recall.so", "SDK ABI 1",
        "LibTorch:", "C++11 ABI:", "min_sequence_length: ~", "control_bits: 2"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  r = run(kPlugins + " info LTSM");
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_NE(r.output.find("did you mean [LSTM]?"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace mip
