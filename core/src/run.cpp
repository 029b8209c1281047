// The run: configuration, plugins, components, seeds and device of a worker;
// the worker's own keys (embedded defaults); errors mapped to exit codes.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>

#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <mip/core/episode.hpp>
#include <mip/core/handshake.hpp>
#include <mip/core/run.hpp>
#include <mip/core/signals.hpp>
#include <mip/core/text.hpp>
#include <mip/core/versions.hpp>
#include <mip/sdk/build_config.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/problem.hpp>

namespace fs = std::filesystem;

namespace mip {

// --- configuration
// -------------------------------------------------------------

namespace {

/// Declares every key of a worker's defaults file as known (a map tagged
/// !open accepts any key below it) and returns the values without the keys
/// that have none (~), as YAML to add as defaults.
YAML::Node declare_defaults(const YAML::Node& node,
                            const std::string& path,
                            ParamRegistry& registry) {
  YAML::Node values;
  if (!node.IsMap())
    return values;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const std::string child = path.empty() ? key : path + "." + key;
    const YAML::Node& v = kv.second;
    registry.declare_known(child, /*open=*/v.Tag() == "!open");
    if (v.IsMap()) {
      YAML::Node sub = declare_defaults(v, child, registry);
      if (sub.size() > 0)
        values[key] = sub;
    } else if (v.IsDefined() && !v.IsNull() && v.Scalar() != "~") {
      values[key] = YAML::Clone(v);
      values[key].SetTag("");
    }
  }
  return values;
}

}  // namespace

Run::Run(WorkerOptions options)
    : opts_(std::move(options)), log_(logger(opts_.worker)) {}

Run::~Run() = default;

void Run::configure(const std::vector<std::string>& files) {
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
  for (const std::string& name : {opts_.worker, std::string("common")}) {
    const YAML::Node values =
        declare_defaults(YAML::Load(worker_defaults(name)), "", registry_);
    if (values.size() == 0)
      continue;
    YAML::Emitter out;
    out << values;
    registry_.add_defaults(
        "", out.c_str(), "defaults of " + opts_.worker + " (" + name + ".yml)");
  }
  std::vector<std::string> config_plugin_paths;
  if (registry_.has("plugin_paths"))
    config_plugin_paths =
        registry_.view("")->get<std::vector<std::string>>("plugin_paths");
  loader_ = std::make_unique<PluginLoader>(
      PluginLoader::search_path(opts_.plugin_paths, config_plugin_paths));
  loader_->allow_insecure(opts_.allow_insecure_plugin_dir);
}

const Component& Run::problem_component(const std::string& section) {
  const std::string key = section + ".problem.name";
  MIP_CHECK(registry_.has(key), ConfigError, "[", key,
            "] is required: name the problem class, e.g. "
            "SerialRecallCommandLines (mip-plugins list shows them)");
  const std::string name =
      fs::path(registry_.view(section + ".problem")->get<std::string>("name"))
          .filename()
          .string();
  const Component& c = with_context(
      "[" + key + "] (" + registry_.origin(key) + ")", [&]() -> auto& {
        return loader_->find(sdk::ComponentKind::kProblem, name);
      });
  note_alias(key, name, c);
  used_.push_back({key, c});
  registry_.add_defaults(
      section + ".problem", c.defaults_yaml,
      "defaults of " + c.name + " (" + c.library->path + ")");
  log_plugin_warnings();
  log_.info("Problem " + c.name + " (" + section + ") from " + c.library->path);
  return c;
}

const Component& Run::model_component() {
  MIP_CHECK(registry_.has("model.name"), ConfigError,
            "[model.name] is required: name the model class, e.g. LSTM "
            "(mip-plugins list shows them)");
  const std::string name = registry_.view("model")->get<std::string>("name");
  const Component& c = with_context(
      "[model.name] (" + registry_.origin("model.name") + ")", [&]() -> auto& {
        return loader_->find(sdk::ComponentKind::kModel, name);
      });
  note_alias("model.name", name, c);
  used_.push_back({"model.name", c});
  registry_.add_defaults(
      "model", c.defaults_yaml,
      "defaults of " + c.name + " (" + c.library->path + ")");
  log_plugin_warnings();
  log_.info("Model " + c.name + " from " + c.library->path);
  return c;
}

void Run::note_alias(const std::string& key,
                     const std::string& name,
                     const Component& c) {
  if (name != c.name)
    log_.info(key + ": [" + name + "] is an alias of [" + c.name + "]");
}

void Run::log_plugin_warnings() {
  if (warned_plugins_)
    return;
  warned_plugins_ = true;
  for (const auto& w : loader_->warnings())
    log_.warn("plugins: " + w);
  // A refused library may have been the one meant: a component of the same
  // name from a later folder would then run in its place.
  for (const auto& f : loader_->failures())
    log_.warn("plugins: not loaded, its components are not available: " +
              f.reason);
}

