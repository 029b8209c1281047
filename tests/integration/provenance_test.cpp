// How a run was made (provenance.yaml), --dry-run, --agree, and reading a
// checkpoint and the statistics files from Python (docs/interop.md): the real
// workers, real folders, Debian's python3 with its torch and matplotlib.
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <mip/core/checkpoint.hpp>
#include <mip/core/folder.hpp>
#include <mip/core/provenance.hpp>
#include <mip/core/run.hpp>
#include <mip/core/text.hpp>
#include <mip/core/versions.hpp>
#include <mip/sdk/version.hpp>

#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace provenance_test {

using namespace test;

/// 30 episodes of the shipped serial recall, validated every 10.
const std::string kShort =
    " --config " + kSerialRecall +
    " --set training.terminal_conditions.episode_limit=30"
    " --set validation.partial_validation_interval=10";

/// Every file and folder under `root` (relative paths), empty when it does
/// not exist.
std::set<std::string> tree(const fs::path& root) {
  std::set<std::string> out;
  if (fs::exists(root))
    for (const auto& e : fs::recursive_directory_iterator(root))
      out.insert(fs::relative(e.path(), root).string());
  return out;
}

/// The text without its comment lines (the headers that name the folder).
std::string without_comments(const std::string& text) {
  std::string out, line;
  std::istringstream in(text);
  while (std::getline(in, line))
    if (line.rfind("#", 0) != 0)
      out += line + "\n";
  return out;
}

/// The output of a command that must succeed, trimmed.
std::string output_of(const std::string& command) {
  const RunResult r = run(command);
  EXPECT_EQ(r.code, 0) << command << "\n" << r.output;
  return trim(r.output);
}

/// Whether the source tree is a git checkout (a .git folder or file at its
/// root), whether or not git is installed to read it.
bool is_checkout(const std::string& dir) {
  return fs::exists(fs::path(dir) / ".git");
}

/// Whether git is installed and reads the checkout (it refuses one owned by
/// another user, for example).
bool git_reads(const std::string& dir) {
  return run("git -C " + dir + " rev-parse HEAD").code == 0;
}

// --- provenance.yaml ---------------------------------------------------------

