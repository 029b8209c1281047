// The experiments under configs/, run as MI-Prometheus's users run them: from
// the repository root, named by a path relative to it. Every file that holds
// a model and a training section (after its default_configs) is found by
// walking the folder and trained for a few episodes, shrunk with --set. Then
// files written the way MI-Prometheus's users wrote theirs (its legacy problem
// names, default_configs as a comma-separated string of root-relative paths,
// its dead keys) are run against our shared defaults.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <mip/core/registry.hpp>

#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace configs_test {

using namespace test;

const fs::path kConfigs = fs::path(kSource) / "configs";
const fs::path kPlugins = MIP_BUILD_PLUGIN_DIR;

/// The plugin library of each algorithmic task, under its canonical name and
/// the legacy names the MI-Prometheus-style files below use. A task whose
/// library is not built is skipped with that reason; any other failure fails.
const std::map<std::string, std::string>& task_libraries() {
  static const std::map<std::string, std::string> libraries = [] {
    const std::vector<std::pair<std::string, std::vector<std::string>>> by_lib =
        {{"mip_serial_recall", {"SerialRecallCommandLines"}},
         {"mip_recall",
          {"RepeatSerialRecallCommandLines", "ScratchPadCommandLines",
           "scratch_pad"}},
         {"mip_manipulation_temporal",
          {"ReverseRecallCommandLines", "RepeatReverseRecallCommandLines",
           "SkipRecallCommandLines", "ManipulationTemporalRotation",
           "reverse_recall", "manipulation_temporal_swap"}},
         {"mip_manipulation_spatial",
          {"ManipulationSpatialNot", "ManipulationSpatialRotation",
           "manipulation_spatial_rotation"}},
         {"mip_dual_comparison",
          {"SequenceComparisonCommandLines", "SequenceEqualityCommandLines",
           "SequenceSymmetryCommandLines"}},
         {"mip_dual_distraction",
          {"DistractionCarry", "DistractionForget", "DistractionIgnore",
           "ReadingSpan", "distraction_forget", "reading_span"}},
         {"mip_dual_interruption",
          {"InterruptionNot", "InterruptionReverseRecall",
           "InterruptionSwapRecall", "OperationSpan", "operation_span"}}};
    std::map<std::string, std::string> m;
    for (const auto& [lib, names] : by_lib)
      for (const auto& n : names)
        m[n] = "lib" + lib + ".so";
    return m;
  }();
  return libraries;
}

