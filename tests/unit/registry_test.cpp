// The Parameter Registry against real YAML files: precedence, includes,
// overrides, defaults, unknown keys and errors.
#include <sys/stat.h>

#include <mip/core/registry.hpp>
#include <mip/sdk/error.hpp>

#include "common/test_util.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace registry_test {

using test::error_of;
using test::TempDir;
namespace fs = std::filesystem;

std::string get(const ParamRegistry& r,
                const std::string& section,
                const std::string& key) {
  return r.view(section)->get<std::string>(key);
}

TEST(ParamRegistry, FileBeatsWhatItIncludesAndFirstIncludeWins) {
  // --config X,Y with X: default_configs A, B and A: default_configs D gives
  // [X, A, D, B, Y]: X beats all, D beats B, Y loses even to X's includes.
  TempDir d;
  d.write("a.yaml", "default_configs: d.yaml\nk: {a: A, ad: A, ab: A}\n");
  d.write("d.yaml", "k: {ad: D, d: D, db: D}\n");
  d.write("b.yaml", "k: {ab: B, db: B, b: B, by: B}\n");
  d.write("y.yaml", "k: {y: Y, by: Y, x: Y}\n");
  d.write("x.yaml", "default_configs: a.yaml, b.yaml\nk: {x: X}\n");
  ParamRegistry r;
  r.load_files({d.str() + "/x.yaml", d.str() + "/y.yaml"});
  EXPECT_EQ(get(r, "k", "x"), "X");
  EXPECT_EQ(get(r, "k", "ad"), "A");
  EXPECT_EQ(get(r, "k", "ab"), "A");
  EXPECT_EQ(get(r, "k", "db"), "D");
  EXPECT_EQ(get(r, "k", "by"), "B");
  EXPECT_EQ(get(r, "k", "y"), "Y");
  ASSERT_EQ(r.files().size(), 5u);
  EXPECT_NE(r.files()[0].find("x.yaml"), std::string::npos);
  EXPECT_NE(r.files()[1].find("a.yaml"), std::string::npos);
  EXPECT_NE(r.files()[2].find("d.yaml"), std::string::npos);
  EXPECT_NE(r.files()[3].find("b.yaml"), std::string::npos);
  EXPECT_NE(r.files()[4].find("y.yaml"), std::string::npos);
}

TEST(ParamRegistry, NestedMapsMergeAndListsAreReplacedWhole) {
  TempDir d;
  d.write("base.yaml",
          "training:\n  problem: {name: P, batch_size: 8, sizes: [1, 2, 3]}\n"
          "  optimizer: {name: Adam, lr: 0.1}\n");
  d.write("exp.yaml",
          "default_configs: base.yaml\n"
          "training:\n  problem: {sizes: [9]}\n  optimizer: {lr: 0.5}\n");
  ParamRegistry r;
  r.load_files({d.str() + "/exp.yaml"});
  EXPECT_EQ(r.view("training.problem")->get<int64_t>("batch_size"), 8);
  EXPECT_EQ(r.view("training.problem")->get<std::vector<int64_t>>("sizes"),
            std::vector<int64_t>{9});
  EXPECT_DOUBLE_EQ(r.view("training.optimizer")->get<double>("lr"), 0.5);
  EXPECT_EQ(get(r, "training.optimizer", "name"), "Adam");
}

