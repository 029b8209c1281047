// Fuzz target: checkpoint reading (core/src/checkpoint.cpp). The input is the
// file; it goes through every reader a worker uses: the metadata (resume's
// first look), the weights digest, and a full load into a model with its
// optimizer and the resume state (the tester, warm start and resume).
#include <torch/torch.h>

#include <cstdlib>
#include <string>

#include <mip/core/checkpoint.hpp>

#include "fuzz_util.hpp"

namespace {

/// The model the seed checkpoint was written from.
struct Tiny : torch::nn::Module {
  Tiny() : fc(register_module("fc", torch::nn::Linear(2, 3))) {}
  torch::nn::Linear fc;
};

/// Writes the seed checkpoint (our own writer, a model after one Adam step,
/// metadata, statistics and an extra tensor) to `path`.
void write_seed(const std::string& path) {
  torch::manual_seed(1);
  Tiny model;
  torch::optim::Adam opt(model.parameters(), torch::optim::AdamOptions(0.01));
  model.fc->forward(torch::ones({1, 2})).sum().backward();
  opt.step();
  mip::CheckpointMeta meta;
  meta.model_name = "Tiny";
  meta.problem_name = "Fuzz";
  meta.episode = 7;
  meta.epoch = 1;
  meta.loss = 0.25;
  meta.status = "Not converged: Episode Limit reached";
  meta.timestamp = "20260101_000000";
  meta.best_loss = 0.25;
  meta.best_episode = 7;
  meta.training_stats = {{"loss", "0.250000"}, {"episode", "7"}};
  meta.validation_stats = {{"loss", "0.300000"}};
  mip::CheckpointExtra extra = {{"sampler.position", torch::tensor({3})}};
  mip::save_checkpoint(path, model, &opt, meta, &extra);
}

}  // namespace

/// MIP_FUZZ_WRITE_SEED=<file>: writes the seed checkpoint and exits (used to
/// refresh fuzz/corpus/checkpoint when the format changes).
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  if (const char* seed = std::getenv("MIP_FUZZ_WRITE_SEED")) {
    write_seed(seed);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path =
      (mip::fuzz::scratch_dir() / "model_last.pt").string();
  mip::fuzz::write_file(path,
                        std::string(reinterpret_cast<const char*>(data), size));
  mip::fuzz::expect_only_mip_errors("read_checkpoint_meta",
                                    [&] { mip::read_checkpoint_meta(path); });
  mip::fuzz::expect_only_mip_errors("checkpoint_digest",
                                    [&] { mip::checkpoint_digest(path); });
  mip::fuzz::expect_only_mip_errors("load_checkpoint", [&] {
    Tiny model;
    torch::optim::Adam opt(model.parameters(), torch::optim::AdamOptions(0.01));
    mip::CheckpointExtra extra;
    mip::load_checkpoint(path, model, &opt, &extra);
  });
  return 0;
}