void Run::check_unknown_keys(bool model_known) {
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

std::shared_ptr<sdk::Problem> Run::build_problem(const Component& c,
                                                 const std::string& section) {
  // The canonical name, whatever alias the configuration used: one task,
  // one experiment folder (as the model's).
  if (problem_name_.empty())
    problem_name_ = c.name;
  ComponentContext ctx(registry_.view(section + ".problem"), logger(c.name));
  return loader_->create_problem(c, ctx);
}

std::string Run::section_problem_name(const std::string& section) const {
  return registry_.view(section + ".problem")->get<std::string>("name");
}

void Run::add_problem_values(const sdk::Problem& problem) {
  const auto values = with_context("problem [" + problem_name_ + "]",
                                   [&] { return problem.default_values(); });
  for (const auto& [k, v] : values)
    registry_.add_default_number("model." + k, v,
                                 "default value of problem " + problem_name_);
}

void Run::build_model(const Component& c) {
  model_name_ = c.name;
  ComponentContext ctx(registry_.view("model"), logger(c.name));
  model_ = loader_->create_model(c, ctx);
}

void Run::check_problem_fits_model(const sdk::Problem& problem,
                                   const std::string& section) {
  // This section's own problem: validation may use another than training.
  const std::string name = section_problem_name(section);
  sdk::DataDefinitions data, needs, inputs, outputs;
  with_context("problem [" + name + "] data definitions", [&] {
    data = problem.data_definitions();
    needs = problem.prediction_definitions();
  });
  with_context("model [" + model_name_ + "] data definitions", [&] {
    inputs = model_->input_definitions();
    outputs = model_->output_definitions();
  });
  check_handshake(name + " (" + section + ")", data, needs, model_name_, inputs,
                  outputs);
}

void Run::seed(const std::string& section) {
  for (const char* k : {"seed_torch", "seed_numpy"}) {
    const std::string key = section + "." + k;
    int64_t value =
        registry_.has(key) ? registry_.view(section)->get<int64_t>(k) : -1;
    if (opts_.seed)
      value = *opts_.seed;
    MIP_CHECK(value >= -1, ConfigError, "[", key, "] (", registry_.origin(key),
              ") must be >= 0, or -1 to draw one at random; got ", value);
    if (value < 0) {
      std::random_device rd;
      value = static_cast<int64_t>(rd());  // [0, 2^32), as MI-Prometheus
    }
    if (agree_seed_)
      value = agree_seed_(value);
    registry_.set_value(key, std::to_string(value),
                        opts_.seed ? "--seed" : "drawn at start");
    (std::string(k) == "seed_torch" ? seed_torch_ : seed_data_) =
        static_cast<uint64_t>(value);
  }
  torch::manual_seed(seed_torch_);
}

void Run::set_rank(std::function<int64_t(int64_t)> agree, int device_index) {
  agree_seed_ = std::move(agree);
  device_index_ = device_index;
}

void Run::setup_device() {
  if (!opts_.gpu) {
    log_.info("GPU flag is disabled, using CPU.");
    return;
  }
  MIP_CHECK(torch::cuda::is_available(), NoCudaError,
            "--gpu was given but LibTorch finds no CUDA device (this LibTorch "
            "was built ",
            MIP_TORCH_CUDA ? "with" : "without", " CUDA; CUDA_VISIBLE_DEVICES ",
            std::getenv("CUDA_VISIBLE_DEVICES")
                ? "[" + std::string(std::getenv("CUDA_VISIBLE_DEVICES")) + "]"
                : std::string("unset"),
            "); drop --gpu or build against a CUDA LibTorch (Torch_DIR)");
  device_ =
      torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device_index_));
  torch::cuda::manual_seed_all(seed_torch_);
}

