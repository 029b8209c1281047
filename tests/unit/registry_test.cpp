// The Parameter Registry against real YAML files: precedence, includes,
// overrides, defaults, unknown keys and errors.
#include <mip/core/registry.hpp>
#include <mip/sdk/error.hpp>

#include "common/test_util.hpp"

namespace mip {
namespace {

using test::error_of;
using test::TempDir;

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

}  // namespace
}  // namespace mip