TEST(ParamRegistry, SetOverrideBeatsEveryFileAndParsesYaml) {
  TempDir d;
  d.write("exp.yaml", "training:\n  optimizer: {name: Adam, lr: 0.1}\n");
  ParamRegistry r;
  r.load_files({d.str() + "/exp.yaml"});
  r.apply_override("training.optimizer.lr=0.001");
  r.apply_override("training.problem.sizes=[4, 5]");
  EXPECT_DOUBLE_EQ(r.view("training.optimizer")->get<double>("lr"), 0.001);
  EXPECT_EQ(r.view("training.problem")->get<std::vector<int64_t>>("sizes"),
            (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(r.origin("training.optimizer.lr"), "--set");
  EXPECT_NE(error_of([&] {
              r.apply_override("no_equals_sign");
            }).find("key.path=value"),
            std::string::npos);
}

TEST(ParamRegistry, ComponentDefaultsLoseToConfig) {
  TempDir d;
  d.write("exp.yaml", "model: {name: M, hidden: 7}\n");
  ParamRegistry r;
  r.load_files({d.str() + "/exp.yaml"});
  r.add_defaults("model", "hidden: 3\nlayers: 2\nrequired: ~\n",
                 "defaults of M");
  r.add_default_number("model.input", 11, "problem P");
  auto v = r.view("model");
  EXPECT_EQ(v->get<int64_t>("hidden"), 7);
  EXPECT_EQ(v->get<int64_t>("layers"), 2);
  EXPECT_EQ(v->get<int64_t>("input"), 11);
  EXPECT_FALSE(v->has("required"));
  const std::string err = error_of([&] { v->get<int64_t>("required"); });
  EXPECT_NE(err.find("[model.required] is required"), std::string::npos) << err;
  EXPECT_NE(err.find("defaults of M"), std::string::npos) << err;
}

TEST(ParamRegistry, WrongTypeNamesKeyPathFileAndLine) {
  TempDir d;
  const std::string f =
      d.write("exp.yaml", "training:\n  problem:\n    batch_size: many\n");
  ParamRegistry r;
  r.load_files({f});
  const std::string err =
      error_of([&] { r.view("training.problem")->get<int64_t>("batch_size"); });
  EXPECT_NE(err.find("[training.problem.batch_size]"), std::string::npos)
      << err;
  EXPECT_NE(err.find(f + ":3"), std::string::npos) << err;
  EXPECT_NE(err.find("expected an integer"), std::string::npos) << err;
}

TEST(ParamRegistry, IncludesResolveBesideTheFileThenTheWorkingDirectory) {
  TempDir d;
  d.write("configs/family/defaults.yaml", "k: {beside: yes}\n");
  d.write("configs/common.yaml", "k: {cwd: yes}\n");
  d.write("configs/family/exp.yaml",
          "default_configs: defaults.yaml, configs/common.yaml\n");
  const auto old = std::filesystem::current_path();
  std::filesystem::current_path(d.path());
  ParamRegistry r;
  EXPECT_NO_THROW(r.load_files({"configs/family/exp.yaml"}));
  std::filesystem::current_path(old);
  EXPECT_TRUE(r.view("k")->get<bool>("beside"));
  EXPECT_TRUE(r.view("k")->get<bool>("cwd"));
}

TEST(ParamRegistry, IncludeCycleIsAnErrorNamingTheChain) {
  TempDir d;
  d.write("a.yaml", "default_configs: b.yaml\n");
  d.write("b.yaml", "default_configs: a.yaml\n");
  ParamRegistry r;
  const std::string err =
      error_of([&] { r.load_files({d.str() + "/a.yaml"}); });
  EXPECT_NE(err.find("cycle: a.yaml -> b.yaml -> a.yaml"), std::string::npos)
      << err;
}

TEST(ParamRegistry, FileIncludedTwiceIsSkippedWithAWarning) {
  TempDir d;
  d.write("common.yaml", "k: {v: common}\n");
  d.write("a.yaml", "default_configs: common.yaml\n");
  d.write("exp.yaml", "default_configs: a.yaml, common.yaml\n");
  ParamRegistry r;
  r.load_files({d.str() + "/exp.yaml"});
  EXPECT_EQ(r.files().size(), 3u);
  ASSERT_EQ(r.warnings().size(), 1u);
  EXPECT_NE(r.warnings()[0].find("more than once"), std::string::npos);
}

TEST(ParamRegistry, MissingFileNamesWhereItWasLookedFor) {
  TempDir d;
  d.write("exp.yaml", "default_configs: nowhere.yaml\n");
  ParamRegistry r;
  const std::string err =
      error_of([&] { r.load_files({d.str() + "/exp.yaml"}); });
  EXPECT_NE(err.find("[nowhere.yaml] not found"), std::string::npos) << err;
  EXPECT_NE(err.find("exp.yaml:1"), std::string::npos) << err;
}

TEST(ParamRegistry, BadYamlNamesFileAndLine) {
  TempDir d;
  const std::string f = d.write(
      "bad.yaml", "training:\n  problem:\n    name: [unclosed\n  other: 1\n");
  ParamRegistry r;
  const std::string err = error_of([&] { r.load_files({f}); });
  EXPECT_NE(err.find(f + ":"), std::string::npos) << err;
  EXPECT_NE(err.find("invalid YAML"), std::string::npos) << err;
}

TEST(ParamRegistry, UnknownKeyHasFileLineAndHint) {
  TempDir d;
  const std::string f =
      d.write("exp.yaml",
              "training:\n  problem:\n    name: P\n    max_sequence_lenght: 5\n"
              "  terminal_conditions:\n    eposides_limit: 3\n");
  ParamRegistry r;
  r.load_files({f});
  r.declare_known("training");
  r.declare_known("training.problem");
  r.declare_known("training.problem.name");
  r.declare_known("training.terminal_conditions");
  r.declare_known("training.terminal_conditions.episode_limit");
  r.add_defaults("training.problem",
                 "max_sequence_length: 10\nmin_sequence_length: 1\n",
                 "defaults of P");
  const auto issues = r.unknown_keys();
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].path, "training.problem.max_sequence_lenght");
  EXPECT_EQ(issues[0].origin, f + ":4");
  EXPECT_NE(issues[0].hint.find("[max_sequence_length]"), std::string::npos);
  EXPECT_EQ(issues[1].path, "training.terminal_conditions.eposides_limit");
  EXPECT_NE(issues[1].to_string().find("did you mean [episode_limit]?"),
            std::string::npos);
}

