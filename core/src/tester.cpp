// mip-tester: one pass over the testing section's problem with a trained
// model, into a test folder beside (inside) the training's.
#include <filesystem>
#include <iostream>

#include <mip/core/checkpoint.hpp>
#include <mip/core/files.hpp>
#include <mip/core/signals.hpp>
#include <mip/core/tester.hpp>
#include <mip/core/text.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/problem.hpp>

namespace fs = std::filesystem;

namespace mip {

Tester::Tester(WorkerOptions options) : run_(std::move(options)) {
  test_.name = "testing";
}

Tester::~Tester() = default;

void Tester::fail(const std::string& error) {
  observers_.run_ended({RunState::kFailed, error});
}

void Tester::setup() {
  MIP_CHECK(!run_.options().model_checkpoint.empty(), ConfigError,
            "mip-tester: --model is required: a checkpoint "
            "(models/model_best.pt) or an "
            "experiment folder");
  const fs::path given =
      fs::absolute(expand_user(run_.options().model_checkpoint));
  fs::path experiment;
  if (fs::is_directory(given)) {
    experiment = given;
    checkpoint_ = (given / "models" / "model_best.pt").string();
    if (!fs::exists(checkpoint_))
      checkpoint_ = (given / "models" / "model_last.pt").string();
  } else {
    checkpoint_ = given.string();
    experiment = given.parent_path().filename() == "models"
                     ? given.parent_path().parent_path()
                     : given.parent_path();
  }
  MIP_CHECK(fs::is_regular_file(checkpoint_), ConfigError,
            "mip-tester: checkpoint [", checkpoint_, "] does not exist");
  std::vector<std::string> files = run_.options().configs;
  const fs::path training_config = experiment / "training_configuration.yaml";
  if (fs::is_regular_file(training_config))
    files.push_back(training_config.string());
  MIP_CHECK(!files.empty(), ConfigError, "mip-tester: no configuration: [",
            training_config.string(), "] is missing and no --config was given");
  run_.configure(files);
  ParamRegistry& registry = run_.registry();
  const Component& test_c = run_.problem_component("testing");
  for (const char* s : {"training", "validation"})
    if (registry.has(std::string(s) + ".problem.name"))
      run_.problem_component(s);
  const Component& model_c = run_.model_component();

  read_multi_tests();
  run_.seed("testing");
  run_.check_unknown_keys(false);
  component_ = &test_c;
  test_.problem = run_.build_problem(test_c, "testing");
  run_.add_problem_values(*test_.problem);
  run_.check_unknown_keys(true);
  run_.build_model(model_c);
  run_.check_problem_fits_model(*test_.problem, "testing");
  run_.setup_device();
  const CheckpointMeta m = load_checkpoint(checkpoint_, run_.model());
  run_.model().to(run_.device());
  test_.make_stream(run_, 2);

  dir_ = create_timestamped_dir(run_.options().expdir == "./experiments"
                                    ? experiment.string()
                                    : run_.options().expdir,
                                "test_", run_.options().savetag);
  logging_add_file((fs::path(dir_) / "tester.log").string());
  test_.declare_statistics(run_, false);
  observers_.attach(run_);
  observers_.run_started(
      {dir_, false, 0, 0, -1.0, -1, {{test_.name, &test_.col, &test_.agg}}});
  write_file_atomic((fs::path(dir_) / "testing_configuration.yaml").string(),
                    "# Resolved configuration of the test " + dir_ +
                        "\n# checkpoint: " + checkpoint_ + "\n" +
                        registry.dump());
  run_.log().info("Testing " + run_.model_name() + " from " + checkpoint_ +
                  " (episode " + std::to_string(m.episode) +
                  ", validation loss " + std::to_string(m.loss) +
                  ", status: " + m.status + ") on " + run_.problem_name() +
                  ": " + std::to_string(episodes()) + " episodes");
  run_.log().info("Test folder: " + dir_);
}

namespace {
/// Paths below `view` whose last key is `name` (maps searched recursively).
void find_leaves(const sdk::ParamView& view,
                 const std::string& name,
                 std::vector<std::string>& out) {
  for (const auto& k : view.keys()) {
    if (k == "multi_tests")
      continue;
    std::unique_ptr<sdk::ParamView> child;
    try {
      child = view.child(k);
    } catch (const ParameterError&) {  // a leaf
      if (k == name)
        out.push_back(view.path() + "." + k);
      continue;
    }
    find_leaves(*child, name, out);
  }
}
}  // namespace

void Tester::read_multi_tests() {
  const ParamRegistry& registry = run_.registry();
  if (!registry.has("testing.multi_tests"))
    return;
  const auto mt = registry.view("testing.multi_tests");
  const auto testing = registry.view("testing");
  size_t count = 0;
  for (const auto& key : mt->keys()) {
    std::vector<std::string> paths;
    find_leaves(*testing, key, paths);
    MIP_CHECK(paths.size() == 1, ConfigError, "[testing.multi_tests.", key,
              "]: ", paths.empty() ? "no" : "more than one",
              " key of the testing section is named [", key,
              "] (multi_tests names leaves of testing, e.g. "
              "max_sequence_length)");
    const auto values = mt->get<std::vector<std::string>>(key);
    MIP_CHECK(!values.empty() && (count == 0 || values.size() == count),
              ConfigError, "[testing.multi_tests.", key, "] has ",
              values.size(), " values; every list needs the same number (",
              count, ")");
    count = values.size();
    multi_tests_.emplace_back(paths[0], values);
  }
}

int64_t Tester::episodes() const {
  const int64_t all = test_.stream->batches_per_epoch();
  const int64_t max = run_.registry()
                          .view("testing.problem")
                          ->get<int64_t>("max_test_episodes");
  return max < 0 ? all : std::min(max, all);
}

void Tester::prepare_test(size_t index) {
  std::string tag;
  for (const auto& [path, values] : multi_tests_) {
    run_.registry().set_value(path, values[index], "testing.multi_tests");
    tag += " " + path.substr(path.rfind('.') + 1) + "=" + values[index];
  }
  test_.problem = run_.build_problem(*component_, "testing");
  run_.check_problem_fits_model(*test_.problem, "testing");
  test_.make_stream(run_, 2);
  run_.log().info("Test " + std::to_string(index + 1) + " of " +
                  std::to_string(multi_tests_.front().second.size()) + ":" +
                  tag);
}

int Tester::test() {
  torch::NoGradGuard no_grad;
  run_.model().eval();
  const size_t tests =
      multi_tests_.empty() ? 1 : multi_tests_.front().second.size();
  int64_t total = 0;
  for (size_t t = 0; t < tests; ++t) {
    if (!multi_tests_.empty())
      prepare_test(t);
    test_.col.reset();
    const int64_t n = episodes();
    test_.batches->make_ahead_until(n);
    for (int64_t episode = 0; episode < n; ++episode) {
      if (stop_requested()) {
        observers_.run_ended(
            {RunState::kInterrupted,
             "Interrupted after " + std::to_string(total) + " episodes"});
        return kExitInterrupted;
      }
      test_.evaluate(run_, test_.batch(run_, episode),
                     {test_.name, episode, episode, true, false}, 0,
                     observers_);
      observers_.episode_done({test_.name, "Test", episode, test_.col});
      ++total;
    }
    test_.aggregate(run_, n);
    observers_.epoch_done({test_.name, "Full Test", n, test_.agg});
  }
  observers_.flush();  // a failed write fails the test before "finished"
  observers_.run_ended(
      {RunState::kFinished,
       "Tested " + std::to_string(total) + " episodes" +
           (tests > 1 ? " in " + std::to_string(tests) + " tests (multi_tests)"
                      : ""),
       total});
  run_.log().info("Test folder: " + dir_);
  return kExitOk;
}

int run_tester(int argc, char** argv) {
  const std::string worker = "mip-tester";
  std::optional<WorkerOptions> opts;
  try {
    opts =
        parse_worker_options(argc, argv, worker,
                             "Tests a trained model once over the testing "
                             "section's problem and writes "
                             "testing statistics into "
                             "<experiment>/test_<time>/ (or under --expdir).",
                             WorkerKind::kTester);
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    return kExitUsage;
  }
  if (!opts)
    return kExitOk;
  Tester tester(*opts);
  return run_worker(
      [&] {
        tester.setup();
        return tester.test();
      },
      [&](const std::string& error) { tester.fail(error); }, worker);
}

}  // namespace mip