TEST(Provenance, RecordsTheRunAndAppendsOnResume) {
  TempDir d;
  RunResult r = run(kOnline + kShort + " --threads 1 --expdir " + d.str() +
                    "/exp --set training.optimizer.lr=0.005");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  const std::string first = read(exp / kProvenanceFile);
  YAML::Node doc = YAML::LoadFile((exp / kProvenanceFile).string());
  ASSERT_EQ(doc["invocations"].size(), 1u) << first;
  const YAML::Node e = doc["invocations"][0];
  EXPECT_EQ(e["worker"].as<std::string>(), "mip-online-trainer");
  const auto argv = e["command_line"].as<std::vector<std::string>>();
  ASSERT_EQ(argv.size(), 13u) << first;
  EXPECT_EQ(argv[0], kOnline);
  EXPECT_EQ(argv[2], kSerialRecall);
  EXPECT_EQ(argv.back(), "training.optimizer.lr=0.005");
  EXPECT_EQ(
      e["overrides"].as<std::vector<std::string>>(),
      (std::vector<std::string>{"training.terminal_conditions.episode_limit=30",
                                "validation.partial_validation_interval=10",
                                "training.optimizer.lr=0.005"}));
  EXPECT_EQ(e["configuration_files"][0].as<std::string>(), kSerialRecall);
  EXPECT_FALSE(e["resumed"].as<bool>());
  // The run's identity is the one its folder and checkpoints carry.
  const SavedConfiguration saved =
      read_saved_configuration((exp / "training_configuration.yaml").string());
  EXPECT_EQ(e["run_id"].as<std::string>(), saved.run_id);
  EXPECT_EQ(e["configuration_digest"].as<std::string>(), saved.digest);
  EXPECT_EQ(e["framework"]["version"].as<std::string>(), framework_version());
  EXPECT_EQ(e["framework"]["executable"].as<std::string>(),
            fs::canonical(kOnline).string());
  EXPECT_EQ(e["libtorch"]["version"].as<std::string>(), TORCH_VERSION);
  // The test links the same LibTorch, so the same BLAS.
  EXPECT_EQ(e["blas"].as<std::string>(), blas_library_path());
  EXPECT_EQ(e["threads"]["intra_op"].as<int>(), 1);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_EQ(e["host"]["name"].as<std::string>(), host);
  EXPECT_EQ(e["device"].as<std::string>(), "cpu");
  EXPECT_EQ(e["state"].as<std::string>(), "finished");

  // Each component with the library it came from, as that file is now.
  const YAML::Node plugins = e["plugins"];
  ASSERT_EQ(plugins.size(), 4u) << first;  // training, validation, testing
  std::map<std::string, std::string> component;
  for (const auto& p : plugins) {
    component[p["key"].as<std::string>()] = p["component"].as<std::string>();
    const std::string lib = p["library"].as<std::string>();
    EXPECT_TRUE(
        fs::equivalent(fs::path(lib).parent_path(), MIP_BUILD_PLUGIN_DIR))
        << lib;
    EXPECT_EQ(p["bytes"].as<uintmax_t>(), fs::file_size(lib));
    EXPECT_EQ(p["sdk_version"].as<std::string>(), MIP_SDK_VERSION);
    EXPECT_EQ(p["torch_version"].as<std::string>(), TORCH_VERSION);
    const std::string bytes = read(lib);
    EXPECT_EQ(p["crc32"].as<std::string>(),
              crc_hex(crc32_update(0, bytes.data(), bytes.size())));
  }
  EXPECT_EQ(component["training.problem.name"], "SerialRecallCommandLines");
  EXPECT_EQ(component["validation.problem.name"], "SerialRecallCommandLines");
  EXPECT_EQ(component["model.name"], "LSTM");

  // The framework's checkout, as git tells it (none for a source tarball).
  const YAML::Node git = e["git"];
  if (is_checkout(kSource) && !git_reads(kSource)) {
    // No git here (a fresh machine with a copied checkout): the record says
    // so instead of inventing a commit.
    ASSERT_GE(git.size(), 1u) << first;
    EXPECT_EQ(git[0]["of"].as<std::string>(), "executable");
    EXPECT_HAS(git[0]["error"].as<std::string>(), "git could not tell");
    EXPECT_FALSE(git[0]["commit"]);
  } else if (is_checkout(kSource)) {
    ASSERT_GE(git.size(), 1u) << first;
    EXPECT_EQ(git[0]["of"].as<std::string>(), "executable");
    EXPECT_EQ(git[0]["checkout"].as<std::string>(),
              output_of("git -C " + kSource + " rev-parse --show-toplevel"));
    EXPECT_EQ(git[0]["commit"].as<std::string>(),
              output_of("git -C " + kSource + " rev-parse HEAD"));
    EXPECT_EQ(git[0]["dirty"].as<bool>(),
              !output_of("git -C " + kSource +
                         " status --porcelain --untracked-files=no")
                   .empty());
  } else {
    EXPECT_EQ(git.size(), 0u) << first;
  }

  // A resume adds an invocation; the first stays byte for byte.
  r = run(kOnline + " --resume " + exp.string() +
          " --set training.terminal_conditions.episode_limit=45");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string both = read(exp / kProvenanceFile);
  EXPECT_EQ(both.substr(0, first.size()), first);
  doc = YAML::Load(both);
  ASSERT_EQ(doc["invocations"].size(), 2u) << both;
  const YAML::Node second = doc["invocations"][1];
  EXPECT_TRUE(second["resumed"].as<bool>());
  EXPECT_EQ(second["first_episode"].as<int64_t>(), 30);
  EXPECT_EQ(second["overrides"].as<std::vector<std::string>>(),
            std::vector<std::string>{
                "training.terminal_conditions.episode_limit=45"});
  EXPECT_EQ(second["run_id"].as<std::string>(), saved.run_id);
  EXPECT_EQ(second["state"].as<std::string>(), "finished");

  // The tester records its own folder's provenance.
  r = run(kTester + " --model " + exp.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path test_dir = only_experiment(exp, "testing_configuration.yaml");
  const YAML::Node t = YAML::LoadFile((test_dir / kProvenanceFile).string());
  ASSERT_EQ(t["invocations"].size(), 1u);
  EXPECT_EQ(t["invocations"][0]["worker"].as<std::string>(), "mip-tester");
  EXPECT_EQ(t["invocations"][0]["model_checkpoint"].as<std::string>(),
            exp.string());
  EXPECT_EQ(t["invocations"][0]["state"].as<std::string>(), "finished");
}

TEST(Provenance, DamagedRecordIsKeptAsideOnResume) {
  TempDir d;
  RunResult r = run(kOnline + kShort + " --expdir " + d.str() + "/exp");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  const std::string damaged = "invocations: [unclosed\n";
  d.write(fs::relative(exp / kProvenanceFile, d.path()).string(), damaged);
  r = run(kOnline + " --resume " + exp.string() +
          " --set training.terminal_conditions.episode_limit=40");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "is not a provenance record");
  EXPECT_EQ(read(exp / "provenance.yaml.unreadable"), damaged);
  const YAML::Node doc = YAML::LoadFile((exp / kProvenanceFile).string());
  EXPECT_EQ(doc["invocations"].size(), 1u);
}

