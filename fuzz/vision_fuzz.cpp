// Fuzz target: the IDX (MNIST) and CIFAR-10 readers, compiled once per
// problem (FUZZ_PLUGIN, FUZZ_PROBLEM, FUZZ_CIFAR). The readers live inside
// the plugin libraries, so the target loads the real plugin through the
// plugin loader and builds the problem on a folder holding the fuzzed files,
// as a trainer does: what is fuzzed is exactly what users run, and no plugin
// source is compiled twice (the target itself needs no LibTorch headers).
//   IDX input:   images file, kNextFile, labels file (train-*-ubyte).
//   CIFAR input: one part: test_batch.bin; two to five parts:
//   data_batch_1..5.bin.
#include <filesystem>
#include <memory>
#include <string>

#include <mip/core/plugin_loader.hpp>
#include <mip/core/registry.hpp>

#include "fuzz_util.hpp"

namespace {

class QuietLogger final : public mip::sdk::Logger {
 public:
  void log(mip::sdk::LogLevel /*level*/, const std::string& /*m*/) override {}
};

/// The plugin, loaded once, and its problem component.
struct Plugin {
  mip::PluginLoader loader{{}};
  const mip::Component* problem = nullptr;
  Plugin() {
    loader.add_library(FUZZ_PLUGIN);
    problem = &loader.find(mip::sdk::ComponentKind::kProblem, FUZZ_PROBLEM);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Plugin plugin;
  const mip::Component& c = *plugin.problem;
  // A fresh folder per input: the plugin caches what it decoded by path,
  // size and modification time.
  static uint64_t count = 0;
  const auto dir = mip::fuzz::scratch_dir() / "data" / std::to_string(count++);
#ifdef FUZZ_CIFAR
  const auto parts = mip::fuzz::split_input(data, size, 5);
  const bool train = parts.size() > 1;
  for (size_t i = 0; i < parts.size(); ++i)
    mip::fuzz::write_file(
        dir / (train ? "data_batch_" + std::to_string(i + 1) + ".bin"
                     : std::string("test_batch.bin")),
        parts[i]);
#else
  const auto parts = mip::fuzz::split_input(data, size, 2);
  const bool train = true;
  mip::fuzz::write_file(dir / "train-images-idx3-ubyte", parts[0]);
  if (parts.size() > 1)
    mip::fuzz::write_file(dir / "train-labels-idx1-ubyte", parts[1]);
#endif
  mip::fuzz::expect_only_mip_errors(FUZZ_PROBLEM, [&] {
    mip::ParamRegistry reg;
    reg.add_defaults("problem", c.defaults_yaml, "defaults of " + c.name);
    reg.set_value("problem.data_folder", "'" + dir.string() + "'", "fuzz");
    reg.set_value("problem.use_train_data", train ? "true" : "false", "fuzz");
    QuietLogger log;
    mip::ComponentContext ctx(reg.view("problem"), log);
    plugin.loader.create_problem(c, ctx);
  });
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
