// What every worker shares: configuration, plugins, components, seeds,
// device, statistics plumbing, signals, error handling.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <random>

#include <mip/core/files.hpp>
#include <mip/core/handshake.hpp>
#include <mip/core/training.hpp>
#include <mip/sdk/build_config.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/problem.hpp>

namespace fs = std::filesystem;

namespace mip {

// --- signals
// -------------------------------------------------------------------

namespace {
std::atomic<int> g_stop_signal{0};
extern "C" void mip_on_stop_signal(int sig) {
  g_stop_signal.store(sig);
  std::signal(sig, SIG_DFL);  // a second Ctrl-C stops at once
}
}  // namespace

void install_stop_handlers() {
  g_stop_signal.store(0);
  std::signal(SIGINT, mip_on_stop_signal);
  std::signal(SIGTERM, mip_on_stop_signal);
}

int stop_requested() {
  return g_stop_signal.load();
}

// --- configuration
// -------------------------------------------------------------

namespace {

/// Keys the workers read; component keys come from the manifests.
constexpr const char* kFrameworkKeys[] = {
    "default_configs",
    "plugin_paths",
    "model",
    "model.name",
    "model.load",
    "model.save_intermediate",
    "training",
    "validation",
    "testing",
    "training.optimizer",
    "training.optimizer.name",
    "training.scheduler",
    "training.scheduler.name",
    "training.terminal_conditions",
    "training.terminal_conditions.loss_stop",
    "training.terminal_conditions.episode_limit",
    "training.terminal_conditions.epoch_limit",
    "training.terminal_conditions.early_stop_validations",
    "training.terminal_conditions.early_stop_delta",
    "validation.partial_validation_interval",
    "testing.problem.max_test_episodes",
};

/// Sections whose keys are checked where they are used (optimizer arguments,
/// sampler and dataloader options MI-Prometheus passed to PyTorch).
constexpr const char* kOpenSections[] = {
    "training.optimizer",         "training.scheduler",
    "training.gradient_clipping", "training.curriculum_learning",
    "testing.multi_tests",
};

constexpr const char* kSections[] = {"training", "validation", "testing"};

}  // namespace

Session::Session(WorkerOptions options, std::string defaults_yaml)
    : opts_(std::move(options)),
      worker_defaults_(std::move(defaults_yaml)),
      log_(logger(opts_.worker)) {}

Session::~Session() = default;

void Session::configure(const std::vector<std::string>& files) {
  logging_set_console_level(parse_log_level(opts_.log_level));
  MIP_CHECK(!files.empty(), ConfigError, opts_.worker,
            ": no configuration given; pass --config experiment.yaml");
  if (opts_.threads)
    torch::set_num_threads(*opts_.threads);
  static const std::string blas = blas_warning();  // once per process
  if (!blas.empty())
    log_.warn(blas);
  registry_.load_files(files);
  for (const auto& w : registry_.warnings())
    log_.warn(w);
  for (const auto& s : opts_.sets)
    registry_.apply_override(s);
  registry_.add_defaults("", worker_defaults_, "defaults of " + opts_.worker);
  for (const char* k : kFrameworkKeys)
    registry_.declare_known(k);
  for (const char* k : kOpenSections)
    registry_.declare_known(k, /*open=*/true);
  for (const char* s : kSections) {
    const std::string sec(s);
    for (const char* k : {"problem", "problem.name", "problem.batch_size",
                          "seed_numpy", "seed_torch"})
      registry_.declare_known(sec + "." + k);
    for (const char* k : {"dataloader", "sampler"})
      registry_.declare_known(sec + "." + k, /*open=*/true);
  }
  std::vector<std::string> config_plugin_paths;
  if (registry_.has("plugin_paths"))
    config_plugin_paths =
        registry_.view("")->get<std::vector<std::string>>("plugin_paths");
  loader_ = std::make_unique<PluginLoader>(
      PluginLoader::search_path(opts_.plugin_paths, config_plugin_paths));
  loader_->allow_insecure(opts_.allow_insecure_plugin_dir);
}

const Component& Session::problem_component(const std::string& section) {
  const std::string key = section + ".problem.name";
  MIP_CHECK(registry_.has(key), ConfigError, "[", key,
            "] is required: name the problem class, e.g. "
            "SerialRecallCommandLines (mip-plugins list shows them)");
  const std::string name =
      registry_.view(section + ".problem")->get<std::string>("name");
  const Component& c = guarded(
      "[" + key + "] (" + registry_.origin(key) + ")", [&]() -> auto& {
        return loader_->find(sdk::ComponentKind::kProblem,
                             fs::path(name).filename().string());
      });
  registry_.add_defaults(
      section + ".problem", c.defaults_yaml,
      "defaults of " + c.name + " (" + c.library->path + ")");
  log_plugin_warnings();
  log_.debug("Problem " + c.name + " (" + section + ") from " +
             c.library->path);
  return c;
}

const Component& Session::model_component() {
  MIP_CHECK(registry_.has("model.name"), ConfigError,
            "[model.name] is required: name the model class, e.g. LSTM "
            "(mip-plugins list shows them)");
  const std::string name = registry_.view("model")->get<std::string>("name");
  const Component& c = guarded(
      "[model.name] (" + registry_.origin("model.name") + ")", [&]() -> auto& {
        return loader_->find(sdk::ComponentKind::kModel, name);
      });
  registry_.add_defaults(
      "model", c.defaults_yaml,
      "defaults of " + c.name + " (" + c.library->path + ")");
  log_.info("Model " + c.name + " from " + c.library->path);
  return c;
}

void Session::log_plugin_warnings() {
  if (warned_plugins_)
    return;
  warned_plugins_ = true;
  for (const auto& w : loader_->warnings())
    log_.warn("plugins: " + w);
}

void Session::check_keys(bool model_known) {
  auto issues = registry_.unknown_keys();
  if (!model_known)  // the model's keys are known once the problem gave its
                     // values
    issues.erase(std::remove_if(issues.begin(), issues.end(),
                                [](const KeyIssue& i) {
                                  return i.path.rfind("model.", 0) == 0;
                                }),
                 issues.end());
  if (issues.empty())
    return;
  std::string msg;
  for (const auto& i : issues)
    msg += "\n  " + i.to_string();
  if (opts_.lenient) {
    log_.warn("unknown configuration keys (ignored because of --lenient):" +
              msg);
    return;
  }
  throw ConfigError(
      "unknown configuration keys:" + msg +
      "\n  fix them, or pass --lenient to only warn (MI-Prometheus "
      "ignored such keys silently)");
}

std::shared_ptr<sdk::Problem> Session::build_problem(
    const Component& c, const std::string& section) {
  ComponentContext ctx(registry_.view(section + ".problem"), logger(c.name));
  return loader_->create_problem(c, ctx);
}

void Session::add_problem_values(const sdk::Problem& problem,
                                 const std::string& problem_name) {
  const auto values = guarded("problem [" + problem_name + "]",
                              [&] { return problem.default_values(); });
  for (const auto& [k, v] : values)
    registry_.add_default_number("model." + k, v,
                                 "default value of problem " + problem_name);
}

std::shared_ptr<sdk::Model> Session::build_model(const Component& c) {
  ComponentContext ctx(registry_.view("model"), logger(c.name));
  return loader_->create_model(c, ctx);
}

void Session::check_fit(const sdk::Problem& problem,
                        const std::string& section) {
  sdk::DataDefinitions data, needs, inputs, outputs;
  guarded("problem [" + problem_name_ + "] data definitions", [&] {
    data = problem.data_definitions();
    needs = problem.prediction_definitions();
  });
  guarded("model [" + model_name_ + "] data definitions", [&] {
    inputs = model_->input_definitions();
    outputs = model_->output_definitions();
  });
  check_handshake(problem_name_ + " (" + section + ")", data, needs,
                  model_name_, inputs, outputs);
}

void Session::seed(const std::string& section) {
  for (const char* k : {"seed_torch", "seed_numpy"}) {
    const std::string key = section + "." + k;
    int64_t value =
        registry_.has(key) ? registry_.view(section)->get<int64_t>(k) : -1;
    if (opts_.seed)
      value = *opts_.seed;
    if (value < 0) {
      std::random_device rd;
      value = static_cast<int64_t>(rd());  // [0, 2^32), as MI-Prometheus
    }
    registry_.set_value(key, std::to_string(value),
                        opts_.seed ? "--seed" : "drawn at start");
    (std::string(k) == "seed_torch" ? seed_torch_ : seed_data_) =
        static_cast<uint64_t>(value);
  }
  torch::manual_seed(seed_torch_);
}

void Session::setup_device() {
  if (!opts_.gpu) {
    log_.info("GPU flag is disabled, using CPU.");
    return;
  }
  MIP_CHECK(torch::cuda::is_available(), NoCudaError,
            "--gpu was given but LibTorch finds no CUDA device (this LibTorch "
            "was built ",
            MIP_TORCH_CUDA ? "with" : "without",
            " CUDA); drop --gpu or build against a CUDA LibTorch (Torch_DIR)");
  device_ = torch::Device(torch::kCUDA);
  torch::cuda::manual_seed_all(seed_torch_);
}

void Session::log_model_summary() {
  int64_t trainable = 0, frozen = 0;
  std::string lines;
  for (const auto& p : model_->named_parameters()) {
    (p.value().requires_grad() ? trainable : frozen) += p.value().numel();
    lines += "\n  " + p.key() + " " + c10::str(p.value().sizes());
  }
  log_.info("Model " + model_name_ + ": " + std::to_string(trainable) +
            " trainable and " + std::to_string(frozen) +
            " non-trainable parameters" + lines);
}

void Session::mark(RunState state, const std::string& cause) {
  status_.state = state;
  status_.terminal_cause = cause;
  if (started_)
    write_status(dir_, status_);
}

// --- statistics
// ------------------------------------------------------------------

void Session::declare_statistics(sdk::Problem& problem,
                                 StatisticsSet& stats,
                                 bool with_epoch) {
  stats.col.add_statistic("loss", "{:12.10f}");
  stats.col.add_statistic("episode", "{:06d}");
  if (with_epoch)
    stats.col.add_statistic("epoch", "{:02d}");
  stats.agg.add_aggregator("episode", "{:06d}");
  stats.agg.add_aggregator("episodes_aggregated", "{:06d}");
  sdk::add_mean_std_aggregators(stats.agg, "loss", "{:12.10f}");
  if (with_epoch)
    stats.agg.add_aggregator("epoch", "{:02d}");
  guarded("problem [" + problem_name_ + "] statistics", [&] {
    problem.add_statistics(stats.col);
    problem.add_aggregators(stats.agg);
  });
  guarded("model [" + model_name_ + "] statistics", [&] {
    model_->add_statistics(stats.col);
    model_->add_aggregators(stats.agg);
  });
}

double Session::forward_and_collect(sdk::Problem& problem,
                                    const sdk::DataDict& batch,
                                    StatisticsCollector& col,
                                    int64_t episode,
                                    int64_t epoch,
                                    torch::Tensor* loss_out) {
  const auto at = [episode] {
    return " (episode " + std::to_string(episode) + ")";
  };
  const sdk::DataDict predictions =
      guarded([&] { return "model [" + model_name_ + "] forward" + at(); },
              [&] { return model_->forward(batch); });
  const torch::Tensor loss =
      guarded([&] { return "problem [" + problem_name_ + "] loss" + at(); },
              [&] { return problem.evaluate_loss(batch, predictions); });
  const double value = loss.item<double>();
  col.collect("loss", value);
  col.collect("episode", static_cast<double>(episode));
  if (col.declared("epoch"))
    col.collect("epoch", static_cast<double>(epoch));
  guarded([&] { return "statistics" + at(); },
          [&] {
            problem.collect_statistics(col, batch, predictions);
            model_->collect_statistics(col, batch, predictions);
          });
  if (loss_out)
    *loss_out = loss;
  return value;
}

void Session::aggregate(const StatisticsCollector& col,
                        StatisticsAggregator& agg,
                        sdk::Problem& problem,
                        int64_t episode) {
  if (col.count() == 0)
    return;
  agg.set("episode", static_cast<double>(episode));
  agg.set("episodes_aggregated", static_cast<double>(col.count()));
  sdk::aggregate_mean_std(col, agg, "loss");
  if (agg.declared("epoch"))
    agg.set("epoch", col.values("epoch").back());
  guarded("statistics", [&] {
    problem.aggregate_statistics(col, agg);
    model_->aggregate_statistics(col, agg);
  });
}

sdk::DataDict Session::next_batch(BatchPrefetcher& batches,
                                  int64_t index,
                                  const std::string& what) {
  sdk::DataDict b = guarded(
      [&] {
        return "problem [" + problem_name_ + "] " + what + " batch " +
               std::to_string(index);
      },
      [&] { return batches.take(index); });
  return device_.is_cpu() ? b : b.to(device_, true);
}

void truncate_csv_after(const std::string& path, int64_t last_episode) {
  if (!fs::exists(path))
    return;
  std::stringstream in(read_text_file(path));
  std::string line, out;
  if (!std::getline(in, line))
    return;
  out = line + "\n";
  size_t column = std::string::npos, i = 0;
  std::stringstream header(line);
  std::string cell;
  while (std::getline(header, cell, ',')) {
    if (cell == "episode")
      column = i;
    ++i;
  }
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    std::stringstream row(line);
    int64_t episode = -1;
    for (size_t j = 0; std::getline(row, cell, ','); ++j) {
      if (j == column) {
        try {
          episode = std::stoll(cell);
        } catch (const std::exception&) {
          episode = -1;
        }
      }
    }
    if (column == std::string::npos ||
        (episode >= 0 && episode <= last_episode))
      out += line + "\n";
  }
  write_file_atomic(path, out);
}

// --- entry
// ---------------------------------------------------------------------

int run_worker(const std::function<int()>& body,
               Session* session,
               const std::string& worker) {
  Logger& log = logger(worker);
  auto fail = [&](int code, const std::string& what) {
    log.error(what);
    if (session)
      session->mark(RunState::kFailed, what);
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
    return fail(kExitFailed,
                std::string("LibTorch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail(kExitFailed, e.what());
  }
}

}  // namespace mip