TEST(Provenance, WithoutGitTheRunGoesOn) {
  // No git on PATH, and a configuration outside any checkout.
  TempDir d;
  const std::string config = d.write(
      "c.yaml", "default_configs: " + kSerialRecall +
                    "\ntraining: {terminal_conditions: {episode_limit: 5}}\n");
  const RunResult r = run("env PATH=/nonexistent " + kOnline + " --config " +
                          config + " --expdir " + d.str() + "/exp");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  const YAML::Node e =
      YAML::LoadFile((exp / kProvenanceFile).string())["invocations"][0];
  const YAML::Node git = e["git"];
  if (is_checkout(kSource)) {
    ASSERT_EQ(git.size(), 1u);  // only the executable's checkout
    EXPECT_EQ(git[0]["of"].as<std::string>(), "executable");
    EXPECT_HAS(git[0]["error"].as<std::string>(), "git could not tell");
    EXPECT_FALSE(git[0]["commit"]);
  } else {
    EXPECT_EQ(git.size(), 0u);
  }
  EXPECT_FALSE(git_state(d.str()).has_value());
}

// --- --dry-run
// ----------------------------------------------------------------

TEST(DryRun, OnlineTrainerWritesNothingAndPrintsTheConfiguration) {
  TempDir d;
  fs::create_directories(d.path() / "cwd");
  const std::string out = (d.path() / "resolved.yaml").string();
  // Only the configuration on stdout (the log is on stderr).
  RunResult r = run("(cd " + d.str() + "/cwd && " + kOnline + kShort +
                    " --dry-run --expdir " + d.str() + "/exp > " + out + ")");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output,
             "Dry run: training batch 0: loss 0.6");  // ~ln 2 untrained
  EXPECT_HAS(r.output, "(forward and backward, no optimizer step)");
  EXPECT_HAS(r.output, "Dry run: validation batch 0: loss");
  EXPECT_FALSE(fs::exists(d.path() / "exp"));
  EXPECT_TRUE(tree(d.path() / "cwd").empty());
  // What it prints is what a real run of the same command saves.
  r = run(kOnline + kShort + " --expdir " + d.str() + "/exp");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  const std::string resolved = read(out);
  EXPECT_HAS(resolved, "--dry-run; nothing was written");
  EXPECT_EQ(without_comments(resolved),
            without_comments(read(exp / "training_configuration.yaml")));
  // The printed configuration runs as it is.
  r = run(kOnline + " --config " + out + " --dry-run --expdir " + d.str() +
          "/exp2");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_FALSE(fs::exists(d.path() / "exp2"));
}

