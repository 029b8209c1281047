// The training workers: configuration, components, the episode loop,
// validation, statistics and checkpoints (MIP-BEHAVIOUR.md section 3).
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <random>

#include <mip/core/checkpoint.hpp>
#include <mip/core/experiment.hpp>
#include <mip/core/files.hpp>
#include <mip/core/handshake.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/plugin_loader.hpp>
#include <mip/core/registry.hpp>
#include <mip/core/statistics.hpp>
#include <mip/core/training.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/build_config.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/problem.hpp>

namespace fs = std::filesystem;

namespace mip {

// --- signals -------------------------------------------------------------------

namespace {
std::atomic<int> g_stop_signal{0};
extern "C" void mip_on_stop_signal(int sig) { g_stop_signal.store(sig); }
}  // namespace

void install_stop_handlers() {
  g_stop_signal.store(0);
  std::signal(SIGINT, mip_on_stop_signal);
  std::signal(SIGTERM, mip_on_stop_signal);
}

int stop_requested() { return g_stop_signal.load(); }

// --- components ----------------------------------------------------------------

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

// --- the session ---------------------------------------------------------------

namespace {

constexpr const char* kFrameworkKeys[] = {
    "default_configs", "plugin_paths", "model", "model.name", "model.load",
    "model.save_intermediate", "training", "validation", "testing",
    "training.optimizer", "training.optimizer.name", "training.gradient_clipping",
    "training.terminal_conditions", "training.terminal_conditions.loss_stop",
    "training.terminal_conditions.episode_limit",
    "training.terminal_conditions.epoch_limit",
    "validation.partial_validation_interval", "testing.problem.max_test_episodes",
};

constexpr const char* kSections[] = {"training", "validation", "testing"};

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

}  // namespace

TrainingSession::TrainingSession(WorkerOptions options, std::string defaults_yaml)
    : opts_(std::move(options)),
      worker_defaults_(std::move(defaults_yaml)),
      log_(logger(opts_.worker)) {}

TrainingSession::~TrainingSession() = default;

void TrainingSession::configure() {
  logging_set_console_level(parse_log_level(opts_.log_level));
  MIP_CHECK(!opts_.configs.empty(), ConfigError, opts_.worker,
            ": no configuration given; pass --config experiment.yaml");
  registry_.load_files(opts_.configs);
  for (const auto& w : registry_.warnings()) log_.warn(w);
  for (const auto& s : opts_.sets) registry_.apply_override(s);
  registry_.add_defaults("", worker_defaults_, "defaults of " + opts_.worker);
  for (const char* k : kFrameworkKeys) registry_.declare_known(k);
  for (const char* s : kSections) {
    const std::string sec(s);
    for (const char* k : {"problem", "problem.name", "problem.batch_size",
                          "seed_numpy", "seed_torch"})
      registry_.declare_known(sec + "." + k);
    for (const char* k : {"dataloader", "sampler"})
      registry_.declare_known(sec + "." + k, /*open=*/true);
  }
  registry_.declare_known("training.optimizer", true);
  registry_.declare_known("training.gradient_clipping", true);
  registry_.declare_known("training.curriculum_learning", true);
  registry_.declare_known("testing.multi_tests", true);

  std::vector<std::string> config_plugin_paths;
  if (registry_.has("plugin_paths"))
    config_plugin_paths = registry_.view("")->get<std::vector<std::string>>("plugin_paths");
  loader_ = std::make_unique<PluginLoader>(
      PluginLoader::search_path(opts_.plugin_paths, config_plugin_paths));
}

const Component& TrainingSession::problem_component(const std::string& section) {
  const std::string key = section + ".problem.name";
  MIP_CHECK(registry_.has(key), ConfigError, "[", key,
            "] is required: name the problem class, e.g. "
            "SerialRecallCommandLines (mip-plugins list shows them)");
  const std::string name = registry_.view(section + ".problem")->get<std::string>("name");
  const Component* c = nullptr;
  try {
    c = &loader_->find(sdk::ComponentKind::kProblem,
                       fs::path(name).filename().string());
  } catch (...) {
    rethrow_with_context("[" + key + "] (" + registry_.origin(key) + ")");
  }
  registry_.add_defaults(section + ".problem", c->defaults_yaml,
                         "defaults of " + c->name + " (" + c->library->path + ")");
  return *c;
}

const Component& TrainingSession::model_component() {
  MIP_CHECK(registry_.has("model.name"), ConfigError,
            "[model.name] is required: name the model class, e.g. LSTM "
            "(mip-plugins list shows them)");
  const std::string name = registry_.view("model")->get<std::string>("name");
  const Component* c = nullptr;
  try {
    c = &loader_->find(sdk::ComponentKind::kModel, name);
  } catch (...) {
    rethrow_with_context("[model.name] (" + registry_.origin("model.name") + ")");
  }
  registry_.add_defaults("model", c->defaults_yaml,
                         "defaults of " + c->name + " (" + c->library->path + ")");
  return *c;
}

void TrainingSession::check_keys() {
  const auto issues = registry_.unknown_keys();
  if (issues.empty()) return;
  std::string msg;
  for (const auto& i : issues) msg += "\n  " + i.to_string();
  if (opts_.lenient) {
    log_.warn("unknown configuration keys (ignored because of --lenient):" + msg);
    return;
  }
  throw ConfigError("unknown configuration keys:" + msg +
                    "\n  fix them, or pass --lenient to only warn (MI-Prometheus "
                    "ignored such keys silently)");
}

std::shared_ptr<sdk::Problem> TrainingSession::build_problem(
    const Component& c, const std::string& section) {
  ComponentContext ctx(registry_.view(section + ".problem"), logger(c.name));
  return loader_->create_problem(c, ctx);
}

void TrainingSession::add_problem_values(const sdk::Problem& problem,
                                         const std::string& problem_name) {
  try {
    for (const auto& [k, v] : problem.default_values())
      registry_.add_default_number("model." + k, v,
                                   "default value of problem " + problem_name);
  } catch (...) {
    rethrow_with_context("problem [" + problem_name + "]");
  }
}

std::shared_ptr<sdk::Model> TrainingSession::build_model(const Component& c) {
  ComponentContext ctx(registry_.view("model"), logger(c.name));
  return loader_->create_model(c, ctx);
}

void TrainingSession::seed(const std::string& section) {
  for (const char* k : {"seed_torch", "seed_numpy"}) {
    const std::string key = section + "." + k;
    int64_t value = registry_.has(key) ? registry_.view(section)->get<int64_t>(k) : -1;
    if (opts_.seed) value = *opts_.seed;
    if (value < 0) {
      std::random_device rd;
      value = static_cast<int64_t>((static_cast<uint64_t>(rd()) << 1) % (1ULL << 32));
    }
    registry_.set_value(key, std::to_string(value),
                        opts_.seed ? "--seed" : "drawn at start");
    if (std::string(k) == "seed_torch") seed_torch_ = static_cast<uint64_t>(value);
    else seed_data_ = static_cast<uint64_t>(value);
  }
  torch::manual_seed(seed_torch_);
}

void TrainingSession::setup_device() {
  if (!opts_.gpu) {
    log_.info("GPU flag is disabled, using CPU.");
    device_ = torch::Device(torch::kCPU);
    return;
  }
  MIP_CHECK(torch::cuda::is_available(), NoCudaError,
            "--gpu was given but LibTorch finds no CUDA device (this LibTorch "
            "was built ", MIP_TORCH_CUDA ? "with" : "without",
            " CUDA); drop --gpu or build against a CUDA LibTorch (Torch_DIR)");
  device_ = torch::Device(torch::kCUDA);
  torch::cuda::manual_seed_all(seed_torch_);
}

void TrainingSession::open_experiment(const std::string& problem_name,
                                      const std::string& model_name) {
  dir_ = create_experiment_dir(opts_.expdir, problem_name, model_name, opts_.savetag);
  logging_add_file((fs::path(dir_) / "training.log").string());
  status_.worker = opts_.worker;
  status_.started = now_string();
  write_status(dir_, status_);
  std::string header = "# Resolved configuration of " + dir_ + "\n# from:";
  for (const auto& f : registry_.files()) header += " " + f;
  header += "\n# Rerun: " + opts_.worker + " --config <this file>\n";
  write_file_atomic((fs::path(dir_) / "training_configuration.yaml").string(),
                    header + registry_.dump());
  log_.info("Experiment folder: " + dir_);
}

void TrainingSession::log_model_summary(const sdk::Model& model,
                                        const std::string& name) {
  int64_t trainable = 0, frozen = 0;
  std::string lines;
  for (const auto& p : model.named_parameters()) {
    (p.value().requires_grad() ? trainable : frozen) += p.value().numel();
    lines += "\n  " + p.key() + " " + c10::str(p.value().sizes());
  }
  log_.info("Model " + name + ": " + std::to_string(trainable) +
            " trainable and " + std::to_string(frozen) +
            " non-trainable parameters" + lines);
}

void TrainingSession::mark(RunState state, const std::string& cause) {
  status_.state = state;
  status_.terminal_cause = cause;
  if (!dir_.empty()) write_status(dir_, status_);
}

// --- the online trainer ----------------------------------------------------------

namespace {

constexpr const char* kOnlineDefaults = R"(
training:
  terminal_conditions:
    loss_stop: 1.0e-5
    episode_limit: 100000
    epoch_limit: -1
validation:
  partial_validation_interval: 100
)";

}  // namespace