/// Why a run of `problem` cannot happen in this build ("" when it can): its
/// plugin is not built yet, or its data set is not installed.
std::string missing_for(const std::string& problem) {
  const auto lib = task_libraries().find(problem);
  if (lib != task_libraries().end() && !fs::exists(kPlugins / lib->second))
    return "plugin " + lib->second + " (" + problem + ") is not in " +
           kPlugins.string() + " yet";
  if (problem == "FashionMNIST" &&
      !fs::exists("/usr/share/datasets/fashion-mnist"))
    return "/usr/share/datasets/fashion-mnist is absent (apt-get install "
           "dataset-fashion-mnist)";
  if (problem == "CIFAR10") {
    const char* home = std::getenv("HOME");
    const fs::path cifar = fs::path(home ? home : "") / "data" / "cifar10";
    if (!fs::exists(cifar / "data_batch_1.bin") &&
        !fs::exists(cifar / "cifar-10-batches-bin" / "data_batch_1.bin"))
      return "CIFAR-10's binary batches are not in " + cifar.string() +
             " (nor its cifar-10-batches-bin/)";
  }
  if (problem == "MNIST" || problem == "SequentialPixelMNIST" ||
      problem == "PermutedSequentialRowMnist") {
    const char* home = std::getenv("HOME");
    const fs::path mnist = fs::path(home ? home : "") / "data" / "mnist";
    bool found = false;
    for (const auto& dir : {mnist, mnist / "MNIST" / "raw"})
      for (const char* f :
           {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"})
        found = found || fs::exists(dir / f);
    if (!found)
      return "MNIST's IDX files are not in " + mnist.string() +
             " (nor its MNIST/raw/)";
  }
  return "";
}

/// Runs `f` with the repository root as the working directory, where
/// MI-Prometheus's users stand, and returns to where it was.
template <typename F>
void from_root(F&& f) {
  const fs::path old = fs::current_path();
  fs::current_path(kSource);
  try {
    f();
  } catch (...) {
    fs::current_path(old);
    throw;
  }
  fs::current_path(old);
}

/// One experiment file: its path from the repository root, and the keys of
/// its resolved configuration the shrinking needs.
struct Experiment {
  std::string path;  ///< "configs/dwm_baselines/lstm/serial_recall.yaml"
  std::string problem;
  std::string model;
  std::map<std::string, bool> has;  ///< key path -> present in the files
  std::string error;  ///< why the files could not be read ("" if they could)
};

/// How a failing case names its file.
void PrintTo(const Experiment& x, std::ostream* os) {
  *os << x.path;
}

const std::vector<std::string> kShrinkable = {
    "validation.problem", "validation.problem.min_sequence_length",
    "validation.problem.num_subseq_min", "validation.problem.size",
    "validation.sampler.indices", "model.hidden_state_size",
    // The generated scenes (SortOfCLEVR, ShapeColorQuery) in each section.
    "training.problem.img_size", "validation.problem.img_size",
    "testing.problem.img_size", "training.problem.size", "testing.problem.size",
    // The image problems' resize (AlexNet's 224x224).
    "training.problem.resize", "validation.problem.resize",
    "testing.problem.resize"};

/// The sections whose problem the shrinking may resize or redirect.
const std::vector<std::string> kSections = {"training", "validation",
                                            "testing"};

/// What the shrinking needs to know of the experiment in `path` (named from
/// the repository root, or absolute), read through the real registry.
Experiment describe(const std::string& path) {
  Experiment x{path, "", "", {}, ""};
  for (const auto& k : kShrinkable)
    x.has[k] = false;
  from_root([&] {
    ParamRegistry r;
    try {
      r.load_files({path});
    } catch (const Error& e) {
      x.error = e.what();
      return;
    }
    x.problem = r.has("training.problem.name")
                    ? r.view("training.problem")->get<std::string>("name")
                    : "";
    x.has["model.name"] = r.has("model.name");
    x.model =
        x.has["model.name"] ? r.view("model")->get<std::string>("name") : "";
    for (const auto& k : kShrinkable)
      x.has[k] = r.has(k);
  });
  return x;
}

/// Every file under configs/ that, followed through its default_configs,
/// names a model and a training problem: the experiments. The others are
/// the defaults they include.
std::vector<Experiment> experiments() {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(kConfigs))
    if (e.is_regular_file() && e.path().extension() == ".yaml")
      files.push_back(e.path().lexically_relative(kSource).generic_string());
  std::sort(files.begin(), files.end());
  std::vector<Experiment> found;
  for (const auto& f : files) {
    Experiment x = describe(f);
    // A file that cannot be read is kept, for its test to fail with why.
    if (!x.error.empty() || (x.has["model.name"] && !x.problem.empty()))
      found.push_back(x);
  }
  return found;
}

/// The --set options that make a run of `x` take a few seconds: 4 episodes
/// of 8 samples, a partial validation at episodes 0 and 2 (and the last) on
/// short sequences, a final full validation of 16 samples, a small model;
/// generated scenes of 32x32 (a few hundred questions, cached in `scratch`,
/// not in the user's ~/data) and AlexNet's images at 63x63, the smallest
/// its layers take. Each is set only where the experiment has the key (a
/// generated problem always has a size), so that no key is added that its
/// components would not know.
std::string shrink(const Experiment& x, const std::string& scratch) {
  std::string s =
      " --set training.terminal_conditions.episode_limit=4"
      " --set validation.partial_validation_interval=2"
      " --set training.problem.batch_size=8";
  if (x.has.at("validation.problem"))
    s += " --set validation.problem.batch_size=8";
  if (x.has.at("validation.problem.min_sequence_length"))
    s += " --set validation.problem.min_sequence_length=4"
         " --set validation.problem.max_sequence_length=4";
  if (x.has.at("validation.problem.num_subseq_min"))
    s += " --set validation.problem.num_subseq_min=2"
         " --set validation.problem.num_subseq_max=2";
  if (x.has.at("validation.problem.size") ||
      task_libraries().count(x.problem) > 0)
    s += " --set validation.problem.size=16";
  if (x.has.at("validation.sampler.indices"))
    s += " --set 'validation.sampler.indices=[0, 16]'";
  if (x.has.at("model.hidden_state_size"))
    s += " --set model.hidden_state_size=16";
  for (const auto& section : kSections) {
    const std::string p = " --set " + section + ".problem.";
    if (x.has.at(section + ".problem.img_size"))
      s += p + "img_size=32" + p + "data_folder=" + scratch + "/" + section;
    if (x.has.at(section + ".problem.resize"))
      s += p + "'resize=[63, 63]'";
  }
  for (const auto& section : {"training", "testing"})
    if (x.has.at(std::string(section) + ".problem.size") &&
        x.has.at(std::string(section) + ".problem.img_size"))
      s += std::string(" --set ") + section + ".problem.size=200";
  return s;
}

/// Checks the statistics of a 4-episode run validated every 2 episodes: one
/// training row per episode, partial validations at episodes 0, 2 and 3, the
/// final full validation, each with a loss (and an accuracy for the
/// sequence tasks).
void expect_statistics(const fs::path& exp, const std::string& problem) {
  EXPECT_HAS(read(exp / "status.yaml"), "state: finished");
  const bool sequence_task = task_libraries().count(problem) > 0;
  for (const auto& [file, rows] : std::vector<std::pair<std::string, size_t>>{
           {"training_statistics.csv", 4},
           {"validation_statistics.csv", 3},
           {"validation_set_agg_statistics.csv", 1}}) {
    EXPECT_EQ(lines(exp / file), 1 + rows) << exp / file;
    for (double v : csv_column(exp / file, "loss"))
      EXPECT_GT(v, 0.0) << exp / file;
    if (sequence_task)
      for (double v : csv_column(exp / file, "acc")) {
        EXPECT_GE(v, 0.0) << exp / file;
        EXPECT_LE(v, 1.0) << exp / file;
      }
  }
}

class ConfigFile : public ::testing::TestWithParam<Experiment> {};

TEST_P(ConfigFile, RunsFromTheRepositoryRoot) {
  const Experiment& x = GetParam();
  ASSERT_EQ(x.error, "") << x.path;
  const std::string missing = missing_for(x.problem);
  if (!missing.empty())
    GTEST_SKIP() << x.path << ": " << missing;
  TempDir d;
  // AlexNet's 57 million parameters make checkpoints of 230 MB (its last
  // one, with Adam's two moments, 690 MB) whatever the image size: its runs
  // write them to memory (/dev/shm) where there is one, not to the disk.
  const bool big = x.model == "AlexnetWrapper" && fs::is_directory("/dev/shm");
  TempDir shm(big ? "/dev/shm" : "");
  const fs::path exp = (big ? shm.path() : d.path()) / "exp";
  const RunResult r =
      run("cd " + kSource + " && " + kOnline + " --config " + x.path +
          " --expdir " + exp.string() + shrink(x, d.str()));
  ASSERT_EQ(r.code, 0) << x.path << "\n" << r.output;
  const fs::path folder = only_experiment(exp);
  expect_statistics(folder, x.problem);
  EXPECT_TRUE(fs::exists(folder / "models" / "model_best.pt")) << folder;
  EXPECT_TRUE(fs::exists(folder / "models" / "model_last.pt")) << folder;
}

std::string test_name(const ::testing::TestParamInfo<Experiment>& info) {
  std::string name = fs::path(info.param.path)
                         .lexically_relative("configs")
                         .replace_extension()
                         .string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)))
      c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Configs,
                         ConfigFile,
                         ::testing::ValuesIn(experiments()),
                         test_name);

