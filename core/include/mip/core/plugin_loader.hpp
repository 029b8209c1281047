#pragma once

#include <memory>
#include <string>
#include <vector>

#include <mip/sdk/context.hpp>
#include <mip/sdk/manifest.hpp>

namespace mip::sdk {
class Problem;
class Model;
}  // namespace mip::sdk

namespace mip {

/// The Context a component's constructor receives: its parameter section and
/// a log.
class ComponentContext final : public sdk::Context {
 public:
  ComponentContext(std::unique_ptr<sdk::ParamView> params, sdk::Logger& log)
      : params_(std::move(params)), log_(log) {}
  const sdk::ParamView& params() const override { return *params_; }
  sdk::Logger& logger() override { return log_; }

 private:
  std::unique_ptr<sdk::ParamView> params_;
  sdk::Logger& log_;
};

/// One opened plugin library and its checked manifest.
struct PluginLibrary {
  std::string path;
  const sdk::Manifest* manifest = nullptr;
  std::shared_ptr<void> handle;  ///< keeps the library mapped
};

/// One component a plugin provides.
struct Component {
  sdk::ComponentKind kind;
  std::string name;
  std::vector<std::string> aliases;
  std::string description;
  std::string defaults_yaml;
  std::shared_ptr<PluginLibrary> library;
  const sdk::ComponentInfo* info = nullptr;
};

/// A library that could not be used, and why.
struct PluginFailure {
  std::string path;
  std::string reason;
};

const char* to_string(sdk::ComponentKind kind);

/// Finds, checks and loads plugin libraries (docs/architecture.md §2).
class PluginLoader {
 public:
  /// Search order: `cli_paths`, `config_paths`, $MIP_PLUGIN_PATH, then
  /// <exe>/../lib/mip/plugins (the build tree's plugin folder when run from
  /// the build tree, <prefix>/lib/mip/plugins once installed), then the
  /// configured install prefix's.
  static std::vector<std::string> search_path(
      const std::vector<std::string>& cli_paths,
      const std::vector<std::string>& config_paths);

  explicit PluginLoader(std::vector<std::string> folders);

  /// Loads from folders and libraries any user may write to (refused by
  /// default: loading a library runs its code).
  void allow_insecure(bool allow) { allow_insecure_ = allow; }
  /// Why `path` (folder or library) is unsafe to load from, or "".
  static std::string insecure_reason(const std::string& path);

  /// Opens one library and checks its manifest; throws PluginLoadError (not
  /// found, not a library, dlopen error, no manifest) or PluginAbiError.
  static std::shared_ptr<PluginLibrary> open(const std::string& path);
  /// The symbols `path` exports, read from the file without running any of
  /// its code; throws PluginLoadError (not found, not a shared library).
  static std::vector<std::string> exported_symbols(const std::string& path);
  /// Checks a manifest against this host; throws PluginAbiError naming both
  /// sides, PluginLoadError when there is none.
  static void check_manifest(const std::string& path, const sdk::Manifest* m);

  /// Opens every *.so in the folders (once); failures are recorded.
  void discover();
  /// Adds one library explicitly (after the folders' ones).
  void add_library(const std::string& path);

  /// The component `name` (or alias) of `kind`; throws PluginLoadError when no
  /// plugin provides it (with suggestions and the libraries that failed) or
  /// when two libraries of one folder provide it.
  const Component& find(sdk::ComponentKind kind, const std::string& name);

  /// Builds a component; plugin exceptions are rethrown naming the plugin.
  /// The object keeps its library loaded.
  std::shared_ptr<sdk::Problem> create_problem(const Component& c,
                                               sdk::Context& ctx) const;
  std::shared_ptr<sdk::Model> create_model(const Component& c,
                                           sdk::Context& ctx) const;

  const std::vector<std::string>& folders() const { return folders_; }
  const std::vector<Component>& components() const { return components_; }
  const std::vector<PluginFailure>& failures() const { return failures_; }
  /// Shadowed or duplicate names found by discover().
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  void index(const std::shared_ptr<PluginLibrary>& lib, size_t folder_rank);
  /// Checks and opens `path` (once) and indexes it; throws why it cannot.
  void load(const std::string& path, size_t folder_rank);

  std::vector<std::string> folders_;
  std::vector<Component> components_;
  std::vector<size_t> component_rank_;
  std::vector<PluginFailure> failures_;
  std::vector<std::string> warnings_;
  std::vector<std::string>
      duplicates_;  // "kind:name" provided twice in a folder
  std::vector<std::string> loaded_paths_;
  bool discovered_ = false;
  bool allow_insecure_ = false;
};

/// Inside a catch block: rethrows the current exception as the same mip error
/// kind with "<who>: " in front (c10::Error and std::exception become
/// mip::Error).
[[noreturn]] void rethrow_with_context(const std::string& who);

}  // namespace mip
