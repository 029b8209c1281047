#pragma once

// Helpers of the worker tests: the workers' paths, small MNIST files and
// experiments, a short serial-recall training, what a run wrote.

#include <cstdint>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <mip/core/checkpoint.hpp>

#include "common/test_util.hpp"

namespace mip::test {

namespace fs = std::filesystem;

inline const std::string kBin =
    fs::path(MIP_ONLINE_TRAINER).parent_path().string();
inline const std::string kOnline = kBin + "/mip-online-trainer";
inline const std::string kOffline = kBin + "/mip-offline-trainer";
inline const std::string kTester = kBin + "/mip-tester";
inline const std::string kSource = MIP_SOURCE_DIR;
inline const std::string kSerialRecall =
    kSource + "/configs/serial_recall/lstm.yaml";
/// 260 episodes of serial recall, validated every 25, with a scheduler that
/// has state.
inline const std::string kShortOnline =
    " --config " + kSerialRecall +
    " --set training.terminal_conditions.episode_limit=260"
    " --set validation.partial_validation_interval=25"
    " --set 'training.scheduler={name: ReduceLROnPlateau, patience: 1, factor: "
    "0.5}'";

inline void put_u32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i)
    s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/// Writes an MNIST-style IDX pair: class c draws a bright 6x6 square at a
/// place of its own, plus noise, so that a small model learns it.
inline void write_idx(const TempDir& d,
                      const std::string& prefix,
                      int n,
                      uint32_t seed) {
  std::mt19937 rng(seed);
  std::string images, labels;
  put_u32(images, 0x00000803);
  put_u32(images, static_cast<uint32_t>(n));
  put_u32(images, 28);
  put_u32(images, 28);
  put_u32(labels, 0x00000801);
  put_u32(labels, static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) {
    const int c = static_cast<int>(rng() % 10);
    labels.push_back(static_cast<char>(c));
    const int r0 = 2 + (c / 5) * 12, c0 = 2 + (c % 5) * 5;
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const bool on = y >= r0 && y < r0 + 6 && x >= c0 && x < c0 + 5;
        images.push_back(static_cast<char>(on ? 200 + rng() % 56 : rng() % 60));
      }
  }
  d.write("mnist/" + prefix + "-images-idx3-ubyte", images);
  d.write("mnist/" + prefix + "-labels-idx1-ubyte", labels);
}

/// A small MNIST experiment on files written by the test.
inline std::string mnist_config(const TempDir& d,
                                const std::string& extra = "") {
  write_idx(d, "train", 600, 1);
  write_idx(d, "t10k", 200, 2);
  return d.write(
      "mnist.yaml",
      "training:\n"
      "  seed_torch: 3\n  seed_numpy: 3\n"
      "  problem: {name: MNIST, batch_size: 32, data_folder: " +
          d.str() +
          "/mnist, padding: [2, 2, 2, 2]}\n"
          "  sampler: {name: SubsetRandomSampler, indices: [0, 500]}\n"
          "  optimizer: {name: Adam, lr: 0.002}\n"
          "  terminal_conditions: {epoch_limit: 4}\n" +
          extra +
          "validation:\n"
          "  problem: {name: MNIST, batch_size: 50, data_folder: " +
          d.str() +
          "/mnist, padding: [2, 2, 2, 2]}\n"
          "  sampler: {name: SubsetRandomSampler, indices: " +
          d.str() +
          "/valid_indices.txt}\n"
          "testing:\n"
          "  problem: {name: MNIST, batch_size: 50, use_train_data: false, "
          "data_folder: " +
          d.str() +
          "/mnist, padding: [2, 2, 2, 2]}\n"
          "model: {name: LeNet5}\n");
}

inline std::string valid_indices() {
  std::string s;
  for (int i = 500; i < 600; ++i)
    s += (i > 500 ? "," : "") + std::to_string(i);
  return s + "\n";
}