TEST(Configs, EveryTaskHasItsExperiments) {
  // The folders MI-Prometheus's users know: one LSTM experiment per task in
  // dwm_baselines, and the eight tasks of maes_baselines under its names.
  std::map<std::string, int> dwm;
  std::map<std::string, std::string> maes;  // file -> problem
  for (const auto& x : experiments()) {
    if (x.path.rfind("configs/dwm_baselines/lstm/", 0) == 0)
      ++dwm[x.problem];
    if (x.path.rfind("configs/maes_baselines/lstm/", 0) == 0)
      maes[fs::path(x.path).stem().string()] = x.problem;
  }
  for (const auto& [name, lib] : task_libraries())
    if (std::isupper(static_cast<unsigned char>(name[0])))
      EXPECT_EQ(dwm[name], 1) << name << " (" << lib << ")";
  EXPECT_EQ(dwm.size(), 20u);
  const std::map<std::string, std::string> expected = {
      {"lstm_serial_recall", "SerialRecallCommandLines"},
      {"lstm_reverse_recall", "ReverseRecallCommandLines"},
      {"lstm_odd_recall", "SkipRecallCommandLines"},
      {"lstm_sequence_comparison", "SequenceComparisonCommandLines"},
      {"lstm_sequence_equality", "SequenceEqualityCommandLines"},
      {"lstm_sequence_symmetry", "SequenceSymmetryCommandLines"},
      {"lstm_repeat_serial_recall", "RepeatSerialRecallCommandLines"},
      {"lstm_repeat_reverse_recall", "RepeatReverseRecallCommandLines"}};
  EXPECT_EQ(maes, expected);
}

