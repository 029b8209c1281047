#pragma once

// The run: what a worker builds from its configuration (the parameter
// registry, the plugins, the problem and model components, seeds, device),
// the errors that end a run, and the mapping of errors to exit codes.

#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <mip/core/logging.hpp>
#include <mip/core/plugin_loader.hpp>
#include <mip/core/registry.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/error.hpp>

namespace mip::sdk {
class Problem;
class Model;
}  // namespace mip::sdk

namespace mip {

struct Section;

/// --gpu without CUDA.
class NoCudaError : public Error {
 public:
  using Error::Error;
};

/// Training cannot go on (NaN loss, ...).
class TrainingFailed : public Error {
 public:
  using Error::Error;
};

/// --agree answered with anything but Enter, y or yes (or no answer):
/// nothing was created.
class NotConfirmed : public Error {
 public:
  using Error::Error;
};

/// Runs plugin code, naming the component when it throws. `who` is a string,
/// or a callable making one (built only on error: the hot path formats
/// nothing).
template <typename W, typename F>
auto with_context(W&& who, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    if constexpr (std::is_invocable_v<W>)
      rethrow_with_context(who());
    else
      rethrow_with_context(who);
  }
}

/// The defaults YAML of a worker's own keys (core/defaults/<worker>.yml,
/// embedded in the library): its defaults, and the keys it knows.
const std::string& worker_defaults(const std::string& worker);

/// A component the run uses, and the key that named it.
struct UsedComponent {
  std::string key;  ///< "training.problem.name", "model.name"
  Component component;
};

/// What a worker builds from the configuration, in the order it needs it:
/// configure(), the components, build_problem(), build_model(), the device.
class Run {
 public:
  explicit Run(WorkerOptions options);
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  /// Loads the files, the overrides and the worker's defaults; finds the
  /// plugins.
  void configure(const std::vector<std::string>& files);
  const Component& problem_component(const std::string& section);
  const Component& model_component();
  /// Unknown keys are errors (warnings with --lenient); model keys are only
  /// checked once `model_known`.
  void check_unknown_keys(bool model_known);
  /// Builds the problem of `section` (the first one names the run).
  std::shared_ptr<sdk::Problem> build_problem(const Component& c,
                                              const std::string& section);
  /// Adds the problem's default values (sizes) as defaults of `model`.
  void add_problem_values(const sdk::Problem& problem);
  void build_model(const Component& c);
  /// The handshake: the problem's data against the model's inputs/outputs.
  void check_problem_fits_model(const sdk::Problem& problem,
                                const std::string& section);
  /// Reads (or draws, or takes --seed for) `section`'s seeds and seeds torch.
  void seed(const std::string& section);
  /// Data-parallel ranks: every seed seed() settles goes through `agree`
  /// (rank 0's value wins); the CUDA device is `device_index`.
  void set_rank(std::function<int64_t(int64_t)> agree, int device_index);
  void setup_device();
  void log_model_summary();
  /// --agree: prints the resolved configuration on stdout and asks whether
  /// to `action` ("create the experiment folder ..."); returns on Enter, y
  /// or yes, else throws NotConfirmed (EOF, another answer, a stop signal).
  void confirm(const std::string& action) const;
  /// --dry-run: the resolved configuration as it stands, with a header.
  std::string dry_run_configuration() const;
  /// --dry-run's end: prints `configuration` on stdout and logs that nothing
  /// was written; returns kExitOk.
  int end_dry_run(const std::string& configuration) const;

  const WorkerOptions& options() const { return opts_; }
  ParamRegistry& registry() { return registry_; }
  const ParamRegistry& registry() const { return registry_; }
  Logger& log() const { return log_; }
  sdk::Model& model() const { return *model_; }
  const c10::Device& device() const { return device_; }
  uint64_t data_seed() const { return seed_data_; }
  /// The registered name of the training problem (it names the run, even
  /// when the configuration used an alias).
  const std::string& problem_name() const { return problem_name_; }
  /// The configured name of `section`'s problem.
  std::string section_problem_name(const std::string& section) const;
  const std::string& model_name() const { return model_name_; }
  /// The components found so far (problems per section, the model), in the
  /// order they were looked up.
  const std::vector<UsedComponent>& components() const { return used_; }

 private:
  void log_plugin_warnings();
  /// Logs that the configuration's `key` named component `c` by an alias.
  void note_alias(const std::string& key,
                  const std::string& name,
                  const Component& c);

  WorkerOptions opts_;
  Logger& log_;
  ParamRegistry registry_;
  std::unique_ptr<PluginLoader> loader_;
  uint64_t seed_torch_ = 0;
  uint64_t seed_data_ = 0;
  c10::Device device_{c10::kCPU};
  std::string problem_name_;
  std::string model_name_;
  std::shared_ptr<sdk::Model> model_;
  bool warned_plugins_ = false;
  std::function<int64_t(int64_t)> agree_seed_;
  int device_index_ = -1;
  std::vector<UsedComponent> used_;
};

/// --dry-run: batch `index` of `section` through the model and the loss,
/// with a backward pass when `backward` (no optimizer step: the weights stay
/// as they are); the gradients are cleared after. Logs the loss.
void dry_run_batch(Run& run, Section& section, int64_t index, bool backward);

/// The path of the BLAS library LibTorch runs on, and a warning when it is
/// the slow reference BLAS or OpenBLAS's pthread build ("" when fine).
std::string blas_warning();

/// Runs a worker body, mapping errors to exit codes and logging them;
/// `failed` is told the error (to mark the experiment failed; what was
/// written stays).
int run_worker(const std::function<int()>& body,
               const std::function<void(const std::string&)>& failed,
               const std::string& worker);

}  // namespace mip