TEST(ParamRegistry, OpenSectionsAcceptAnyKey) {
  TempDir d;
  d.write("exp.yaml",
          "training:\n  dataloader: {num_workers: 4, pin_memory: true}\n");
  ParamRegistry r;
  r.load_files({d.str() + "/exp.yaml"});
  r.declare_known("training");
  r.declare_known("training.dataloader", true);
  EXPECT_TRUE(r.unknown_keys().empty());
}

TEST(ParamRegistry, DumpIsTheResolvedTreeWithoutIncludes) {
  TempDir d;
  d.write("base.yaml", "model: {name: M, hidden: 3}\n");
  d.write("exp.yaml", "default_configs: base.yaml\nmodel: {hidden: 5}\n");
  ParamRegistry r;
  r.load_files({d.str() + "/exp.yaml"});
  r.add_defaults("model", "layers: 2\n", "defaults of M");
  r.set_value("training.seed_torch", "1234", "drawn");
  const std::string dump = r.dump();
  EXPECT_EQ(dump.find("default_configs"), std::string::npos) << dump;
  // The dump, loaded alone, gives the same values.
  const std::string again = d.write("again.yaml", dump);
  ParamRegistry r2;
  r2.load_files({again});
  EXPECT_EQ(r2.view("model")->get<int64_t>("hidden"), 5);
  EXPECT_EQ(r2.view("model")->get<int64_t>("layers"), 2);
  EXPECT_EQ(r2.view("training")->get<int64_t>("seed_torch"), 1234);
}