OnlineTrainer::OnlineTrainer(WorkerOptions options)
    : TrainingSession(std::move(options), kOnlineDefaults) {}

void OnlineTrainer::setup() {
  configure();
  const Component& train_c = problem_component("training");
  const Component& valid_c = problem_component("validation");
  if (registry_.has("testing.problem.name")) problem_component("testing");
  const Component& model_c = model_component();
  problem_name_ = registry_.view("training.problem")->get<std::string>("name");
  model_name_ = model_c.name;

  const auto tc = registry_.view("training.terminal_conditions");
  loss_stop_ = tc->get<double>("loss_stop");
  episode_limit_ = tc->get<int64_t>("episode_limit");
  epoch_limit_ = tc->get<int64_t>("epoch_limit");
  MIP_CHECK(episode_limit_ > 0, ConfigError,
            "[training.terminal_conditions.episode_limit] must be > 0 for the "
            "online trainer, got ", episode_limit_, " (",
            registry_.origin("training.terminal_conditions.episode_limit"), ")");
  interval_ = registry_.view("validation")->get<int64_t>("partial_validation_interval");
  MIP_CHECK(interval_ > 0, ConfigError,
            "[validation.partial_validation_interval] must be > 0 for the online "
            "trainer, got ", interval_, " (",
            registry_.origin("validation.partial_validation_interval"), ")");
  MIP_CHECK(registry_.has("training.optimizer.name"), ConfigError,
            "[training.optimizer.name] is required, e.g. Adam");

  seed("training");
  train_problem_ = build_problem(train_c, "training");
  valid_problem_ = build_problem(valid_c, "validation");
  // The problem's values (sizes) become model defaults; then every key is known.
  add_problem_values(*train_problem_, problem_name_);
  check_keys();
  model_ = build_model(model_c);
  for (const auto& [section, problem] :
       {std::pair{"training", train_problem_}, std::pair{"validation", valid_problem_}}) {
    try {
      check_handshake(problem_name_ + " (" + section + ")",
                      problem->data_definitions(), problem->prediction_definitions(),
                      model_name_, model_->input_definitions(),
                      model_->output_definitions());
    } catch (const ConfigError&) {
      throw;
    } catch (...) {
      rethrow_with_context("handshake");
    }
  }
  setup_device();
  if (registry_.has("model.load") || !opts_.model_checkpoint.empty()) {
    const std::string ckpt = !opts_.model_checkpoint.empty()
                                 ? opts_.model_checkpoint
                                 : registry_.view("model")->get<std::string>("load");
    const CheckpointMeta meta = load_checkpoint(expand_user(ckpt), *model_);
    log_.info("Loaded model " + meta.model_name + " from " + ckpt + " (episode " +
              std::to_string(meta.episode) + ", loss " + std::to_string(meta.loss) +
              ", status: " + meta.status + ")");
  }
  model_->to(device_);
  optimizer_ = make_optimizer(*registry_.view("training.optimizer"), model_->parameters());
  if (registry_.has("training.gradient_clipping")) {
    const auto root = registry_.view("training");
    // A number clips by value (MI-Prometheus); {value: v} or {norm: n}.
    try {
      clip_value_ = root->get<double>("gradient_clipping");
    } catch (const ParameterError&) {
      auto clip = registry_.view("training.gradient_clipping");
      for (const auto& k : clip->keys())
        MIP_CHECK(k == "value" || k == "norm", ConfigError,
                  "[training.gradient_clipping.", k,
                  "] is unknown; use a number, {value: v} or {norm: n}");
      clip_value_ = clip->get<double>("value", 0.0);
      clip_norm_ = clip->get<double>("norm", 0.0);
    }
  }

  train_stream_ = std::make_unique<BatchStream>(
      train_problem_, registry_.view("training.problem")->get<int64_t>("batch_size"),
      seed_data_, 0, true);
  valid_stream_ = std::make_unique<BatchStream>(
      valid_problem_, registry_.view("validation.problem")->get<int64_t>("batch_size"),
      seed_data_, 1, false);

  if (registry_.has("training.curriculum_learning")) {
    const auto cl = registry_.view("training.curriculum_learning");
    must_finish_ = cl->get<bool>("must_finish", true);
    try {
      train_problem_->curriculum_learning_initialize(*cl);
      curriculum_done_ = train_problem_->curriculum_learning_update_params(0);
    } catch (...) {
      rethrow_with_context("problem [" + problem_name_ + "] curriculum");
    }
  }

  open_experiment(problem_name_, model_name_);
  if (opts_.tensorboard)
    log_.warn("--tensorboard is not available in this version; no event files are written");
  if (opts_.visualize)
    log_.warn("--visualize is not available in this version; ignored");
  log_model_summary(*model_, model_name_);
  if (opts_.agree) {
    std::cout << registry_.dump() << "\nPress Enter to start training..." << std::flush;
    std::string line;
    std::getline(std::cin, line);
  }

  // Statistics: worker, then problem, then model (MI-Prometheus's order).
  declare_statistics(*train_problem_, train_col_, train_agg_);
  declare_statistics(*valid_problem_, valid_col_, valid_agg_);
  const fs::path d(dir_);
  train_csv_.open((d / "training_statistics.csv").string(), train_col_.csv_header(), false);
  valid_csv_.open((d / "validation_statistics.csv").string(), valid_col_.csv_header(), false);
  train_agg_csv_.open((d / "training_set_agg_statistics.csv").string(),
                      train_agg_.csv_header(), false);
  valid_agg_csv_.open((d / "validation_set_agg_statistics.csv").string(),
                      valid_agg_.csv_header(), false);
}

