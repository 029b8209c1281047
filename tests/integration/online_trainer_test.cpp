// mip-online-trainer end to end: the real executables, the
// real plugins, real YAML files, real experiment folders.
#include <cmath>
#include <filesystem>
#include <vector>

#include <mip/core/checkpoint.hpp>

#include "common/test_util.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace online_trainer_test {

using test::csv_rows;
using test::occurrences;
using test::only_experiment;
using test::read;
using test::run;
using test::RunResult;
using test::TempDir;

const std::string kTrainer = MIP_ONLINE_TRAINER;
const std::string kSource = MIP_SOURCE_DIR;

double column(const std::vector<std::vector<std::string>>& rows,
              size_t row,
              const std::string& name) {
  const auto& header = rows.at(0);
  const auto it = std::find(header.begin(), header.end(), name);
  EXPECT_NE(it, header.end()) << name;
  return std::stod(rows.at(row).at(static_cast<size_t>(it - header.begin())));
}

RunResult train(const TempDir& d, const std::string& args) {
  return run(kTrainer + " --expdir " + d.str() + "/exp " + args);
}

TEST(OnlineTrainer, ShippedConfigWritesTheExperimentAndTheLossFalls) {
  TempDir d;
  const RunResult r =
      train(d, "--config " + kSource + "/configs/serial_recall/lstm.yaml");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  EXPECT_EQ(exp.parent_path(),
            d.path() / "exp" / "SerialRecallCommandLines" / "LSTM");
  for (const char* f :
       {"training_configuration.yaml", "status.yaml", "training.log",
        "training_statistics.csv", "validation_statistics.csv",
        "training_set_agg_statistics.csv", "validation_set_agg_statistics.csv",
        "models/model_best.pt", "models/model_last.pt"})
    EXPECT_TRUE(fs::is_regular_file(exp / f)) << f;
  EXPECT_NE(r.output.find("Experiment folder: " + exp.string()),
            std::string::npos);

  const std::string status = read(exp / "status.yaml");
  EXPECT_NE(status.find("state: finished"), std::string::npos) << status;
  EXPECT_NE(status.find("Not converged: Episode Limit reached"),
            std::string::npos)
      << status;

  const auto train_rows = csv_rows(exp / "training_statistics.csv");
  ASSERT_EQ(train_rows[0], (std::vector<std::string>{
                               "loss", "episode", "epoch", "acc", "seq_length",
                               "max_seq_length", "batch_size"}));
  EXPECT_EQ(train_rows.size(), 1u + 2000u);  // one row per episode
  const auto valid = csv_rows(exp / "validation_statistics.csv");
  ASSERT_GE(valid.size(), 3u);
  const double first = column(valid, 1, "loss");
  const double last = column(valid, valid.size() - 1, "loss");
  EXPECT_NEAR(first, std::log(2.0), 0.05);
  EXPECT_LT(last, 0.5 * first) << "validation loss " << first << " -> " << last;
  const auto agg = csv_rows(exp / "validation_set_agg_statistics.csv");
  EXPECT_EQ(agg[0][0], "episode");
  EXPECT_EQ(agg.size(), 2u);
  // Curriculum: the training length grows from the initial 3 to the cap 5.
  EXPECT_EQ(column(train_rows, 1, "max_seq_length"), 3);
  EXPECT_EQ(column(train_rows, train_rows.size() - 1, "max_seq_length"), 5);

  const CheckpointMeta best =
      read_checkpoint_meta((exp / "models/model_best.pt").string());
  EXPECT_EQ(best.model_name, "LSTM");
  EXPECT_EQ(best.status, "Not converged: Episode Limit reached");
  EXPECT_NEAR(best.loss, best.best_loss, 1e-12);
  EXPECT_LE(best.loss, last + 1e-9);
  const std::string log = read(exp / "training.log");
  EXPECT_NE(log.find("[Partial Validation]"), std::string::npos);
  EXPECT_NE(log.find("[Full Validation]"), std::string::npos);
}

