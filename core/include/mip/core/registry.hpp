#pragma once

#include <memory>
#include <string>
#include <vector>

#include <mip/core/text.hpp>  // closest() and edit_distance() moved there
#include <mip/sdk/param_view.hpp>

namespace mip {

/// One problem found while checking keys (file, line, key path, hint).
struct KeyIssue {
  std::string origin;  ///< "file.yaml:12" or "--set"
  std::string path;    ///< "training.problem.max_lenght"
  std::string hint;    ///< "did you mean [max_length]?" or ""
  std::string to_string() const;
};

/// The Parameter Registry: config files, command-line overrides and component
/// defaults, resolved with MI-Prometheus's precedence (section 2 of
/// docs/04-configuration.md): `--set` > files (a file beats what it includes,
/// the first listed wins) > component defaults. Lists are replaced whole.
class ParamRegistry {
 public:
  ParamRegistry();
  ~ParamRegistry();
  ParamRegistry(const ParamRegistry&) = delete;
  ParamRegistry& operator=(const ParamRegistry&) = delete;

  /// Loads files in precedence order (first wins), following default_configs
  /// depth-first in pre-order. A file seen twice is skipped with a warning; an
  /// include cycle, a missing file or bad YAML throws mip::ConfigError.
  void load_files(const std::vector<std::string>& files);
  /// Applies `a.b.c=value` (value parsed as YAML); beats every file.
  void apply_override(const std::string& assignment);
  /// Adds default parameters (YAML text) under `path`; they lose to config.
  /// `origin` names their source in messages ("defaults of LSTM (liblstm.so)").
  void add_defaults(const std::string& path,
                    const std::string& yaml_text,
                    const std::string& origin);
  /// Adds one numeric default under `path` (e.g. a problem's default value).
  void add_default_number(const std::string& path,
                          double value,
                          const std::string& origin);
  /// Writes a value into the configuration itself (e.g. a seed drawn at
  /// random), so that it is saved and wins like a config value.
  void set_value(const std::string& path,
                 const std::string& yaml_value,
                 const std::string& origin);

  /// Accepts `path` as a known key (framework keys); `open` accepts any key
  /// below it too.
  void declare_known(const std::string& path, bool open = false);
  /// Configured keys that neither a default nor a declaration knows.
  std::vector<KeyIssue> unknown_keys() const;

  /// True when `path` resolves to a non-null value.
  bool has(const std::string& path) const;
  /// A view of the resolved section at `path` (an empty map if absent).
  std::unique_ptr<sdk::ParamView> view(const std::string& path) const;
  /// Where the resolved value at `path` came from ("file:line", "--set", ...).
  std::string origin(const std::string& path) const;
  /// The resolved configuration as YAML text (default_configs removed).
  std::string dump() const;
  /// The files loaded, in precedence order.
  std::vector<std::string> files() const;
  /// Warnings raised while loading (skipped duplicates, ...).
  std::vector<std::string> warnings() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// The `name` of an optional section that picks a component (a scheduler, a
/// sampler): "" when the section is absent or empty. A section with keys but
/// no name throws mip::ConfigError naming it (`what`: "scheduler"), with a
/// hint for `{name:X}` (YAML reads it as one key, "name:X").
std::string component_name(const ParamRegistry& registry,
                           const std::string& section,
                           const std::string& what);

}  // namespace mip