void Run::log_model_summary() {
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

namespace {

/// One line typed on stdin, without its newline; nullopt at the end of
/// input. A stop signal (Ctrl-C) while waiting is NotConfirmed.
std::optional<std::string> read_answer() {
  std::string line;
  for (;;) {
    if (const int sig = stop_requested())
      throw NotConfirmed(std::string("--agree: stopped by ") +
                         signal_name(sig) +
                         " at the prompt; nothing was created");
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int ready = ::poll(&p, 1, 200);  // the stop flag is polled too
    if (ready == 0 || (ready < 0 && errno == EINTR))
      continue;
    char c = 0;
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return line.empty() ? std::nullopt : std::optional<std::string>(line);
    if (c == '\n')
      return line;
    if (line.size() < 256)
      line += c;
  }
}

}  // namespace

void Run::confirm(const std::string& action) const {
  std::cout << "# Resolved configuration (" << opts_.worker << ")\n"
            << registry_.dump() << "\nStart: " << action << "? [Y/n] "
            << std::flush;
  const std::optional<std::string> answer = read_answer();
  MIP_CHECK(answer, NotConfirmed,
            "--agree: no answer (stdin ended); nothing was created. Answer "
            "on a terminal, pipe one in (echo y | ",
            opts_.worker, " ...), or drop --agree for unattended runs");
  std::string a = trim(*answer);
  std::transform(a.begin(), a.end(), a.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  MIP_CHECK(a.empty() || a == "y" || a == "yes", NotConfirmed,
            "--agree: answered [", trim(*answer),
            "]; nothing was created (Enter, y or yes starts)");
  log_.info("--agree: confirmed");
}

std::string Run::dry_run_configuration() const {
  std::string text = "# Resolved configuration (" + opts_.worker +
                     " --dry-run; nothing was written)\n# from:";
  for (const auto& f : registry_.files())
    text += " " + f;
  return text + "\n" + registry_.dump();
}

int Run::end_dry_run(const std::string& configuration) const {
  std::cout << configuration << std::flush;
  log_.info(
      "Dry run: the configuration resolves, the plugins load, the problem "
      "fits the model and the first batch runs; nothing was written");
  return kExitOk;
}

void dry_run_batch(Run& run, Section& section, int64_t index, bool backward) {
  const sdk::DataDict batch = section.batch(run, index);
  std::optional<torch::NoGradGuard> no_grad;
  if (!backward)
    no_grad.emplace();
  backward ? run.model().train() : run.model().eval();
  torch::Tensor loss;
  const double value = section.evaluate(run, batch, index, 0, &loss);
  if (backward) {
    with_context("backward pass of the " + section.name + " loss",
                 [&] { loss.backward(); });
    for (auto& p : run.model().parameters())
      if (p.grad().defined())
        p.mutable_grad() = torch::Tensor();
  }
  run.log().info(
      "Dry run: " + section.name + " batch " + std::to_string(index) +
      ": loss " + std::to_string(value) +
      (backward ? " (forward and backward, no optimizer step)" : " (forward)"));
}

std::string blas_warning() {
  const std::string name = blas_library_path();
  if (name.empty())
    return "";
  if (name.find("/blas/libblas.so") != std::string::npos)
    return "LibTorch runs on the reference BLAS (" + name +
           "), several times slower than OpenBLAS; install it with: sudo apt "
           "install "
           "libopenblas0-openmp";
  if (name.find("pthread") == std::string::npos)
    return "";
  const std::string problem = "LibTorch runs on OpenBLAS's pthread build (" +
                              name +
                              "), whose threads fight LibTorch's OpenMP "
                              "threads; ";
  // .../<multiarch>/openblas-pthread/libblas.so.3: the OpenMP build sits
  // beside it when installed, and is then only a choice of alternative.
  const std::filesystem::path lib(name);
  const std::filesystem::path multiarch = lib.parent_path().parent_path();
  const std::filesystem::path openmp =
      multiarch / "openblas-openmp" / lib.filename();
  std::error_code ec;
  if (!std::filesystem::exists(openmp, ec))
    return problem +
           "install the OpenMP build: sudo apt install "
           "libopenblas0-openmp";
  const std::string arch = multiarch.filename().string();
  return problem +
         "the OpenMP build is installed but not chosen; choose it: "
         "sudo update-alternatives --set libblas.so.3-" +
         arch + " " + openmp.string() +
         " && sudo update-alternatives --set liblapack.so.3-" + arch + " " +
         (multiarch / "openblas-openmp" / "liblapack.so.3").string();
}

// --- entry
// ---------------------------------------------------------------------

int run_worker(const std::function<int()>& body,
               const std::function<void(const std::string&)>& failed,
               const std::string& worker) {
  Logger& log = logger(worker);
  // Nothing here may throw again (a full disk fails the status write too):
  // an exception out of a catch block would end in std::terminate.
  auto fail = [&](int code, const std::string& what) {
    log.error(what);
    if (failed) {
      try {
        failed(what);
      } catch (const std::exception& e) {
        log.warn(std::string("while ending the failed run: ") + e.what());
      } catch (...) {
        log.warn("while ending the failed run: an unknown error");
      }
    }
    logging_flush();
    return code;
  };
  install_stop_handlers();
  try {
    return body();
  } catch (const NotConfirmed& e) {
    log.warn(e.what());  // the user's answer, not a failure
    logging_flush();
    return kExitNotConfirmed;
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
  } catch (...) {
    return fail(kExitFailed, "an unknown exception (not std::exception)");
  }
}

}  // namespace mip
