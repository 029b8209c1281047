// The SDK as an outside author meets it: install the project into a prefix,
// build the plugin template against that prefix alone, train with its
// plugins; a plugin whose defaults files miss a component fails to build;
// and the .deb: its dependencies and a run from its files.
#include <filesystem>

#include "common/test_util.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace sdk_test {

using test::only_experiment;
using test::read;
using test::run;
using test::RunResult;
using test::TempDir;

const std::string kBuild = MIP_BINARY_DIR;
const std::string kSource = MIP_SOURCE_DIR;

TEST(Sdk, InstalledPackageBuildsThePluginTemplateOutOfTree) {
  TempDir d;
  const fs::path prefix = d.path() / "prefix";
  RunResult r =
      run("cmake --install " + kBuild + " --prefix " + prefix.string());
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* f :
       {"bin/mip-online-trainer", "bin/mip-offline-trainer", "bin/mip-tester",
        "bin/mip-plugins", "bin/mip-report", "lib/libmip_core.so",
        "lib/mip/plugins/libmip_serial_recall.so",
        "lib/mip/plugins/libmip_lstm.so", "include/mip/sdk/problem.hpp",
        "include/mip/sdk/build_config.hpp",
        "include/mip/sdk/detail/register.hpp", "lib/cmake/Mip/MipConfig.cmake",
        "lib/cmake/Mip/MipPlugin.cmake", "lib/cmake/Mip/mip_plugin_check.cpp",
        "share/mip/configs/serial_recall/lstm.yaml",
        "share/doc/mip/examples/plugin-template/CMakeLists.txt"})
    EXPECT_TRUE(fs::exists(prefix / f)) << f;
  EXPECT_FALSE(fs::exists(prefix / "lib/mip/plugins/libfixture_good.so"));

  // The installed workers find the installed plugins from any folder.
  r = run("cd " + d.str() + " && " + (prefix / "bin/mip-plugins").string() +
          " list");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find((prefix / "lib/mip/plugins/libmip_lstm.so").string()),
            std::string::npos)
      << r.output;

  // The template, built against the prefix only (a copy, as an author would).
  const fs::path src = d.path() / "my-plugins";
  fs::copy(prefix / "share/doc/mip/examples/plugin-template", src,
           fs::copy_options::recursive);
  r = run("cmake -S " + src.string() + " -B " + (src / "build").string() +
          " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" + prefix.string() +
          " && cmake --build " + (src / "build").string() + " -j2");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path plugins = src / "build/lib/mip/plugins";
  EXPECT_TRUE(fs::exists(plugins / "libtemplate_majority.so"));
  EXPECT_TRUE(fs::exists(plugins / "libtemplate_mlp.so"));
  r = run("cd " + src.string() + " && MIP_PLUGIN_PATH=" + plugins.string() +
          " " + (prefix / "bin/mip-online-trainer").string() +
          " --config majority.yaml --expdir " + d.str() + "/exp");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  EXPECT_EQ(exp.parent_path(),
            d.path() / "exp" / "MajorityBits" / "TemplateMlp");
  const std::string valid = read(exp / "validation_statistics.csv");
  EXPECT_NE(valid.find("acc"), std::string::npos);
  r = run("MIP_PLUGIN_PATH=" + plugins.string() + " " +
          (prefix / "bin/mip-plugins").string() + " info MajorityBits");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("bits: 9"), std::string::npos) << r.output;
}

/// Installs the project under `d`/prefix and configures the fixture plugin
/// project tests/plugins/unmatched_defaults against it in `d`/build.
void configure_fixture_project(const TempDir& d) {
  const fs::path prefix = d.path() / "prefix";
  RunResult r =
      run("cmake --install " + kBuild + " --prefix " + prefix.string());
  ASSERT_EQ(r.code, 0) << r.output;
  r = run("cmake -S " + kSource + "/tests/plugins/unmatched_defaults -B " +
          (d.path() / "build").string() +
          " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" + prefix.string());
  ASSERT_EQ(r.code, 0) << r.output;
}

