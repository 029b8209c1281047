// The trainer and its plugins: which library each component came from, the
// libraries it refused, the handshake of each section's own problem, and a
// problem whose batches break its own data definitions.
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace plugin_runs_test {

using namespace test;

const std::string kFixtures = fs::path(MIP_FIXTURE_GOOD).parent_path().string();
const std::string kBuiltin =
    fs::weakly_canonical(MIP_BUILD_PLUGIN_DIR).string();

TEST(PluginRuns, RefusedLibrariesAreWarnedAndEachComponentSaysItsLibrary) {
  // A folder searched before the built-in plugins, holding an LSTM plugin
  // anyone may overwrite, a file that is no library and a dangling link: all
  // three are refused, and the built-in LSTM runs instead. The user must be
  // told, not find out from the results.
  TempDir d;
  const fs::path mine = d.path() / "mine";
  fs::create_directories(mine);
  fs::copy_file(fs::path(MIP_BUILD_PLUGIN_DIR) / "libmip_lstm.so",
                mine / "libmy_lstm.so");
  ::chmod((mine / "libmy_lstm.so").c_str(), 0777);
  d.write("mine/libnotes.so", "not a library\n");
  fs::create_symlink(mine / "gone.so", mine / "libgone.so");
  const RunResult r =
      run(kOnline + " --config " + kSerialRecall + " --expdir " + d.str() +
          "/exp --plugin-path " + mine.string() +
          " --set training.terminal_conditions.episode_limit=3");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output,
             "plugins: not loaded, its components are not "
             "available: plugin library [" +
                 (mine / "libmy_lstm.so").string() +
                 "] is writable by every user (mode 0777)");
  EXPECT_HAS(r.output, "plugin [" + (mine / "libnotes.so").string() +
                           "]: not a shared library");
  EXPECT_HAS(r.output, "plugin [" + (mine / "libgone.so").string() +
                           "]: is a dangling symbolic link");
  for (const std::string section : {"training", "validation", "testing"})
    EXPECT_HAS(r.output, "Problem SerialRecallCommandLines (" + section +
                             ") from " + kBuiltin + "/libmip_serial_recall.so");
  EXPECT_HAS(r.output, "Model LSTM from " + kBuiltin + "/libmip_lstm.so");
}

TEST(PluginRuns, HandshakeNamesTheValidationProblemWhenItDiffers) {
  // Training on serial recall, validating on the fixture problem: the LSTM
  // does not fit the latter, and the message must say which problem it is.
  TempDir d;
  const std::string cfg =
      d.write("mixed.yaml",
              "training:\n"
              "  problem: {name: SerialRecallCommandLines, batch_size: 8,\n"
              "            min_sequence_length: 1, max_sequence_length: 3}\n"
              "  optimizer: {name: Adam, lr: 0.01}\n"
              "  terminal_conditions: {episode_limit: 3}\n"
              "validation:\n"
              "  problem: {name: FixtureProblem, batch_size: 8}\n"
              "model: {name: LSTM, hidden_state_size: 8, num_layers: 1}\n");
  const RunResult r = run(kOnline + " --config " + cfg + " --expdir " +
                          d.str() + "/exp --plugin-path " + kFixtures);
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output,
             "the model LSTM does not fit the problem FixtureProblem "
             "(validation)");
  EXPECT_HAS(r.output,
             "which problem FixtureProblem (validation) does not "
             "provide (it provides: inputs targets)");
}

/// A fixture run whose `section` problem makes batches that are `bad`.
RunResult bad_batch_run(const TempDir& d,
                        const std::string& section,
                        const std::string& bad) {
  std::string yaml;
  for (const std::string s : {"training", "validation"})
    yaml += s + ":\n  problem: {name: FixtureProblem, batch_size: 8" +
            (s == section ? ", bad_batch: " + bad : std::string()) + "}\n" +
            (s == "training" ? "  optimizer: {name: SGD, lr: 0.01}\n"
                               "  terminal_conditions: {episode_limit: 5}\n"
                             : "  partial_validation_interval: 1\n");
  yaml += "model: {name: FixtureModel}\n";
  return run(kOnline + " --config " + d.write(bad + ".yaml", yaml) +
             " --expdir " + d.str() + "/exp-" + section + "-" + bad +
             " --plugin-path " + kFixtures);
}

TEST(PluginRuns, FirstBatchIsCheckedAgainstItsProblemsOwnDefinitions) {
  // Batches that break the problem's declarations: the problem is blamed,
  // with the key, before the model runs on them.
  TempDir d;
  RunResult r = bad_batch_run(d, "training", "wrong_shape");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output,
             "problem [FixtureProblem] (training, batch 0) made a batch that "
             "does not match its own data definitions (the problem is at "
             "fault, not the model):\n  [inputs] is declared [-1, 4] Float, "
             "the batch holds [8, 5] Float");
  EXPECT_EQ(r.output.find("model [FixtureModel] forward"), std::string::npos)
      << r.output;
  EXPECT_HAS(read(only_experiment(d.path() / "exp-training-wrong_shape") /
                  "status.yaml"),
             "state: failed");

  r = bad_batch_run(d, "training", "wrong_dtype");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output,
             "[targets] is declared [-1, 1] Float, the batch holds "
             "[8, 1] Double");

  r = bad_batch_run(d, "validation", "extra");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_HAS(r.output, "problem [FixtureProblem] (validation, batch 0)");
  EXPECT_HAS(r.output, "[weights] [8] Float is in the batch but not declared");

  // Batches that keep their word train as before.
  r = bad_batch_run(d, "training", "none");
  EXPECT_EQ(r.code, 0) << r.output;
}

}  // namespace plugin_runs_test
}  // namespace mip