TEST(Configs, TheIndexNamesEachTaskWithItsAliasesAndLibrary) {
  // docs/algorithmic/README.md against what the built plugins declare, as
  // `mip-plugins list` prints it: "  Name  (aliases: a, b)" then the
  // description and the library on the next two lines.
  const RunResult r = run(kBin + "/mip-plugins list");
  ASSERT_EQ(r.code, 0) << r.output;
  std::map<std::string, std::pair<std::string, std::string>> declared;
  std::istringstream out(r.output);
  std::vector<std::string> lines;
  for (std::string l; std::getline(out, l);)
    lines.push_back(l);
  for (size_t i = 0; i + 2 < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.size() < 3 || l.compare(0, 2, "  ") != 0 || l[2] == ' ')
      continue;
    const std::string mark = "  (aliases: ";
    const size_t open = l.find(mark);
    const std::string name =
        l.substr(2, open == std::string::npos ? std::string::npos : open - 2);
    const std::string aliases =
        open == std::string::npos || l.back() != ')'
            ? ""
            : l.substr(open + mark.size(), l.size() - 1 - open - mark.size());
    const std::string lib = fs::path(lines[i + 2]).filename().string();
    declared[name] = {aliases, lib};
  }
  // Rows: | name | `a`, `b` | `libx.so` | [page](page.md) | state |
  auto trim = [](std::string t) {
    t.erase(0, t.find_first_not_of(' '));
    t.erase(t.find_last_not_of(' ') + 1);
    return t;
  };
  std::map<std::string, std::pair<std::string, std::string>> indexed;
  std::istringstream index(
      read(fs::path(kSource) / "docs/algorithmic/README.md"));
  for (std::string l; std::getline(index, l);) {
    std::vector<std::string> cells;
    std::istringstream row(l);
    for (std::string c; std::getline(row, c, '|');)
      cells.push_back(c);
    if (cells.size() != 6 || task_libraries().count(trim(cells[1])) == 0)
      continue;
    std::string aliases, lib;
    for (char c : cells[2])
      if (c != '`')
        aliases += c;
    for (char c : cells[3])
      if (c != '`' && c != ' ')
        lib += c;
    indexed[trim(cells[1])] = {trim(aliases), lib};
  }
  EXPECT_EQ(indexed.size(), 20u);
  for (const auto& [name, row] : indexed) {
    EXPECT_EQ(row.second, task_libraries().at(name)) << name;
    const std::string missing = missing_for(name);
    if (!missing.empty()) {
      std::cout << "[ SKIPPED  ] " << missing << "\n";
      continue;
    }
    ASSERT_EQ(declared.count(name), 1u) << name << "\n" << r.output;
    EXPECT_EQ(row, declared[name]) << name;
  }
}