TEST(Sdk, AComponentMatchingNoneOfSeveralDefaultsFilesFailsTheBuild) {
  TempDir d;
  const fs::path prefix = d.path() / "prefix";
  const fs::path build = d.path() / "build";
  ASSERT_NO_FATAL_FAILURE(configure_fixture_project(d));
  RunResult r;

  // Alpha and Beta each match a file (any case): the plugin builds, and each
  // component shows its own defaults.
  r = run("cmake --build " + build.string() + " --target fixture_matched");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path plugins = build / "lib/mip/plugins";
  const fs::path matched = plugins / "libfixture_matched.so";
  ASSERT_TRUE(fs::exists(matched));
  r = run((prefix / "bin/mip-plugins").string() + " info " + matched.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const size_t alpha = r.output.find("Alpha");
  const size_t beta = r.output.find("problem:        Beta");
  ASSERT_NE(beta, std::string::npos) << r.output;
  EXPECT_LT(alpha, r.output.find("alpha_size: 4")) << r.output;
  EXPECT_LT(r.output.find("alpha_size: 4"), beta) << r.output;
  EXPECT_NE(r.output.find("beta_size: 8", beta), std::string::npos) << r.output;

  // Gamma matches neither alpha.yml nor Beta.yml: the build fails and says
  // which plugin, which component, which files, and what to do.
  r = run("cmake --build " + build.string() + " --target fixture_unmatched");
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(
                "error: mip_add_plugin(fixture_unmatched): the problem [Gamma] "
                "matches none of the plugin's DEFAULTS files (alpha.yml, "
                "Beta.yml)."),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(
                "Name its file gamma.yml (rename it, or add it to DEFAULTS)"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("[Alpha]"), std::string::npos) << r.output;
  // No half-checked library is left for the workers to find, and the next
  // build fails again.
  EXPECT_FALSE(fs::exists(plugins / "libfixture_unmatched.so"));
  r = run("cmake --build " + build.string() + " --target fixture_unmatched");
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("the problem [Gamma] matches none"),
            std::string::npos)
      << r.output;
}

TEST(Sdk, APluginThatRegistersNoComponentFailsTheBuild) {
  // Forgetting every MIP_REGISTER_* line must fail where the plugin is
  // built, not where it is deployed.
  TempDir d;
  ASSERT_NO_FATAL_FAILURE(configure_fixture_project(d));
  const fs::path build = d.path() / "build";
  RunResult r =
      run("cmake --build " + build.string() + " --target fixture_unregistered");
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_HAS(
      r.output,
      "error: mip_add_plugin(fixture_unregistered): [" +
          (build / "lib/mip/plugins/libfixture_unregistered.so").string() +
          "] registers no component: no MIP_REGISTER_PROBLEM or "
          "MIP_REGISTER_MODEL line was compiled into it");
  EXPECT_HAS(r.output, "MIP_REGISTER_MODEL(MyModel, \"MyModel\"");
  EXPECT_FALSE(
      fs::exists(build / "lib/mip/plugins/libfixture_unregistered.so"));
}

TEST(Sdk, DebianPackageNamesItsDependenciesAndRunsFromItsFiles) {
  TempDir d;
  RunResult r = run("cd " + kBuild + " && cpack -G DEB -B " + d.str() + "/deb");
  ASSERT_EQ(r.code, 0) << r.output;
  fs::path deb;
  for (const auto& e : fs::directory_iterator(d.path() / "deb"))
    if (e.path().extension() == ".deb")
      deb = e.path();
  ASSERT_FALSE(deb.empty()) << r.output;
  r = run("dpkg-deb -f " + deb.string() + " Depends");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* p : {"libtorch1.13", "libyaml-cpp0.7", "libspdlog1.10",
                        "libboost-program-options"})
    EXPECT_NE(r.output.find(p), std::string::npos)
        << p << " missing in: " << r.output;
  r = run("dpkg-deb -c " + deb.string());
  for (const char* f :
       {"./usr/bin/mip-online-trainer", "./usr/lib/mip/plugins/libmip_lstm.so",
        "./usr/share/mip/configs/serial_recall/lstm.yaml",
        "./usr/lib/cmake/Mip/MipConfig.cmake", "./usr/include/mip/sdk/sdk.hpp"})
    EXPECT_NE(r.output.find(f), std::string::npos) << f;
  // Unpacked elsewhere, the worker runs the shipped configuration.
  const fs::path root = d.path() / "root";
  r = run("dpkg-deb -x " + deb.string() + " " + root.string());
  ASSERT_EQ(r.code, 0) << r.output;
  r = run("cd / && " + (root / "usr/bin/mip-online-trainer").string() +
          " --config " +
          (root / "usr/share/mip/configs/serial_recall/lstm.yaml").string() +
          " --expdir " + d.str() +
          "/exp --set training.terminal_conditions.episode_limit=20");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find((root / "usr/lib/mip/plugins").string()),
            std::string::npos)
      << "the unpacked plugins are used: " << r.output;
}

}  // namespace sdk_test
}  // namespace mip