TEST(ParamRegistry, StringListsAcceptMiPrometheusCommaStrings) {
  TempDir d;
  d.write("exp.yaml", "a: {paths: 'x, y,z'}\nb: {paths: [p, q]}\n");
  ParamRegistry r;
  r.load_files({d.str() + "/exp.yaml"});
  EXPECT_EQ(r.view("a")->get<std::vector<std::string>>("paths"),
            (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(r.view("b")->get<std::vector<std::string>>("paths"),
            (std::vector<std::string>{"p", "q"}));
}

TEST(EditDistance, SuggestsClosestNames) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  const auto best =
      closest("SerialRecal", {"SerialRecall", "ReverseRecall", "LSTM"});
  ASSERT_FALSE(best.empty());
  EXPECT_EQ(best[0], "SerialRecall");
  EXPECT_TRUE(closest("zzz", {"SerialRecall", "LSTM"}).empty());
}

// --- input a user may give by mistake (issue 11) ----------------------------

/// The error of loading `text` as the file f.yaml, or "(no error)".
std::string load_error(const TempDir& d, const std::string& text) {
  const std::string f = d.write("f.yaml", text);
  ParamRegistry r;
  return error_of([&] { r.load_files({f}); });
}

TEST(ParamRegistry, RecursiveYamlOfAnyShapeNamesFileAndLine) {
  // Each of these crashed record_origins with a stack overflow.
  TempDir d;
  const std::string f = d.str() + "/f.yaml";
  std::string err = load_error(d, "problem: &p {self: *p}\n");
  EXPECT_HAS(err,
             f + ":1: [problem.self] refers back to [problem], which holds "
                 "it (recursive YAML");
  err = load_error(d, "a: 1\nlist: &l\n  - 1\n  - *l\n");
  EXPECT_HAS(err, "[list[1]] refers back to [list], which holds it");
  err = load_error(d, "a: &x\n  b:\n    c: [1, {d: *x}]\n");
  EXPECT_HAS(err, "[a.b.c[1].d] refers back to [a], which holds it");
  err = load_error(d, "&top {a: *top}\n");
  EXPECT_HAS(err, f + ":1: [a] refers back to [(top)], which holds it");
  // A shared (not recursive) alias is fine.
  EXPECT_EQ(load_error(d, "a: &x {b: 1}\nc: *x\nd: [*x, *x]\n"), "(no error)");
  // --set values are checked alike.
  ParamRegistry r;
  err = error_of([&] { r.apply_override("k=&a [*a]"); });
  EXPECT_HAS(err, "--set k:1: [[0]] refers back to [(top)], which holds it");
}

TEST(ParamRegistry, DeepNestingSaysNestedTooDeeplyWithTheLine) {
  TempDir d;
  const std::string f = d.str() + "/f.yaml";
  // Deeper than our limit (100), within yaml-cpp's own (2000).
  std::string text = "a: 1\nb: ";
  for (int i = 0; i < 150; ++i)
    text += "[";
  for (int i = 0; i < 150; ++i)
    text += "]";
  std::string err = load_error(d, text + "\n");
  EXPECT_HAS(err, f + ":2: nested too deeply at [b[0]");
  EXPECT_HAS(err, "(more than 100 levels of maps and lists)");
  // Deeper than yaml-cpp's limit: its DeepRecursion, in our words.
  text = "a: 1\n\nb: ";
  for (int i = 0; i < 3000; ++i)
    text += "{k: ";
  text += "1";
  for (int i = 0; i < 3000; ++i)
    text += "}";
  err = load_error(d, text + "\n");
  EXPECT_HAS(err, f + ":3: nested too deeply (more than 100 levels");
  EXPECT_EQ(err.find("invalid YAML"), std::string::npos) << err;
  // Billion laughs: aliases of aliases expand beyond memory.
  text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i)
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + [&] {
      std::string items;
      for (int k = 0; k < 10; ++k)
        items += (k ? ", *l" : "*l") + std::to_string(i - 1);
      return items;
    }() + "]\n";
  err = load_error(d, text);
  EXPECT_HAS(err, "the document expands to more than 2000000 values");
}

TEST(ParamRegistry, DuplicateKeyNamesBothLines) {
  TempDir d;
  const std::string f = d.str() + "/f.yaml";
  std::string err = load_error(d, "a: 1\nb: 2\na: 3\n");
  EXPECT_HAS(err, f + ":3: key [a] is given twice in one map (lines 1 and 3)");
  err = load_error(d, "training:\n  optimizer: {name: Adam, lr: 1, lr: 2}\n");
  EXPECT_HAS(err, f + ":2: key [training.optimizer.lr] is given twice in one "
                      "map (lines 2 and 2)");
  // The same key in two maps is no duplicate.
  EXPECT_EQ(load_error(d, "a: {k: 1}\nb: {k: 2}\n"), "(no error)");
  // Keys that are not names.
  err = load_error(d, "a:\n  ? [1, 2]\n  : 3\n");
  EXPECT_HAS(err, f + ":2: a key in [a] is a map or list");
  err = load_error(d, "a:\n  ~: 3\n");
  EXPECT_HAS(err, f + ":2: a key in [a] is empty");
}

TEST(ParamRegistry, NonFiniteNumbersAreRefusedNamingTheKey) {
  TempDir d;
  const std::string f =
      d.write("f.yaml",
              "t:\n  lr: .inf\n  stop: .nan\n  low: -.inf\n  ok: 1.5e-3\n"
              "  list: [1, .nan]\n  big: 1e999\n");
  ParamRegistry r;
  r.load_files({f});
  const auto v = r.view("t");
  for (const auto& [key, line] : std::vector<std::pair<std::string, int>>{
           {"lr", 2}, {"stop", 3}, {"low", 4}, {"list", 6}, {"big", 7}}) {
    const std::string err = error_of([&] {
      if (key == "list")
        v->get<std::vector<double>>(key);
      else
        v->get<double>(key);
    });
    EXPECT_HAS(err, "parameter [t." + key + "]");
    EXPECT_HAS(err, f + ":" + std::to_string(line));
    EXPECT_HAS(err, "finite number");
  }
  EXPECT_DOUBLE_EQ(v->get<double>("ok"), 1.5e-3);
}