TEST(DryRun, OfflineTrainerTesterAndResumeWriteNothing) {
  TempDir d;
  const std::string config = mnist_config(d);
  d.write("valid_indices.txt", valid_indices());
  const std::set<std::string> before = tree(d.path());
  RunResult r = run(kOffline + " --config " + config + " --dry-run --expdir " +
                    d.str() + "/exp");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "Dry run: training batch 0: loss 2.");  // ~ln 10
  EXPECT_EQ(tree(d.path()), before);

  // The tester and a resume, on a trained folder: nothing in it changes.
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  const std::set<std::string> trained = tree(exp);
  const std::vector<std::string> outputs = run_outputs(exp);
  r = run(kTester + " --model " + exp.string() + " --dry-run");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "Dry run: testing batch 0: loss");
  EXPECT_HAS(r.output, "testing:");  // the printed configuration
  r = run(kOnline + " --resume " + exp.string() +
          " --set training.terminal_conditions.episode_limit=40 --dry-run");
  ASSERT_EQ(r.code, 0) << r.output;
  // The resumed run's first batch is the one after the checkpoint.
  EXPECT_HAS(r.output, "Dry run: training batch 20: loss");
  EXPECT_EQ(tree(exp), trained);
  EXPECT_EQ(run_outputs(exp), outputs);
}

TEST(DryRun, AMismatchFailsAsARealRunWould) {
  TempDir d;
  const RunResult r = run(kOnline + kShort +
                          " --set model.input_item_size=5 --dry-run --expdir " +
                          d.str() + "/exp");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output, "model LSTM needs [sequences] [-1, -1, 5] Float");
  EXPECT_FALSE(fs::exists(d.path() / "exp"));
}

// --- --agree
// ------------------------------------------------------------------

TEST(Agree, OnlyAYesCreatesTheFolder) {
  TempDir d;
  const std::string cmd =
      kOnline + kShort + " --agree --expdir " + d.str() + "/exp";
  for (const std::string& answer : {"n", "no", "whatever"}) {
    const RunResult r = run("echo " + answer + " | " + cmd);
    EXPECT_EQ(r.code, kExitNotConfirmed) << r.output;
    EXPECT_HAS(r.output,
               "--agree: answered [" + answer + "]; nothing was created");
    EXPECT_HAS(r.output, "Start: create the experiment folder under");
    EXPECT_FALSE(fs::exists(d.path() / "exp")) << answer;
  }
  RunResult r = run(cmd + " < /dev/null");
  EXPECT_EQ(r.code, kExitNotConfirmed) << r.output;
  EXPECT_HAS(r.output, "--agree: no answer (stdin ended); nothing was created");
  EXPECT_FALSE(fs::exists(d.path() / "exp"));

  // Enter (MI-Prometheus's answer), y and yes go on.
  r = run("echo | " + cmd + " --savetag enter");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "# Resolved configuration (mip-online-trainer)");
  r = run("echo YES | " + cmd + " --savetag yes");
  EXPECT_EQ(r.code, 0) << r.output;
  int folders = 0;
  for (const auto& e : fs::recursive_directory_iterator(d.path() / "exp"))
    folders += e.path().filename() == "training_configuration.yaml";
  EXPECT_EQ(folders, 2);
}

TEST(Agree, ADeclinedResumeOrTestChangesNothing) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  const std::set<std::string> trained = tree(exp);
  const std::string provenance = read(exp / kProvenanceFile);
  RunResult r = run("echo n | " + kOnline + " --resume " + exp.string() +
                    " --set training.terminal_conditions.episode_limit=40 "
                    "--agree");
  EXPECT_EQ(r.code, kExitNotConfirmed) << r.output;
  EXPECT_HAS(r.output, "Start: continue the experiment in " + exp.string());
  r = run("echo n | " + kTester + " --model " + exp.string() + " --agree");
  EXPECT_EQ(r.code, kExitNotConfirmed) << r.output;
  EXPECT_EQ(tree(exp), trained);
  EXPECT_EQ(read(exp / kProvenanceFile), provenance);
}

// --- Python (docs/interop.md)
// -------------------------------------------------

const std::string kPython = "/usr/bin/python3";

/// The ```python blocks of docs/interop.md, joined: the reader and the plot.
std::string interop_code() {
  const std::string doc = read(kSource + "/docs/interop.md");
  std::string code;
  for (size_t at = doc.find("```python\n"); at != std::string::npos;
       at = doc.find("```python\n", at)) {
    at += 10;
    const size_t end = doc.find("```", at);
    code += doc.substr(at, end - at) + "\n";
    at = end;
  }
  return code;
}