/// The four statistics files and the two checkpoints' digests of a run.
inline std::vector<std::string> run_outputs(const fs::path& exp) {
  std::vector<std::string> out;
  for (const char* f :
       {"training_statistics.csv", "validation_statistics.csv",
        "training_set_agg_statistics.csv", "validation_set_agg_statistics.csv"})
    out.push_back(read(exp / f));
  for (const char* f : {"models/model_last.pt", "models/model_best.pt"})
    out.push_back(checkpoint_digest((exp / f).string()));
  return out;
}

/// A 20-episode serial-recall training under `d`/exp: its experiment folder
/// (empty, with a test failure, when the run fails).
inline fs::path short_serial_recall_run(const TempDir& d) {
  const RunResult r =
      run(kOnline + " --config " + kSerialRecall + " --expdir " + d.str() +
          "/exp --set training.terminal_conditions.episode_limit=20");
  EXPECT_EQ(r.code, 0) << r.output;
  if (r.code != 0)
    return {};
  return only_experiment(d.path() / "exp", "training_configuration.yaml");
}

/// The `name` column of a CSV file (header excluded), as numbers.
inline std::vector<double> csv_column(const fs::path& file,
                                      const std::string& name) {
  std::istringstream in(read(file));
  std::string line, cell;
  std::getline(in, line);
  std::istringstream header(line);
  int64_t index = -1;
  for (int64_t k = 0; std::getline(header, cell, ','); ++k)
    if (cell == name)
      index = k;
  EXPECT_GE(index, 0) << name << " not in " << file;
  std::vector<double> values;
  while (index >= 0 && std::getline(in, line)) {
    std::istringstream row(line);
    for (int64_t k = 0; std::getline(row, cell, ','); ++k)
      if (k == index)
        values.push_back(std::stod(cell));
  }
  return values;
}

/// The fixture's linear regression with an absurd learning rate, validated
/// every episode: the weights explode and the loss overflows within a few
/// episodes (the run fails). Needs --plugin-path to the fixture plugin.
inline std::string exploding_config(const TempDir& d) {
  return d.write("explode.yaml",
                 "training:\n  problem: {name: FixtureProblem, batch_size: 8}\n"
                 "  optimizer: {name: SGD, lr: 1.0e+8}\n"
                 "  terminal_conditions: {episode_limit: 1000}\n"
                 "validation:\n  partial_validation_interval: 1\n"
                 "  problem: {name: FixtureProblem, batch_size: 8}\n"
                 "model: {name: FixtureModel}\n");
}

/// `episodes` of seeded online training of `problem` (a flow map with its
/// name and parameters, for training and validation, validated every 100
/// episodes) with `model` (a flow map) under `d`/`sub`: the experiment folder
/// (empty, with a test failure, when the run fails).
inline fs::path short_run(const TempDir& d,
                          const std::string& problem,
                          const std::string& model,
                          int episodes,
                          const std::string& sub = "exp") {
  const std::string config =
      d.write(sub + ".yaml",
              "training:\n"
              "  seed_torch: 5\n  seed_numpy: 5\n"
              "  problem: " +
                  problem +
                  "\n"
                  "  optimizer: {name: Adam, lr: 0.01}\n"
                  "  gradient_clipping: 10\n"
                  "  terminal_conditions: {episode_limit: " +
                  std::to_string(episodes) +
                  "}\n"
                  "validation:\n"
                  "  partial_validation_interval: 100\n"
                  "  problem: " +
                  problem +
                  "\n"
                  "model: " +
                  model + "\n");
  const RunResult r =
      run(kOnline + " --config " + config + " --expdir " + d.str() + "/" + sub);
  EXPECT_EQ(r.code, 0) << r.output;
  if (r.code != 0)
    return {};
  return only_experiment(d.path() / sub, "training_statistics.csv");
}

/// short_run with a small LSTM (32 units, one layer) under `d`/exp.
inline fs::path short_lstm_run(const TempDir& d,
                               const std::string& problem,
                               int episodes = 200) {
  return short_run(d, problem,
                   "{name: LSTM, hidden_state_size: 32, num_layers: 1}",
                   episodes);
}

}  // namespace mip::test
