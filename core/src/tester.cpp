// mip-tester: one pass over the testing section's problem with a trained
// model, into a test folder beside (inside) the training's.
#include <filesystem>
#include <iostream>

#include <mip/core/files.hpp>
#include <mip/core/training.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/problem.hpp>

namespace fs = std::filesystem;

namespace mip {

namespace {

constexpr const char* kTesterDefaults = R"(
testing:
  problem:
    max_test_episodes: -1
)";

}  // namespace

Tester::Tester(WorkerOptions options)
    : Session(std::move(options), kTesterDefaults) {}

void Tester::setup() {
  MIP_CHECK(!opts_.model_checkpoint.empty(), ConfigError,
            "mip-tester: --model is required: a checkpoint "
            "(models/model_best.pt) or an "
            "experiment folder");
  const fs::path given = fs::absolute(expand_user(opts_.model_checkpoint));
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
  std::vector<std::string> files = opts_.configs;
  const fs::path training_config = experiment / "training_configuration.yaml";
  if (fs::is_regular_file(training_config))
    files.push_back(training_config.string());
  MIP_CHECK(!files.empty(), ConfigError, "mip-tester: no configuration: [",
            training_config.string(), "] is missing and no --config was given");
  configure(files);
  const Component& test_c = problem_component("testing");
  for (const char* s : {"training", "validation"})
    if (registry_.has(std::string(s) + ".problem.name"))
      problem_component(s);
  const Component& model_c = model_component();
  problem_name_ = registry_.view("testing.problem")->get<std::string>("name");
  model_name_ = model_c.name;

  read_multi_tests();
  seed("testing");
  check_keys(false);
  test_component_ = &test_c;
  problem_ = build_problem(test_c, "testing");
  add_problem_values(*problem_, problem_name_);
  check_keys(true);
  model_ = build_model(model_c);
  check_fit(*problem_, "testing");
  setup_device();
  const CheckpointMeta m = load_checkpoint(checkpoint_, *model_);
  model_->to(device_);
  make_stream();

  dir_ = create_timestamped_dir(
      opts_.expdir == "./experiments" ? experiment.string() : opts_.expdir,
      "test_", opts_.savetag);
  logging_add_file((fs::path(dir_) / "tester.log").string());
  status_.worker = opts_.worker;
  status_.started = now_string();
  write_status(dir_, status_);
  started_ = true;
  write_file_atomic((fs::path(dir_) / "testing_configuration.yaml").string(),
                    "# Resolved configuration of the test " + dir_ +
                        "\n# checkpoint: " + checkpoint_ + "\n" +
                        registry_.dump());
  log_.info("Testing " + model_name_ + " from " + checkpoint_ + " (episode " +
            std::to_string(m.episode) + ", validation loss " +
            std::to_string(m.loss) + ", status: " + m.status + ") on " +
            problem_name_ + ": " + std::to_string(episodes_) + " episodes");
  log_.info("Test folder: " + dir_);
  declare_statistics(*problem_, stats_, false);
  stats_.episodes.open((fs::path(dir_) / "testing_statistics.csv").string(),
                       stats_.col.csv_header(), false);
  stats_.aggregates.open(
      (fs::path(dir_) / "testing_set_agg_statistics.csv").string(),
      stats_.agg.csv_header(), false);
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
  if (!registry_.has("testing.multi_tests"))
    return;
  const auto mt = registry_.view("testing.multi_tests");
  const auto testing = registry_.view("testing");
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

void Tester::make_stream() {
  batches_.reset();  // before its stream
  stream_ = std::make_unique<BatchStream>(
      problem_, registry_.view("testing.problem")->get<int64_t>("batch_size"),
      seed_data_, 2, SamplerSpec::from_config(registry_, "testing"));
  batches_ = std::make_unique<BatchPrefetcher>(
      *stream_, PrefetchSpec::from_config(registry_, "testing"));
  const int64_t all = stream_->batches_per_epoch();
  const int64_t max =
      registry_.view("testing.problem")->get<int64_t>("max_test_episodes");
  episodes_ = max < 0 ? all : std::min(max, all);
}

void Tester::prepare_test(size_t index) {
  std::string tag;
  for (const auto& [path, values] : multi_tests_) {
    registry_.set_value(path, values[index], "testing.multi_tests");
    tag += " " + path.substr(path.rfind('.') + 1) + "=" + values[index];
  }
  problem_ = build_problem(*test_component_, "testing");
  check_fit(*problem_, "testing");
  make_stream();
  log_.info("Test " + std::to_string(index + 1) + " of " +
            std::to_string(multi_tests_.front().second.size()) + ":" + tag);
}

int Tester::test() {
  install_stop_handlers();
  torch::NoGradGuard no_grad;
  model_->eval();
  const size_t tests =
      multi_tests_.empty() ? 1 : multi_tests_.front().second.size();
  int64_t total = 0;
  for (size_t t = 0; t < tests; ++t) {
    if (!multi_tests_.empty())
      prepare_test(t);
    stats_.col.reset();
    batches_->plan(episodes_);
    for (int64_t episode = 0; episode < episodes_; ++episode) {
      if (stop_requested()) {
        stats_.episodes.flush();
        mark(RunState::kInterrupted,
             "Interrupted after " + std::to_string(total) + " episodes");
        return kExitInterrupted;
      }
      const sdk::DataDict batch = next_batch(*batches_, episode, "testing");
      forward_and_collect(*problem_, batch, stats_.col, episode, 0, nullptr);
      stats_.episodes.write(stats_.col.csv_row());
      if (episode % opts_.log_interval == 0)
        log_.info(stats_.col.line("Test"));
      ++total;
    }
    aggregate(stats_.col, stats_.agg, *problem_, episodes_);
    stats_.aggregates.write(stats_.agg.csv_row());
    log_.info(stats_.agg.line("Full Test"));
  }
  stats_.episodes.flush();
  stats_.aggregates.flush();
  status_.episode = total;
  mark(RunState::kFinished,
       "Tested " + std::to_string(total) + " episodes" +
           (tests > 1 ? " in " + std::to_string(tests) + " tests (multi_tests)"
                      : ""));
  log_.info("Test folder: " + dir_);
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
      &tester, worker);
}

}  // namespace mip