void TrainingSession::declare_statistics(sdk::Problem& problem,
                                         StatisticsCollector& col,
                                         StatisticsAggregator& agg) {
  col.add_statistic("loss", "{:12.10f}");
  col.add_statistic("episode", "{:06d}");
  col.add_statistic("epoch", "{:02d}");
  agg.add_aggregator("episode", "{:06d}");
  agg.add_aggregator("episodes_aggregated", "{:06d}");
  sdk::add_mean_std_aggregators(agg, "loss", "{:12.10f}");
  agg.add_aggregator("epoch", "{:02d}");
  try {
    problem.add_statistics(col);
    problem.add_aggregators(agg);
  } catch (...) {
    rethrow_with_context("problem [" + problem_name_ + "] statistics");
  }
  try {
    model_->add_statistics(col);
    model_->add_aggregators(agg);
  } catch (...) {
    rethrow_with_context("model [" + model_name_ + "] statistics");
  }
}

double TrainingSession::forward_and_collect(sdk::Problem& problem,
                                            const sdk::DataDict& batch,
                                            StatisticsCollector& col,
                                            int64_t episode, int64_t epoch,
                                            torch::Tensor* loss_out) {
  sdk::DataDict predictions;
  torch::Tensor loss;
  try {
    predictions = model_->forward(batch);
  } catch (...) {
    rethrow_with_context("model [" + model_name_ + "] forward (episode " +
                         std::to_string(episode) + ")");
  }
  try {
    loss = problem.evaluate_loss(batch, predictions);
  } catch (...) {
    rethrow_with_context("problem [" + problem_name_ + "] loss (episode " +
                         std::to_string(episode) + ")");
  }
  const double value = loss.item<double>();
  col.collect("loss", value);
  col.collect("episode", static_cast<double>(episode));
  col.collect("epoch", static_cast<double>(epoch));
  try {
    problem.collect_statistics(col, batch, predictions);
    model_->collect_statistics(col, batch, predictions);
  } catch (...) {
    rethrow_with_context("statistics (episode " + std::to_string(episode) + ")");
  }
  if (loss_out) *loss_out = loss;
  return value;
}