TEST(OnlineTrainer, ResolvedConfigurationReproducesTheRun) {
  TempDir d;
  const std::string args =
      " --set training.terminal_conditions.episode_limit=40"
      " --set validation.partial_validation_interval=20 --seed 7";
  RunResult r = run(kTrainer + " --expdir " + d.str() + "/a --config " +
                    kSource + "/configs/serial_recall/lstm.yaml" + args);
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path a = only_experiment(d.path() / "a");
  const std::string resolved = read(a / "training_configuration.yaml");
  EXPECT_NE(resolved.find("seed_torch: 7"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("episode_limit: 40"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("hidden_state_size: 64"), std::string::npos)
      << resolved;
  // Run again from the resolved file alone, elsewhere.
  r = run("cd " + d.str() + " && " + kTrainer + " --expdir " + d.str() +
          "/b --config " + (a / "training_configuration.yaml").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path b = only_experiment(d.path() / "b");
  EXPECT_EQ(read(a / "training_statistics.csv"),
            read(b / "training_statistics.csv"));
  EXPECT_EQ(read(a / "validation_statistics.csv"),
            read(b / "validation_statistics.csv"));
}

TEST(OnlineTrainer, RandomSeedIsDrawnAndRecorded) {
  TempDir d;
  const RunResult r = train(
      d, "--config " + kSource + "/configs/serial_recall/lstm.yaml" +
             " --seed -1 --set training.terminal_conditions.episode_limit=2");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string resolved =
      read(only_experiment(d.path() / "exp") / "training_configuration.yaml");
  // The config says 42; --seed -1 draws both seeds, and the drawn values are
  // recorded (whole lines: a drawn value may start with the digits 42).
  EXPECT_EQ(resolved.find("seed_torch: -1\n"), std::string::npos) << resolved;
  EXPECT_EQ(resolved.find("seed_torch: 42\n"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("seed_torch: "), std::string::npos) << resolved;
}

TEST(OnlineTrainer, MiPrometheusConfigFilesRunUnchanged) {
  // The maes_baselines files (MI-Prometheus's layout and values), named from
  // the repository root as its users do, with its flag spellings (--c
  // prefix, --ll, --li, --savetag).
  TempDir d;
  const RunResult r =
      run("cd " + kSource + " && " + kTrainer +
          " --c configs/maes_baselines/lstm/lstm_serial_recall.yaml"
          " --expdir " +
          d.str() +
          "/exp --savetag mip --ll DEBUG --li 1"
          " --set training.terminal_conditions.episode_limit=3"
          " --set validation.partial_validation_interval=2");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  EXPECT_EQ(exp.filename().string().substr(15), "_mip");
  const std::string resolved = read(exp / "training_configuration.yaml");
  EXPECT_NE(resolved.find("hidden_state_size: 256"), std::string::npos);
  EXPECT_NE(resolved.find("size: 32000"), std::string::npos);
  EXPECT_EQ(csv_rows(exp / "training_statistics.csv").size(), 1u + 3u);
  EXPECT_EQ(csv_rows(exp / "validation_statistics.csv").size(),
            1u + 2u + 1u);  // 0, 2, final
}

TEST(OnlineTrainer, LossStopConverges) {
  TempDir d;
  const RunResult r =
      train(d, "--config " + kSource + "/configs/serial_recall/lstm.yaml" +
                   " --set training.terminal_conditions.loss_stop=10");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  EXPECT_NE(read(exp / "status.yaml")
                .find("Converged (Partial Validation Loss went below"),
            std::string::npos);
  EXPECT_EQ(csv_rows(exp / "training_statistics.csv").size(),
            2u);  // episode 0 only
}

TEST(OnlineTrainer, UnknownKeyFailsWithFileLineAndHintAndLeavesNoFolder) {
  TempDir d;
  const std::string cfg =
      d.write("typo.yaml",
              "default_configs: " + kSource +
                  "/configs/serial_recall/lstm.yaml\n"
                  "training:\n  terminal_conditions:\n    eposide_limit: 3\n");
  RunResult r = train(d, "--config " + cfg);
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(
      r.output.find(
          cfg + ":4: unknown key [training.terminal_conditions.eposide_limit]; "
                "did you mean [episode_limit]"),
      std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("--lenient"), std::string::npos);
  EXPECT_FALSE(fs::exists(d.path() / "exp"));
  r = train(
      d, "--config " + cfg +
             " --lenient --set training.terminal_conditions.episode_limit=2");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ignored because of --lenient"), std::string::npos);
}

TEST(OnlineTrainer, UnknownProblemSuggestsTheClosestName) {
  TempDir d;
  const RunResult r =
      train(d, "--config " + kSource + "/configs/serial_recall/lstm.yaml" +
                   " --set training.problem.name=SerialRecal");
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_NE(r.output.find(
                "no plugin provides the problem [SerialRecal]; did you mean "
                "[SerialRecall]"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("[training.problem.name] (--set)"), std::string::npos)
      << r.output;
}

TEST(OnlineTrainer, AliasRunsTheCanonicalComponentWithOneNoticePerSection) {
  TempDir d;
  const std::string base = " --config " + kSource +
                           "/configs/serial_recall/lstm.yaml"
                           " --set training.terminal_conditions.episode_limit=4"
                           " --set validation.partial_validation_interval=2";
  // The short name MI-Prometheus's files used, in two sections.
  RunResult r = run(kTrainer + " --expdir " + d.str() + "/alias" + base +
                    " --set training.problem.name=SerialRecall"
                    " --set validation.problem.name=SerialRecall");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* section : {"training", "validation"})
    EXPECT_EQ(
        occurrences(r.output, std::string(section) +
                                  ".problem.name: [SerialRecall] is an alias "
                                  "of [SerialRecallCommandLines]"),
        1u)
        << r.output;
  EXPECT_EQ(occurrences(r.output, "is an alias of"), 2u) << r.output;
  const fs::path alias = only_experiment(d.path() / "alias");
  EXPECT_EQ(alias.parent_path(),
            d.path() / "alias" / "SerialRecallCommandLines" / "LSTM");
  // The resolved configuration keeps the name as written.
  EXPECT_NE(
      read(alias / "training_configuration.yaml").find("name: SerialRecall\n"),
      std::string::npos);

  // Otherwise the same run as under the registered name, which logs no notice.
  r = run(kTrainer + " --expdir " + d.str() + "/canonical" + base);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(occurrences(r.output, "is an alias of"), 0u) << r.output;
  const fs::path canonical = only_experiment(d.path() / "canonical");
  for (const char* f : {"training_statistics.csv", "validation_statistics.csv"})
    EXPECT_EQ(read(alias / f), read(canonical / f)) << f;

  // Names match exactly: another spelling is an error with a hint.
  r = run(kTrainer + " --expdir " + d.str() + "/near" + base +
          " --set training.problem.name=serialrecall");
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_NE(r.output.find("no plugin provides the problem [serialrecall]; did "
                          "you mean [SerialRecall]"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(d.path() / "near"));
}

TEST(OnlineTrainer, HandshakeMismatchStopsBeforeTraining) {
  TempDir d;
  const RunResult r =
      train(d, "--config " + kSource + "/configs/serial_recall/lstm.yaml" +
                   " --set model.input_item_size=5");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(
      r.output.find("model LSTM needs [sequences] [-1, -1, 5] Float, problem "
                    "SerialRecallCommandLines (training) provides [sequences] "
                    "[-1, -1, 11] Float"),
      std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(d.path() / "exp"));
}

TEST(OnlineTrainer, MissingRequiredParameterNamesTheKey) {
  TempDir d;
  const std::string cfg =
      d.write("c.yaml", "default_configs: " + kSource +
                            "/configs/serial_recall/lstm.yaml\n"
                            "model: {hidden_state_size: ~}\n");
  const RunResult r = train(d, "--config " + cfg);
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("model [LSTM] of plugin ["), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("[model.hidden_state_size] is required but not set"),
            std::string::npos)
      << r.output;
}

TEST(OnlineTrainer, CommandLineErrors) {
  TempDir d;
  RunResult r = train(d, "");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("no configuration given"), std::string::npos)
      << r.output;
  r = train(d, "--config /nonexistent.yaml");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("config file [/nonexistent.yaml] not found"),
            std::string::npos);
  r = train(d, "--no-such-flag");
  EXPECT_EQ(r.code, 2) << r.output;
  r = run(kTrainer + " --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("--plugin-path"), std::string::npos);
  EXPECT_NE(r.output.find("--savetag"), std::string::npos);
}

TEST(OnlineTrainer, GpuFlagFailsClearlyWithoutCuda) {
  TempDir d;
  const RunResult r = train(
      d, "--config " + kSource + "/configs/serial_recall/lstm.yaml --gpu" +
             " --set training.terminal_conditions.episode_limit=2");
  if (r.code == 0)
    GTEST_SKIP() << "CUDA is available here";
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_NE(r.output.find("--gpu was given but LibTorch finds no CUDA device"),
            std::string::npos);
}

TEST(OnlineTrainer, TrainsOnTheGpu_CUDA) {
  TempDir d;
  const RunResult r = train(
      d, "--config " + kSource + "/configs/serial_recall/lstm.yaml --gpu" +
             " --set training.terminal_conditions.episode_limit=200");
  if (r.code == 5)
    GTEST_SKIP() << "no CUDA device or CUDA LibTorch here";
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  EXPECT_TRUE(fs::is_regular_file(exp / "models/model_last.pt"));
  EXPECT_NE(read(exp / "status.yaml").find("state: finished"),
            std::string::npos);
}

TEST(OnlineTrainer, WarnsWhenLibTorchRunsOnTheReferenceBlas) {
  const std::string reference = "/usr/lib/x86_64-linux-gnu/blas";
  if (!fs::exists(reference + "/libblas.so.3"))
    GTEST_SKIP() << "no reference BLAS here";
  TempDir d;
  const std::string args =
      "--config " + kSource + "/configs/serial_recall/lstm.yaml" +
      " --set training.terminal_conditions.episode_limit=2";
  RunResult r = run("LD_LIBRARY_PATH=" + reference + " " + kTrainer +
                    " --expdir " + d.str() + "/a " + args);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("LibTorch runs on the reference BLAS (" + reference),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("sudo apt install libopenblas0-openmp"),
            std::string::npos);
  // On the BLAS this machine chose: silent on OpenBLAS's OpenMP build; on
  // its pthread build, a warning that says how to choose the OpenMP build.
  r = train(d, args);
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string chosen =
      fs::canonical("/usr/lib/x86_64-linux-gnu/libblas.so.3").string();
  if (chosen.find("openblas-openmp") != std::string::npos) {
    EXPECT_EQ(r.output.find("BLAS"), std::string::npos) << r.output;
  } else if (chosen.find("openblas-pthread") != std::string::npos) {
    EXPECT_HAS(r.output, "LibTorch runs on OpenBLAS's pthread build");
    if (fs::exists("/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3"))
      EXPECT_HAS(r.output,
                 "sudo update-alternatives --set "
                 "libblas.so.3-x86_64-linux-gnu "
                 "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3");
  }
  // Pointing the loader at the pthread build directly gives the same advice.
  const std::string pthread = "/usr/lib/x86_64-linux-gnu/openblas-pthread";
  if (fs::exists(pthread + "/libblas.so.3")) {
    r = run("LD_LIBRARY_PATH=" + pthread + " " + kTrainer + " --expdir " +
            d.str() + "/c " + args);
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_HAS(r.output,
               "LibTorch runs on OpenBLAS's pthread build (" + pthread);
  }
}

}  // namespace online_trainer_test
}  // namespace mip