// --- files as MI-Prometheus's users wrote them -----------------------------

/// A file in MI-Prometheus's own layout: a comma-separated default_configs
/// string over several lines, the problem name anchored once and aliased in
/// the other sections, `extra` lines added to each problem section,
/// `training` lines to the training section and `tail` at the end.
std::string mip_style(const std::vector<std::string>& defaults,
                      const std::string& name,
                      const std::string& extra = "",
                      const std::string& training = "",
                      const std::string& tail = "") {
  std::string s = "# Load the defaults first.\ndefault_configs: \n";
  for (size_t i = 0; i < defaults.size(); ++i)
    s += "    " + defaults[i] + (i + 1 < defaults.size() ? ",\n" : "\n");
  s += "\n# Then the problem.\ntraining:\n    problem:\n        name: &name " +
       name + "\n" + extra + training;
  for (const char* section : {"validation", "testing"})
    s += std::string("\n") + section +
         ":\n    problem:\n        name: *name \n" + extra;
  return s + tail;
}

struct MipStyleFile {
  std::string file;  ///< its name in the TempDir
  std::string content;
  std::string canonical;               ///< the problem it must resolve to
  std::vector<std::string> dead_keys;  ///< MI-Prometheus's keys we refuse
};

const std::string kDwmLstm = "configs/dwm_baselines/lstm/default_lstm.yaml";
const std::string kDwmDual =
    "configs/dwm_baselines/default_settings_dual_task.yaml";
const std::string kDwmSimple =
    "configs/dwm_baselines/default_settings_simple_task.yaml";