TEST(ParamRegistry, SetKeysComeFromSetAndEmptyPartsAreRefused) {
  TempDir d;
  const std::string f = d.write("f.yaml",
                                "training:\n  known: 1\n  lr: 3\n"
                                "  lr_decay: 4\n");
  ParamRegistry r;
  r.load_files({f});
  r.declare_known("training");
  r.declare_known("training.known");
  r.declare_known("training.lr");
  r.declare_known("training.lr_decay");
  r.apply_override("training.fresh.deeper=1");
  r.apply_override("training.known.below=2");  // replaces a value by a map
  r.apply_override("training.lr=5");
  std::vector<std::string> issues;
  for (const auto& issue : r.unknown_keys())
    issues.push_back(issue.origin + " " + issue.path);
  EXPECT_EQ(issues, std::vector<std::string>({"--set training.known.below",
                                              "--set training.fresh"}));
  EXPECT_EQ(r.origin("training.lr"), "--set");
  EXPECT_EQ(r.origin("training.lr_decay"), f + ":4");  // not under lr
  for (const std::string bad : {".a.b=1", "a..b=1", "a.=1", ".=1"}) {
    const std::string err = error_of([&] { r.apply_override(bad); });
    EXPECT_HAS(err, "--set [" + bad + "]: the key path [");
    EXPECT_HAS(err, "has an empty part");
  }
}

TEST(ParamRegistry, ConfigThatIsADirectoryOrADeviceSaysWhatItIs) {
  TempDir d;
  fs::create_directories(d.path() / "folder.yaml");
  ParamRegistry r;
  std::string err = error_of([&] { r.load_files({d.str() + "/folder.yaml"}); });
  EXPECT_HAS(err, "config file [" + d.str() + "/folder.yaml]: " + d.str() +
                      "/folder.yaml is a directory, not a YAML file");
  err = error_of([&] { r.load_files({"/dev/null"}); });
  EXPECT_HAS(err, "/dev/null is a character device, not a YAML file");
  // A FIFO nobody writes to: reading it would block for ever.
  const std::string fifo = d.str() + "/pipe.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  err = error_of([&] { r.load_files({fifo}); });
  EXPECT_HAS(err, fifo + " is a FIFO (named pipe), not a YAML file");
  // Named in default_configs: where it was named, too.
  const std::string exp =
      d.write("exp.yaml", "a: 1\ndefault_configs: /dev/zero\n");
  err = error_of([&] { r.load_files({exp}); });
  EXPECT_HAS(err, "config file [/dev/zero] (named in " + exp +
                      ":2): /dev/zero is a character device");
  // Not a file name at all.
  const std::string odd = d.write("odd.yaml", "default_configs: [{a: 1}]\n");
  err = error_of([&] { r.load_files({odd}); });
  EXPECT_HAS(err, "[default_configs] (" + odd +
                      ":1): each entry must be a "
                      "file name");
}

TEST(ComponentName, SectionWithKeysButNoNameIsAnError) {
  TempDir d;
  const std::string f =
      d.write("f.yaml",
              "training:\n  scheduler: {name:ReduceLROnPlateau,patience:2}\n"
              "  sampler: {indices: [1, 2]}\n  optimizer: {name: Adam}\n");
  ParamRegistry r;
  r.load_files({f});
  std::string err =
      error_of([&] { component_name(r, "training.scheduler", "scheduler"); });
  EXPECT_EQ(err,
            "[training.scheduler] (" + f +
                ":2) sets name:ReduceLROnPlateau, patience:2 but no name, so "
                "no scheduler would be used; YAML reads "
                "[name:ReduceLROnPlateau] as one key: put a space after the "
                "colon (name: ReduceLROnPlateau)");
  err = error_of([&] { component_name(r, "training.sampler", "sampler"); });
  EXPECT_EQ(err, "[training.sampler] (" + f +
                     ":3) sets indices but no name, so no sampler would be "
                     "used; name the sampler (name: ...)");
  EXPECT_EQ(component_name(r, "training.optimizer", "optimizer"), "Adam");
  // In block style the same slip makes the section a string.
  r.apply_override("training.scheduler=name:StepLR");
  err = error_of([&] { component_name(r, "training.scheduler", "scheduler"); });
  EXPECT_HAS(err, "[training.scheduler] must be a map of parameters (--set)");
  EXPECT_HAS(err,
             "; YAML reads [name:StepLR] as one key: put a space after "
             "the colon (name: StepLR)");
  EXPECT_EQ(component_name(r, "validation.sampler", "sampler"), "");
}

}  // namespace registry_test
}  // namespace mip