void TrainingSession::aggregate(const StatisticsCollector& col,
                                StatisticsAggregator& agg, sdk::Problem& problem,
                                int64_t episode) {
  if (col.count() == 0) return;
  agg.set("episode", static_cast<double>(episode));
  agg.set("episodes_aggregated", static_cast<double>(col.count()));
  sdk::aggregate_mean_std(col, agg, "loss");
  agg.set("epoch", col.values("epoch").back());
  problem.aggregate_statistics(col, agg);
  model_->aggregate_statistics(col, agg);
}

sdk::DataDict TrainingSession::next_batch(BatchStream& stream, int64_t index,
                                          const std::string& what) {
  try {
    sdk::DataDict b = stream.batch(index);
    return device_.is_cpu() ? b : b.to(device_, true);
  } catch (...) {
    rethrow_with_context("problem [" + problem_name_ + "] " + what + " batch " +
                         std::to_string(index));
  }
}

double OnlineTrainer::partial_validation(int64_t episode, int64_t epoch) {
  torch::NoGradGuard no_grad;
  model_->eval();
  valid_col_.reset();
  const double loss = forward_and_collect(*valid_problem_, validation_batch_,
                                          valid_col_, episode, epoch, nullptr);
  valid_csv_.write(valid_col_.csv_row());
  valid_csv_.flush();
  log_.info(valid_col_.line("Partial Validation"));
  return loss;
}