/// Skips the test when Debian's python3 lacks `module`.
#define SKIP_WITHOUT_PYTHON_MODULE(module)                \
  if (run(kPython + " -c 'import " module "'").code != 0) \
  GTEST_SKIP() << kPython << " cannot import " module     \
               << " (packaging/install-deps.sh installs python3-" module ")"

TEST(Interop, PythonTorchReadsTheCheckpoint) {
  SKIP_WITHOUT_PYTHON_MODULE("torch");
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  const std::string ckpt = (exp / "models" / "model_last.pt").string();
  // Python prints each tensor bit for bit (float.hex), then the metadata.
  const std::string script =
      d.write("read.py",
              interop_code() +
                  "import sys\n"
                  "ckpt = load_checkpoint(sys.argv[1])\n"
                  "for name, t in ckpt['state_dict'].items():\n"
                  "    print(name, list(t.shape), "
                  "' '.join(v.hex() for v in t.double().flatten().tolist()))\n"
                  "m = ckpt['meta']\n"
                  "print('meta', m['model_name'], m['episode'], "
                  "m['loss'].hex(), m['run_id'])\n");
  const std::string printed = (d.path() / "printed.txt").string();
  const RunResult r =
      run("(" + kPython + " " + script + " " + ckpt + " > " + printed + ")");
  ASSERT_EQ(r.code, 0) << r.output;
  std::map<std::string, std::string> python;
  std::istringstream in(read(printed));
  std::string line;
  while (std::getline(in, line))
    python[line.substr(0, line.find(' '))] = line.substr(line.find(' ') + 1);

  // What C++ reads back from the same file.
  const auto weights = checkpoint_weights(ckpt);
  ASSERT_GE(weights.size(), 4u);
  for (const auto& [name, t] : weights) {
    ASSERT_TRUE(python.count(name)) << name << "\n" << r.output;
    std::istringstream values(python[name].substr(python[name].find(']') + 2));
    const at::Tensor flat = t.to(at::kDouble).flatten().contiguous();
    std::string hex;
    int64_t i = 0, differ = 0;
    for (; values >> hex; ++i)
      differ += i >= flat.numel() ||
                std::strtod(hex.c_str(), nullptr) != flat[i].item<double>();
    EXPECT_EQ(i, t.numel()) << name;
    EXPECT_EQ(differ, 0) << name;
    EXPECT_EQ(python[name].substr(0, python[name].find(']') + 1),
              c10::str(t.sizes()))
        << name;
  }
  EXPECT_EQ(python.size(), weights.size() + 1) << r.output;
  const CheckpointMeta m = read_checkpoint_meta(ckpt);
  std::istringstream meta(python["meta"]);
  std::string model, episode, loss, run_id;
  meta >> model >> episode >> loss >> run_id;
  EXPECT_EQ(model, m.model_name);
  EXPECT_EQ(std::stoll(episode), m.episode);
  EXPECT_EQ(std::strtod(loss.c_str(), nullptr), m.loss);
  EXPECT_EQ(run_id, m.run_id);

  // A damaged file is refused by the Python reader too.
  std::string bytes = read(ckpt);
  bytes[bytes.size() / 2] ^= 0x20;
  const std::string bad = d.write("bad.pt", bytes);
  const RunResult b = run(kPython + " " + script + " " + bad);
  EXPECT_NE(b.code, 0) << b.output;
  EXPECT_HAS(b.output, "CRC-32");
}

TEST(Interop, MatplotlibPlotsTheStatistics) {
  SKIP_WITHOUT_PYTHON_MODULE("matplotlib");
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  const std::string png = (d.path() / "loss.png").string();
  const std::string script =
      d.write("plot.py", interop_code() +
                             "import sys\n"
                             "plot_statistics(sys.argv[1], sys.argv[2])\n");
  const RunResult r =
      run(kPython + " " + script + " " + exp.string() + " " + png);
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string image = read(png);
  ASSERT_GT(image.size(), 1000u);
  EXPECT_EQ(image.substr(0, 8), "\x89PNG\r\n\x1a\n");
}

}  // namespace provenance_test
}  // namespace mip
