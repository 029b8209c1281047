// The plugin loader against real .so files built by the test tree, and the
// built-in serial recall and LSTM plugins through the real loader.
#include <torch/torch.h>
#include <torch/version.h>

#include <filesystem>

#include <mip/core/logging.hpp>
#include <mip/core/plugin_loader.hpp>
#include <mip/core/registry.hpp>
#include <mip/sdk/detail/torch_build.hpp>
#include <mip/sdk/manifest.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/problem.hpp>
#include <mip/sdk/version.hpp>

#include "common/test_util.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace plugin_loader_test {

using test::error_of;

std::string dir_of(const std::string& file) {
  return fs::path(file).parent_path().string();
}

/// Builds a component from YAML parameters (on top of its manifest defaults).
struct Built {
  ParamRegistry registry;
  std::shared_ptr<sdk::Problem> problem;
  std::shared_ptr<sdk::Model> model;
};

std::unique_ptr<ComponentContext> context(ParamRegistry& r,
                                          const std::string& section) {
  return std::make_unique<ComponentContext>(r.view(section), logger("test"));
}

TEST(PluginLoader, GoodPluginProvidesComponentsWithAliasesAndDefaults) {
  auto lib = PluginLoader::open(MIP_FIXTURE_GOOD);
  ASSERT_NE(lib->manifest, nullptr);
  EXPECT_EQ(lib->manifest->num_components, 2u);
  PluginLoader loader({dir_of(MIP_FIXTURE_GOOD)});
  const Component& p =
      loader.find(sdk::ComponentKind::kProblem, "FixtureAlias");
  EXPECT_EQ(p.name, "FixtureProblem");
  EXPECT_EQ(p.description, "fixture: sum of random numbers");
  EXPECT_NE(p.defaults_yaml.find("width: 4"), std::string::npos);
  const Component& m = loader.find(sdk::ComponentKind::kModel, "FixtureModel");

  ParamRegistry r;
  r.add_defaults("training.problem", p.defaults_yaml, "defaults");
  r.add_defaults("model", m.defaults_yaml, "defaults");
  auto problem = loader.create_problem(p, *context(r, "training.problem"));
  for (const auto& [k, v] : problem->default_values())
    r.add_default_number("model." + k, v, "p");
  auto model = loader.create_model(m, *context(r, "model"));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto batch = problem->get_batch({0, 1, 2}, gen);
  EXPECT_EQ(batch.at("inputs").sizes(), (std::vector<int64_t>{3, 4}));
  const auto loss = problem->evaluate_loss(batch, model->forward(batch));
  EXPECT_TRUE(loss.defined());
  EXPECT_EQ(loss.dim(), 0);
}