void OnlineTrainer::full_validation(int64_t episode, int64_t epoch) {
  torch::NoGradGuard no_grad;
  model_->eval();
  valid_col_.reset();
  const int64_t n = valid_stream_->batches_per_epoch();
  for (int64_t i = 0; i < n; ++i) {
    const sdk::DataDict b = next_batch(*valid_stream_, i, "validation");
    forward_and_collect(*valid_problem_, b, valid_col_, episode, epoch, nullptr);
  }
  aggregate(valid_col_, valid_agg_, *valid_problem_, episode);
  valid_agg_csv_.write(valid_agg_.csv_row());
  valid_agg_csv_.flush();
  log_.info(valid_agg_.line("Full Validation"));
}

CheckpointMeta OnlineTrainer::meta(int64_t episode, int64_t epoch, double loss,
                                   const std::string& status) const {
  CheckpointMeta m;
  m.model_name = model_name_;
  m.problem_name = problem_name_;
  m.episode = episode;
  m.epoch = epoch;
  m.loss = loss;
  m.status = status;
  m.timestamp = now_string();
  m.best_loss = best_loss_;
  m.best_episode = best_episode_;
  auto export_last = [](const StatisticsCollector& col) {
    std::map<std::string, std::string> out;
    for (const auto& k : col.keys())
      if (!col.values(k).empty())
        out[k] = format_statistic(col.format(k), col.values(k).back());
    return out;
  };
  m.training_stats = export_last(train_col_);
  m.validation_stats = export_last(valid_col_);
  return m;
}

