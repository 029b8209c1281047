// mip-plugins end to end: listing and describing the installed plugins, and
// what it says of files and folders it cannot use.
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "common/test_util.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace mip_plugins_test {

using test::run;
using test::RunResult;
using test::TempDir;

const std::string kPlugins = MIP_PLUGINS_TOOL;

/// A command prefix that runs without the capabilities that let root read
/// any file, or "" when this machine cannot drop them (then root reads
/// everything and an unreadable file cannot be made).
std::string without_read_override(const TempDir& d) {
  const std::string probe = d.write("probe", "x");
  ::chmod(probe.c_str(), 0);
  for (const std::string prefix :
       {"setpriv --bounding-set=-dac_override,-dac_read_search "
        "--inh-caps=-all -- ",
        "capsh --drop=cap_dac_override,cap_dac_read_search -- -c "}) {
    const bool shell = prefix.rfind("capsh", 0) == 0;
    const std::string cat = shell ? "'cat " + probe + "'" : "cat " + probe;
    const RunResult r = run(prefix + cat);
    if (r.code != 0 && r.output.find("ermission denied") != std::string::npos)
      return prefix;
  }
  return "";
}

TEST(MipPlugins, ListAndInfo) {
  RunResult r = run(kPlugins + " list");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("SerialRecallCommandLines  (aliases: SerialRecall"),
            std::string::npos)
      << r.output;
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

TEST(MipPlugins, LinkLoopIsAClearErrorNotACrash) {
  TempDir d;
  const fs::path loop = d.path() / "libloop.so";
  fs::create_symlink(loop, loop);
  RunResult r = run(kPlugins + " info " + loop.string());
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_HAS(r.output, "plugin [" + loop.string() +
                           "]: is a symbolic link loop (it leads back to "
                           "itself); fix or remove the link");
  EXPECT_EQ(r.output.find("filesystem"), std::string::npos) << r.output;
  // In a plugin folder, listed as not loaded; so is a folder that is a loop.
  const fs::path folder = d.path() / "loop-folder";
  fs::create_symlink(folder, folder);
  r = run(kPlugins + " --plugin-path " + d.str() + " --plugin-path " +
          folder.string() + " list");
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_HAS(r.output, "not loaded: " + loop.string());
  EXPECT_HAS(r.output,
             "plugin folder [" + folder.string() + "] is a symbolic link loop");
  EXPECT_HAS(r.output, "LSTM");  // the other folders are still searched
}

TEST(MipPlugins, UnreadableLibraryAndFolderSayWhy) {
  TempDir d;
  const std::string drop = without_read_override(d);
  if (drop.empty())
    GTEST_SKIP() << "cannot drop CAP_DAC_OVERRIDE here (setpriv/capsh "
                    "missing or refused): every file is readable";
  const fs::path lib = d.path() / "libsecret.so";
  fs::copy_file(fs::path(MIP_BUILD_PLUGIN_DIR) / "libmip_lstm.so", lib);
  ::chmod(lib.c_str(), 0);
  const bool shell = drop.rfind("capsh", 0) == 0;
  const auto as_user = [&](const std::string& args) {
    const std::string cmd = kPlugins + " " + args;
    return run(drop + (shell ? "'" + cmd + "'" : cmd));
  };
  RunResult r = as_user("info " + lib.string());
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_HAS(r.output, "plugin [" + lib.string() +
                           "]: cannot be read (Permission denied); make it "
                           "readable (chmod a+r)");
  EXPECT_EQ(r.output.find("not a shared library"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("basic_ios"), std::string::npos) << r.output;

  const fs::path folder = d.path() / "closed";
  fs::create_directories(folder);
  ::chmod(folder.c_str(), 0);
  r = as_user("--plugin-path " + folder.string() + " list");
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_HAS(r.output, "plugin folder [" + folder.string() +
                           "] cannot be read (Permission denied)");
  ::chmod(folder.c_str(), 0700);
}

}  // namespace mip_plugins_test
}  // namespace mip