std::vector<MipStyleFile> mip_style_files() {
  return {
      {"distraction_forget.yaml",
       mip_style({kDwmLstm, kDwmDual}, "distraction_forget"),
       "DistractionForget",
       {}},
      {"operation_span.yaml",
       mip_style({kDwmLstm, kDwmDual}, "operation_span",
                 "        num_rotation: 0.5\n"),
       "OperationSpan",
       {}},
      {"scratch_pad.yaml",
       mip_style({kDwmLstm, kDwmDual}, "scratch_pad"),
       "ScratchPadCommandLines",
       {}},
      {"reverse_recall.yaml",
       mip_style({"configs/maes_baselines/lstm/default_lstm.yaml",
                  "configs/maes_baselines/default_problem.yaml",
                  "configs/maes_baselines/default_training.yaml"},
                 "reverse_recall"),
       "ReverseRecallCommandLines",
       {}},
      {"manipulation_temporal_swap.yaml",
       mip_style({kDwmLstm, kDwmSimple}, "manipulation_temporal_swap",
                 "        num_items: 0.5\n"),
       "ManipulationTemporalRotation",
       {}},
      // MI-Prometheus's LSTM file for it took the dual-task settings, whose
      // num_subseq_* the task does not read: dead keys, refused unless
      // --lenient. (Its `num_bits` is the task's older name of
      // num_bits_shifted.)
      {"manipulation_spatial_rotation.yaml",
       mip_style({kDwmLstm, kDwmDual}, "manipulation_spatial_rotation",
                 "        num_bits: 0.5\n"),
       "ManipulationSpatialRotation",
       {"training.problem.num_subseq_min", "training.problem.num_subseq_max"}},
      // Its reading span file gave the model control_bits, which no model
      // reads.
      {"reading_span.yaml",
       mip_style({kDwmLstm, kDwmDual}, "reading_span",
                 "        control_bits: &cbits 2\n", "",
                 "\nmodel:\n    control_bits: *cbits\n"),
       "ReadingSpan",
       {"model.control_bits"}},
      // Its MAES and encoder-solver LSTM model sections, key for key.
      {"maes_serial_recall.yaml",
       mip_style({"configs/maes_baselines/default_problem.yaml",
                  "configs/maes_baselines/default_training.yaml"},
                 "SerialRecallCommandLines", "", "",
                 "\nmodel:\n    name: MAES\n    pass_cell_state: True\n"
                 "    controller:\n        name: RNNController\n"
                 "        hidden_state_size: 20\n        num_layers: 1\n"
                 "        non_linearity: sigmoid\n"
                 "    mae_interface:\n        shift_size: 3\n"
                 "    mas_interface:\n        shift_size: 3\n"
                 "    memory:\n        num_content_bits: 15\n"
                 "        num_addresses: -1\n"
                 "    save_encoder: False\n    load_encoder: ''\n"
                 "    freeze_encoder: False\n"),
       "SerialRecallCommandLines",
       {}},
      {"es_lstm_reverse_recall.yaml",
       mip_style({"configs/maes_baselines/default_problem.yaml",
                  "configs/maes_baselines/default_training.yaml"},
                 "ReverseRecallCommandLines", "", "",
                 "\nmodel:\n    name: EncoderSolverLSTM\n"
                 "    hidden_state_size: 256\n    num_layers: 1\n"),
       "ReverseRecallCommandLines",
       {}},
      // Its simple-task defaults spelt the episode limit eposides_limit.
      {"serial_recall.yaml",
       mip_style({kDwmLstm, kDwmSimple}, "SerialRecallCommandLines", "",
                 "    terminal_conditions:\n"
                 "        eposides_limit: 100000\n"),
       "SerialRecallCommandLines",
       {"training.terminal_conditions.eposides_limit"}},
  };
}

void PrintTo(const MipStyleFile& f, std::ostream* os) {
  *os << f.file;
}

class MipStyle : public ::testing::TestWithParam<MipStyleFile> {};

TEST_P(MipStyle, ResolvesAgainstOurDefaultsFromTheRepositoryRoot) {
  const MipStyleFile& f = GetParam();
  const std::string missing = missing_for(f.canonical);
  if (!missing.empty())
    GTEST_SKIP() << f.file << ": " << missing;
  TempDir d;
  const std::string file = d.write(f.file, f.content);
  const Experiment x = describe(file);
  ASSERT_EQ(x.error, "") << f.content;
  const std::string command = "cd " + kSource + " && " + kOnline +
                              " --config " + file + " --expdir " + d.str() +
                              "/exp" + shrink(x, d.str());
  if (!f.dead_keys.empty()) {
    const RunResult strict = run(command);
    EXPECT_EQ(strict.code, 3) << strict.output;
    for (const auto& key : f.dead_keys)
      EXPECT_HAS(strict.output, "unknown key [" + key + "]");
    EXPECT_FALSE(fs::exists(d.path() / "exp"));
  }
  const RunResult r = run(command + (f.dead_keys.empty() ? "" : " --lenient"));
  ASSERT_EQ(r.code, 0) << f.content << "\n" << r.output;
  // The legacy name resolves to the task's own component, and its library
  // is the task's.
  const auto lib = task_libraries().find(f.canonical);
  ASSERT_NE(lib, task_libraries().end());
  EXPECT_HAS(r.output, "Problem " + f.canonical + " (training) from ");
  EXPECT_HAS(r.output, lib->second);
  expect_statistics(only_experiment(d.path() / "exp"), f.canonical);
}

INSTANTIATE_TEST_SUITE_P(
    Configs,
    MipStyle,
    ::testing::ValuesIn(mip_style_files()),
    [](const ::testing::TestParamInfo<MipStyleFile>& info) {
      return fs::path(info.param.file).stem().string();
    });

}  // namespace configs_test
}  // namespace mip