void OnlineTrainer::save_best_if_better(double loss, int64_t episode, int64_t epoch,
                                        const std::string& status) {
  if (!(loss < best_loss_)) return;
  best_loss_ = loss;
  best_episode_ = episode;
  status_.best_validation_loss = loss;
  status_.best_episode = episode;
  save_checkpoint((fs::path(dir_) / "models" / "model_best.pt").string(), *model_,
                  nullptr, meta(episode, epoch, loss, status));
  if (registry_.view("model")->get<bool>("save_intermediate", false)) {
    char name[64];
    std::snprintf(name, sizeof name, "model_episode_%05lld.pt",
                  static_cast<long long>(episode));
    save_checkpoint((fs::path(dir_) / "models" / name).string(), *model_, nullptr,
                    meta(episode, epoch, loss, status));
  }
}

void OnlineTrainer::save_last(int64_t episode, int64_t epoch, double loss,
                              const std::string& status) {
  save_checkpoint((fs::path(dir_) / "models" / "model_last.pt").string(), *model_,
                  optimizer_.get(), meta(episode, epoch, loss, status));
}

int OnlineTrainer::train() {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  install_stop_handlers();
  validation_batch_ = next_batch(*valid_stream_, 0, "validation");
  const int64_t epoch_size = train_stream_->batches_per_epoch();
  log_.info("Training: " + std::to_string(epoch_size) + " episodes per epoch, episode limit " +
            std::to_string(episode_limit_) + ", partial validation every " +
            std::to_string(interval_) + " episodes");

  int64_t episode = 0, epoch = 0;
  double last_valid_loss = 0.0;
  std::string cause = "Not Converged";
  RunState end_state = RunState::kFinished;
  try {
    train_problem_->initialize_epoch(epoch);
  } catch (...) {
    rethrow_with_context("problem [" + problem_name_ + "] initialize_epoch");
  }
  std::vector<torch::Tensor> params = model_->parameters();
  for (;; ++episode) {
    if (int sig = stop_requested()) {
      cause = std::string("Interrupted by ") + (sig == SIGINT ? "SIGINT" : "SIGTERM");
      end_state = RunState::kInterrupted;
      log_.warn(cause + " at episode " + std::to_string(episode) + "; saving and stopping");
      break;
    }
    const sdk::DataDict batch = next_batch(*train_stream_, episode, "training");
    model_->train();
    optimizer_->zero_grad();
    torch::Tensor loss;
    const double loss_value =
        forward_and_collect(*train_problem_, batch, train_col_, episode, epoch, &loss);
    if (!std::isfinite(loss_value)) {
      train_csv_.write(train_col_.csv_row());
      train_csv_.flush();
      throw TrainingFailed("the training loss is " + std::to_string(loss_value) +
                           " at episode " + std::to_string(episode) +
                           "; stopped (lower the learning rate or clip gradients). "
                           "The last good checkpoints are kept.");
    }
    loss.backward();
    if (clip_value_ > 0) torch::nn::utils::clip_grad_value_(params, clip_value_);
    if (clip_norm_ > 0) torch::nn::utils::clip_grad_norm_(params, clip_norm_);
    optimizer_->step();
    train_csv_.write(train_col_.csv_row());
    if (episode % opts_.log_interval == 0) {
      train_csv_.flush();
      log_.info(train_col_.line("Training"));
    }

    bool converged = false;
    if (episode % interval_ == 0) {
      last_valid_loss = partial_validation(episode, epoch);
      save_best_if_better(last_valid_loss, episode, epoch, cause);
      status_.episode = episode;
      status_.epoch = epoch;
      write_status(dir_, status_);
      if (last_valid_loss < loss_stop_ && (curriculum_done_ || !must_finish_)) {
        converged = true;
        cause = "Converged (Partial Validation Loss went below Loss Stop threshold)";
      }
    }
    if ((episode + 1) % epoch_size == 0) {
      try {
        train_problem_->finalize_epoch(epoch);
      } catch (...) {
        rethrow_with_context("problem [" + problem_name_ + "] finalize_epoch");
      }
      aggregate(train_col_, train_agg_, *train_problem_, episode);
      train_agg_csv_.write(train_agg_.csv_row());
      train_agg_csv_.flush();
      log_.info(train_agg_.line("Full Training"));
      if (registry_.has("training.curriculum_learning")) {
        try {
          curriculum_done_ = train_problem_->curriculum_learning_update_params(episode);
        } catch (...) {
          rethrow_with_context("problem [" + problem_name_ + "] curriculum");
        }
      }
      ++epoch;
      train_col_.reset();
      if (epoch_limit_ > 0 && epoch >= epoch_limit_) {
        cause = "Not converged: Epoch Limit reached";
        break;
      }
      try {
        train_problem_->initialize_epoch(epoch);
      } catch (...) {
        rethrow_with_context("problem [" + problem_name_ + "] initialize_epoch");
      }
    }
    if (converged) break;
    if (episode + 1 >= episode_limit_) {
      cause = "Not converged: Episode Limit reached";
      break;
    }
  }
  train_csv_.flush();
  const double seconds = std::chrono::duration<double>(clock::now() - start).count();
  log_.info("Training ended after episode " + std::to_string(episode) + " (" +
            format_seconds(seconds) + "): " + cause);

  // Final partial validation (saved when best), then a full validation.
  last_valid_loss = partial_validation(episode, epoch);
  save_best_if_better(last_valid_loss, episode, epoch, cause);
  if (end_state != RunState::kInterrupted) full_validation(episode, epoch);
  status_.episode = episode;
  status_.epoch = epoch;
  save_last(episode, epoch, last_valid_loss, cause);
  // model_best.pt records the final status too (as MI-Prometheus does).
  const std::string best_path = (fs::path(dir_) / "models" / "model_best.pt").string();
  if (fs::exists(best_path)) {
    CheckpointMeta best = load_checkpoint(best_path, *model_);
    best.status = cause;
    best.timestamp = now_string();
    save_checkpoint(best_path, *model_, nullptr, best);
  }
  mark(end_state, cause);
  log_.info("Experiment folder: " + dir_);
  return end_state == RunState::kInterrupted ? kExitInterrupted : kExitOk;
}