TEST(PluginLoader, ObjectsKeepTheirLibraryAliveAfterTheLoaderIsGone) {
  std::shared_ptr<sdk::Problem> problem;
  ParamRegistry r;
  {
    PluginLoader loader({dir_of(MIP_FIXTURE_GOOD)});
    const Component& p =
        loader.find(sdk::ComponentKind::kProblem, "FixtureProblem");
    r.add_defaults("p", p.defaults_yaml, "defaults");
    problem = loader.create_problem(p, *context(r, "p"));
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  EXPECT_EQ(problem->get_batch({0, 1}, gen).at("targets").size(0), 2);
  EXPECT_EQ(problem->size(), 64);
}

TEST(PluginLoader, LibraryWithoutManifestIsRefused) {
  const std::string err =
      error_of([] { PluginLoader::open(MIP_FIXTURE_NO_MANIFEST); });
  EXPECT_NE(err.find(std::string("plugin [") + MIP_FIXTURE_NO_MANIFEST + "]"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("no MI-Prometheus manifest"), std::string::npos) << err;
  EXPECT_NE(err.find("MIP_REGISTER_PROBLEM"), std::string::npos) << err;
}

TEST(PluginLoader, WrongAbiShowsPluginAndHostSides) {
  try {
    PluginLoader::open(MIP_FIXTURE_WRONG_ABI);
    FAIL() << "loaded";
  } catch (const PluginAbiError& e) {
    const std::string err = e.what();
    EXPECT_NE(err.find("SDK ABI [99] (SDK 99.0.0), host SDK ABI [1]"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find(MIP_FIXTURE_WRONG_ABI), std::string::npos) << err;
  }
}

TEST(PluginLoader, OtherLibTorchIsRefusedNamingBothVersions) {
  try {
    PluginLoader::open(MIP_FIXTURE_WRONG_TORCH);
    FAIL() << "loaded";
  } catch (const PluginAbiError& e) {
    const std::string err = e.what();
    EXPECT_NE(err.find(std::string("LibTorch [1.12.1], host LibTorch [") +
                       TORCH_VERSION + "]"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("build the plugin with the same LibTorch"),
              std::string::npos)
        << err;
  }
}

TEST(PluginLoader, OtherPatchReleaseOfLibTorchIsRefused) {
  // Built by mip_add_plugin from the good fixture, recording the host's
  // major.minor with another patch release.
  const std::string err =
      error_of([] { PluginLoader::open(MIP_FIXTURE_TORCH_PATCH); });
  EXPECT_HAS(err, std::string("], host LibTorch [") + TORCH_VERSION +
                      "] (only the patch release differs");
  EXPECT_HAS(err, "build the plugin with the same LibTorch");
  EXPECT_HAS(err, MIP_FIXTURE_TORCH_PATCH);
}

TEST(PluginLoader, OtherCudaFlavourIsRefused) {
  try {
    PluginLoader::open(MIP_FIXTURE_TORCH_CUDA);
    FAIL() << "loaded";
  } catch (const PluginAbiError& e) {
    const std::string err = e.what();
    const std::string host = MIP_DETAIL_TORCH_CUDA ? "on" : "off";
    const std::string plugin = MIP_DETAIL_TORCH_CUDA ? "off" : "on";
    EXPECT_HAS(err, "CUDA [" + plugin + "], host CUDA [" + host + "]");
  }
}

TEST(PluginLoader, ManifestOfAnotherLayoutIsRefusedNotMisread) {
  std::string err =
      error_of([] { PluginLoader::open(MIP_FIXTURE_WRONG_MANIFEST_ABI); });
  EXPECT_HAS(err, "manifest ABI [" + std::to_string(MIP_MANIFEST_ABI + 1) +
                      "], host manifest ABI [" +
                      std::to_string(MIP_MANIFEST_ABI) +
                      "] (the plugin was built by a newer SDK)");
  err = error_of([] { PluginLoader::open(MIP_FIXTURE_WRONG_MANIFEST_SIZE); });
  EXPECT_HAS(err, "manifest size [" +
                      std::to_string(sizeof(sdk::Manifest) - 8) + "], host [" +
                      std::to_string(sizeof(sdk::Manifest)) + "]");
}

TEST(PluginLoader, LinkLoopsDanglingLinksAndTruncatedFilesAreNamed) {
  test::TempDir d;
  const fs::path loop = d.path() / "libloop.so";
  fs::create_symlink(loop, loop);
  const fs::path gone = d.path() / "libgone.so";
  fs::create_symlink(d.path() / "nowhere.so", gone);
  // The first 200 bytes of a real library: its ELF headers end too soon.
  const std::string good = test::read(MIP_FIXTURE_GOOD);
  const std::string cut = d.write("libcut.so", good.substr(0, 200));

  std::string err = error_of([&] { PluginLoader::open(loop.string()); });
  EXPECT_HAS(err, "[" + loop.string() + "]: is a symbolic link loop");
  err = error_of([&] { PluginLoader::open(gone.string()); });
  EXPECT_HAS(err, "[" + gone.string() + "]: is a dangling symbolic link (to [" +
                      (d.path() / "nowhere.so").string() +
                      "], which does not exist)");
  err = error_of([&] { PluginLoader::open(cut); });
  // Either the ELF headers or the section table they point to end too soon.
  EXPECT_HAS(err, "[" + cut + "]: not a shared library (");
  EXPECT_HAS(err, "truncated or damaged");
  EXPECT_EQ(err.find("basic_ios"), std::string::npos) << err;

  // add_library() (mip-plugins info <lib.so>) canonicalises first.
  PluginLoader one({});
  err = error_of([&] { one.add_library(loop.string()); });
  EXPECT_HAS(err, "is a symbolic link loop");

  // Discovery reports each of them, and a folder that is a loop, and goes on.
  fs::copy_file(MIP_FIXTURE_GOOD, d.path() / "libgood.so");
  const fs::path folder_loop = d.path() / "plugins-loop";
  fs::create_symlink(folder_loop, folder_loop);
  PluginLoader loader({folder_loop.string(), d.str()});
  EXPECT_NO_THROW(loader.find(sdk::ComponentKind::kProblem, "FixtureProblem"));
  std::string failures;
  for (const auto& f : loader.failures())
    failures += f.reason + "\n";
  EXPECT_EQ(loader.failures().size(), 4u) << failures;
  EXPECT_HAS(failures, "plugin folder [" + folder_loop.string() +
                           "] is a symbolic link loop");
  EXPECT_HAS(failures, "libloop.so]: is a symbolic link loop");
  EXPECT_HAS(failures, "libgone.so]: is a dangling symbolic link");
  EXPECT_HAS(failures, "libcut.so]: not a shared library");
}

TEST(PluginLoader, WorldWritableFoldersAndLibrariesAreRefusedUnlessAllowed) {
  test::TempDir d;
  const fs::path folder = d.path() / "open";
  fs::create_directories(folder);
  fs::copy_file(MIP_FIXTURE_GOOD, folder / "libgood.so");
  fs::permissions(folder, fs::perms::all);  // 0777
  {
    PluginLoader loader({folder.string()});
    const std::string err = error_of(
        [&] { loader.find(sdk::ComponentKind::kProblem, "FixtureProblem"); });
    EXPECT_NE(err.find("plugin folder [" + folder.string() +
                       "] is writable by every user (mode "
                       "0777)"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("chmod o-w"), std::string::npos) << err;
    EXPECT_NE(err.find("--allow-insecure-plugin-dir"), std::string::npos)
        << err;
  }
  {
    PluginLoader loader({folder.string()});
    loader.allow_insecure(true);
    EXPECT_NO_THROW(
        loader.find(sdk::ComponentKind::kProblem, "FixtureProblem"));
  }
  fs::permissions(folder, fs::perms::owner_all);
  fs::permissions(folder / "libgood.so", fs::perms::others_write,
                  fs::perm_options::add);
  PluginLoader loader({folder.string()});
  const std::string err = error_of(
      [&] { loader.find(sdk::ComponentKind::kProblem, "FixtureProblem"); });
  EXPECT_NE(err.find("plugin library [" + (folder / "libgood.so").string() +
                     "] is writable"),
            std::string::npos)
      << err;
}

TEST(PluginLoader, ThrowingFactoryIsReportedWithThePluginName) {
  PluginLoader loader({dir_of(MIP_FIXTURE_THROWING)});
  ParamRegistry r;
  const Component& p =
      loader.find(sdk::ComponentKind::kProblem, "ThrowingProblem");
  try {
    loader.create_problem(p, *context(r, "training.problem"));
    FAIL() << "built";
  } catch (const ParameterError& e) {
    const std::string err = e.what();
    EXPECT_NE(err.find("problem [ThrowingProblem] of plugin ["),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("[training.problem.needed_but_missing] is required"),
              std::string::npos)
        << err;
  }
  const Component& m = loader.find(sdk::ComponentKind::kModel, "ThrowingModel");
  const std::string err =
      error_of([&] { loader.create_model(m, *context(r, "model")); });
  EXPECT_NE(err.find("model [ThrowingModel] of plugin ["), std::string::npos)
      << err;
  EXPECT_NE(err.find("fixture model refuses to be built"), std::string::npos)
      << err;
}

TEST(PluginLoader, SameNameFromTwoLibrariesNamesBoth) {
  PluginLoader loader({dir_of(MIP_FIXTURE_DUP_A)});
  const std::string err = error_of(
      [&] { loader.find(sdk::ComponentKind::kProblem, "FixtureDuplicate"); });
  EXPECT_NE(err.find("provided by more than one plugin"), std::string::npos)
      << err;
  EXPECT_NE(err.find(fs::path(MIP_FIXTURE_DUP_A).filename().string()),
            std::string::npos)
      << err;
  EXPECT_NE(err.find(fs::path(MIP_FIXTURE_DUP_B).filename().string()),
            std::string::npos)
      << err;
}

TEST(PluginLoader, EarlierFolderShadowsLaterOneWithAWarning) {
  // The same component in two folders: the first folder's wins, not an error.
  test::TempDir d;
  fs::copy_file(MIP_FIXTURE_GOOD, d.path() / "libcopy.so");
  PluginLoader loader({d.str(), dir_of(MIP_FIXTURE_GOOD)});
  const Component& p =
      loader.find(sdk::ComponentKind::kProblem, "FixtureProblem");
  EXPECT_EQ(fs::path(p.library->path).parent_path(), fs::canonical(d.path()));
  ASSERT_FALSE(loader.warnings().empty());
  EXPECT_NE(loader.warnings()[0].find("shadowed"), std::string::npos);
}

TEST(PluginLoader, FileThatIsNotALibraryIsNamed) {
  test::TempDir d;
  const std::string fake = d.write("libfake.so", "this is not an ELF file\n");
  const std::string err = error_of([&] { PluginLoader::open(fake); });
  EXPECT_NE(err.find("[" + fake + "]: not a shared library"), std::string::npos)
      << err;
}

TEST(PluginLoader, DlopenFailureCarriesDlerror) {
  const std::string err =
      error_of([] { PluginLoader::open(MIP_FIXTURE_UNRESOLVED); });
  EXPECT_NE(err.find("dlopen failed"), std::string::npos) << err;
  EXPECT_NE(err.find("fixture_variable_nobody_defines"), std::string::npos)
      << err;
}

TEST(PluginLoader, MissingFileSaysNotFound) {
  const std::string err =
      error_of([] { PluginLoader::open("/nonexistent/libx.so"); });
  EXPECT_NE(err.find("[/nonexistent/libx.so]: file not found"),
            std::string::npos)
      << err;
}

TEST(PluginLoader, UnknownNameSuggestsAndListsFoldersAndBrokenLibraries) {
  // A folder with a good plugin and broken ones: discovery goes on past the
  // broken ones, and the error for an unknown name lists why they failed.
  test::TempDir d;
  fs::copy_file(MIP_FIXTURE_GOOD, d.path() / "libgood.so");
  fs::copy_file(MIP_FIXTURE_NO_MANIFEST, d.path() / "libnomanifest.so");
  d.write("libtext.so", "not a library");
  PluginLoader loader({d.str(), "/nonexistent/plugins"});
  EXPECT_NO_THROW(loader.find(sdk::ComponentKind::kProblem, "FixtureProblem"));
  EXPECT_EQ(loader.failures().size(), 2u);
  const std::string err = error_of(
      [&] { loader.find(sdk::ComponentKind::kProblem, "FixtureProblen"); });
  EXPECT_NE(err.find("no plugin provides the problem [FixtureProblen]"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("did you mean [FixtureProblem]?"), std::string::npos)
      << err;
  EXPECT_NE(err.find("/nonexistent/plugins (missing)"), std::string::npos)
      << err;
  EXPECT_NE(err.find("libnomanifest.so"), std::string::npos) << err;
  EXPECT_NE(err.find("libtext.so"), std::string::npos) << err;
}

TEST(PluginLoader, SearchPathOrderAndEnvironment) {
  ::setenv("MIP_PLUGIN_PATH", "/env/one:/env/two", 1);
  const auto path = PluginLoader::search_path({"/cli"}, {"/config"});
  ::unsetenv("MIP_PLUGIN_PATH");
  ASSERT_GE(path.size(), 5u);
  EXPECT_EQ(path[0], "/cli");
  EXPECT_EQ(path[1], "/config");
  EXPECT_EQ(path[2], "/env/one");
  EXPECT_EQ(path[3], "/env/two");
  // Then the folder beside the executable: the build tree's plugin folder.
  EXPECT_EQ(path[4], fs::weakly_canonical(MIP_BUILD_PLUGIN_DIR).string());
}

// --- the built-in plugins
// -------------------------------------------------------

class BuiltinPlugins : public ::testing::Test {
 protected:
  PluginLoader loader_{{MIP_BUILD_PLUGIN_DIR}};
  ParamRegistry registry_;

  std::shared_ptr<sdk::Problem> problem(const std::string& yaml) {
    const Component& c =
        loader_.find(sdk::ComponentKind::kProblem, "SerialRecall");
    registry_.add_defaults("p", c.defaults_yaml, "defaults");
    test::TempDir d;
    registry_.load_files({d.write("p.yaml", yaml)});
    return loader_.create_problem(c, *context(registry_, "p"));
  }
};

TEST_F(BuiltinPlugins, SerialRecallBatchLayout) {
  auto p = problem(
      "p: {control_bits: 3, data_bits: 4, min_sequence_length: 2, "
      "max_sequence_length: 2, "
      "batch_size: 5, randomize_control_lines: false}\n");
  EXPECT_EQ(p->size(), 1000000);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto b = p->get_batch({0, 1, 2, 3, 4}, gen);
  const auto& x = b.at("sequences");
  const auto& y = b.at("targets");
  const auto& m = b.at("masks");
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{5, 6, 7}));  // T = 2L+2, C+D
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{5, 6, 4}));
  EXPECT_EQ(m.scalar_type(), torch::kUInt8);
  using torch::indexing::Slice;
  // Store marker, recall marker, the last command line on in the recall part.
  EXPECT_TRUE(x.index({Slice(), 0, 0}).eq(1).all().item<bool>());
  EXPECT_TRUE(x.index({Slice(), 3, 1}).eq(1).all().item<bool>());
  EXPECT_TRUE(x.index({Slice(), Slice(4, 6), 2}).eq(1).all().item<bool>());
  // The targets of the recall part are the stored items.
  EXPECT_TRUE(y.index({Slice(), Slice(4, 6)})
                  .equal(x.index({Slice(), Slice(1, 3), Slice(3, 7)})));
  EXPECT_EQ(m.sum().item<int64_t>(), 5 * 2);
  EXPECT_EQ(b.at("sequences_length").sum().item<int64_t>(), 5 * 2);
  // The same generator seed gives the same batch.
  auto gen2 = at::make_generator<at::CPUGeneratorImpl>(7);
  EXPECT_TRUE(p->get_batch({0, 1, 2, 3, 4}, gen2).at("sequences").equal(x));
}

TEST_F(BuiltinPlugins, SerialRecallLossAndAccuracyOnlyCountTheRecallPart) {
  auto p = problem(
      "p: {min_sequence_length: 3, max_sequence_length: 3, batch_size: 4}\n");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto b = p->get_batch({0, 1, 2, 3}, gen);
  // Perfect logits where the mask is on, garbage elsewhere.
  sdk::DataDict perfect;
  perfect["predictions"] = (b.at("targets") * 2 - 1) * 20 +
                           (1 - b.at("masks").to(torch::kFloat)) * 50;
  EXPECT_LT(p->evaluate_loss(b, perfect).item<double>(), 1e-6);
  sdk::DataDict zero;
  zero["predictions"] = torch::zeros_like(b.at("targets"));
  EXPECT_NEAR(p->evaluate_loss(b, zero).item<double>(), std::log(2.0), 1e-6);
}

TEST_F(BuiltinPlugins, SerialRecallCurriculumGrowsOneItemPerEpoch) {
  auto p = problem(
      "p: {min_sequence_length: 1, max_sequence_length: 4, batch_size: 10, "
      "size: 100}\n");
  test::TempDir d;
  ParamRegistry cl;
  cl.load_files({d.write("c.yaml", "c: {initial_max_sequence_length: 2}\n")});
  p->curriculum_learning_initialize(*cl.view("c"));
  // 10 episodes per epoch: length 2, then +1 per completed epoch, capped at 4.
  EXPECT_FALSE(p->curriculum_learning_update_params(0));
  EXPECT_FALSE(p->curriculum_learning_update_params(9));   // 3
  EXPECT_FALSE(p->curriculum_learning_update_params(19));  // 4
  EXPECT_TRUE(p->curriculum_learning_update_params(29));   // past the cap
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  int64_t longest = 0;
  for (int i = 0; i < 50; ++i)
    longest = std::max(
        longest, p->get_batch({0}, gen).at("sequences_length").item<int64_t>());
  EXPECT_EQ(longest, 4);
}

TEST_F(BuiltinPlugins, SerialRecallRejectsBadParameters) {
  const std::string err = error_of([&] {
    problem(
        "p: {min_sequence_length: 5, max_sequence_length: 2, batch_size: 1}\n");
  });
  EXPECT_NE(err.find("[p.min_sequence_length] (5) must be >= 1 and <= "
                     "max_sequence_length (2)"),
            std::string::npos)
      << err;
}

TEST_F(BuiltinPlugins, LstmMapsSequencesToPerStepLogits) {
  const Component& c = loader_.find(sdk::ComponentKind::kModel, "LSTM");
  registry_.add_defaults("model", c.defaults_yaml, "defaults");
  registry_.add_default_number("model.input_item_size", 11, "problem");
  registry_.add_default_number("model.output_item_size", 8, "problem");
  test::TempDir d;
  registry_.load_files(
      {d.write("m.yaml", "model: {hidden_state_size: 16, num_layers: 2}\n")});
  auto model = loader_.create_model(c, *context(registry_, "model"));
  sdk::DataDict batch;
  batch["sequences"] = torch::rand({3, 9, 11});
  const auto out = model->forward(batch).at("predictions");
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 9, 8}));
  // 2 cells + linear: 4H(I+H)+8H + 4H(H+H)+8H + (H*O+O)
  int64_t n = 0;
  for (const auto& t : model->parameters())
    n += t.numel();
  EXPECT_EQ(n, 4 * 16 * (11 + 16) + 8 * 16 + 4 * 16 * 32 + 8 * 16 + 16 * 8 + 8);
  const std::string err = error_of([&] {
    ParamRegistry r;
    r.add_defaults("model", c.defaults_yaml, "defaults of LSTM");
    loader_.create_model(c, *context(r, "model"));
  });
  EXPECT_NE(err.find("[model.input_item_size] is required"), std::string::npos)
      << err;
}

}  // namespace plugin_loader_test
}  // namespace mip