// --- entry points --------------------------------------------------------------

int run_worker(const std::function<int()>& body, TrainingSession* session,
               const std::string& worker) {
  Logger& log = logger(worker);
  auto fail = [&](int code, const std::string& what) {
    log.error(what);
    if (session) session->mark(RunState::kFailed, what);
    logging_flush();
    return code;
  };
  try {
    return body();
  } catch (const NoCudaError& e) {
    return fail(kExitNoCuda, e.what());
  } catch (const PluginLoadError& e) {
    return fail(kExitPlugin, e.what());
  } catch (const ConfigError& e) {
    return fail(kExitConfig, e.what());
  } catch (const Error& e) {
    return fail(kExitFailed, e.what());
  } catch (const c10::Error& e) {
    return fail(kExitFailed, std::string("LibTorch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail(kExitFailed, e.what());
  }
}

int run_online_trainer(int argc, char** argv) {
  const std::string worker = "mip-online-trainer";
  std::optional<WorkerOptions> opts;
  try {
    opts = parse_worker_options(
        argc, argv, worker,
        "Trains a model on a problem episode by episode (data generated on the "
        "fly), validating on a fixed batch every partial_validation_interval "
        "episodes and on the whole validation set at the end.");
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    return kExitUsage;
  }
  if (!opts) return kExitOk;
  OnlineTrainer trainer(*opts);
  return run_worker(
      [&] {
        trainer.setup();
        return trainer.train();
      },
      &trainer, worker);
}

}  // namespace mip
