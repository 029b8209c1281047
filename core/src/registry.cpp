#include <mip/core/registry.hpp>
#include <mip/core/text.hpp>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <mip/sdk/error.hpp>

namespace fs = std::filesystem;

namespace mip {

std::string KeyIssue::to_string() const {
  std::string s = origin + ": unknown key [" + path + "]";
  if (!hint.empty())
    s += "; " + hint;
  return s;
}

namespace {

std::vector<std::string> split_path(const std::string& path) {
  return split_skip_empty(path, '.');
}

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

/// The node at `path` below `root`, or an invalid/undefined node.
YAML::Node find(const YAML::Node& root, const std::vector<std::string>& parts) {
  YAML::Node cur = root;
  for (const auto& p : parts) {
    if (!cur.IsMap())
      return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& lookup = cur;  // const access adds no empty entries
    YAML::Node next = lookup[p];
    if (!next.IsDefined())
      return YAML::Node(YAML::NodeType::Undefined);
    cur.reset(next);
  }
  return cur;
}

/// Records the origin of every node below `node` (maps included).
void record_origins(const YAML::Node& node,
                    const std::string& prefix,
                    const std::string& file,
                    std::map<std::string, std::string>& origins) {
  const auto mark = node.Mark();
  std::string where = file;
  if (!file.empty() && file.front() != '-' && mark.line >= 0 &&
      file.rfind("defaults of", 0) != 0)
    where += ":" + std::to_string(mark.line + 1);
  if (!prefix.empty())
    origins[prefix] = where;
  if (node.IsMap()) {
    for (const auto& kv : node)
      record_origins(kv.second, join(prefix, kv.first.as<std::string>()), file,
                     origins);
  }
}

/// Merges `src` into `dst` where `dst` has nothing: the first (dst) wins.
void merge_missing(YAML::Node dst,
                   const YAML::Node& src,
                   const std::string& prefix,
                   const std::string& file,
                   std::map<std::string, std::string>& origins) {
  for (const auto& kv : src) {
    const std::string key = kv.first.as<std::string>();
    const std::string path = join(prefix, key);
    YAML::Node existing = dst[key];
    if (!existing.IsDefined()) {
      dst[key] = YAML::Clone(kv.second);
      record_origins(kv.second, path, file, origins);
    } else if (existing.IsMap() && kv.second.IsMap()) {
      merge_missing(existing, kv.second, path, file, origins);
    }
  }
}

/// Sets `value` at `parts` below `root`, creating maps on the way (replacing
/// scalars in the way).
void set_at(YAML::Node root,
            const std::vector<std::string>& parts,
            const YAML::Node& value) {
  YAML::Node cur = root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = cur[parts[i]];
    if (!next.IsMap()) {
      cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next.reset(cur[parts[i]]);
    }
    cur.reset(next);
  }
  cur[parts.back()] = value;
}

/// What a path that is not a regular file is ("" when there is nothing).
std::string file_kind(fs::file_type type) {
  switch (type) {
    case fs::file_type::directory:
      return "a directory";
    case fs::file_type::character:
      return "a character device";
    case fs::file_type::block:
      return "a block device";
    case fs::file_type::fifo:
      return "a FIFO (named pipe)";
    case fs::file_type::socket:
      return "a socket";
    case fs::file_type::symlink:  // status() follows links: a broken one
    case fs::file_type::not_found:
    case fs::file_type::none:
    case fs::file_type::regular:
      return "";
    default:
      return "not a regular file";
  }
}

/// How deep maps and lists may nest: a configuration needs a handful of
/// levels; the limit keeps every recursive walk of the tree far from the end
/// of the stack (yaml-cpp's own parser stops at 2000).
constexpr size_t kMaxDepth = 100;
/// How many values a document may expand to once aliases are followed: a few
/// lines of aliases of aliases ("billion laughs") would otherwise expand to
/// more than memory holds. A list of 60 000 sampler indices is 60 001 values.
constexpr size_t kMaxValues = 2'000'000;

/// Checks a parsed document before anything walks it: an alias that refers to
/// a map or list holding it (the tree would be infinite), nesting deeper than
/// kMaxDepth, more than kMaxValues values, a key that is not plain text, and
/// a key given twice in one map (yaml-cpp keeps both; lookups see the first).
class TreeCheck {
 public:
  explicit TreeCheck(const std::string& name) : name_(name) {}

  void walk(const YAML::Node& node, const std::string& path) {
    MIP_CHECK(++values_ <= kMaxValues, ConfigError, where(node),
              "the document expands to more than ", kMaxValues,
              " values (aliases of aliases?); write the values out");
    if (!node.IsMap() && !node.IsSequence())
      return;
    for (const auto& [outer, outer_path] : stack_)
      MIP_CHECK(!outer.is(node), ConfigError, where(node), "[", path,
                "] refers back to [", shown(outer_path),
                "], which holds it (recursive YAML: an alias *name inside the "
                "map or list that its anchor &name names); copy the values "
                "instead");
    MIP_CHECK(stack_.size() < kMaxDepth, ConfigError, where(node),
              "nested too deeply at [", path, "] (more than ", kMaxDepth,
              " levels of maps and lists)");
    stack_.emplace_back(node, path);
    if (node.IsSequence()) {
      size_t i = 0;
      for (const auto& item : node)
        walk(item, path + "[" + std::to_string(i++) + "]");
    } else {
      std::map<std::string, int> lines;
      for (const auto& kv : node) {
        MIP_CHECK(kv.first.IsScalar(), ConfigError, where(kv.first),
                  "a key in [", shown(path), "] is ",
                  kv.first.IsNull() ? "empty" : "a map or list",
                  "; keys must be plain names");
        const std::string key = kv.first.Scalar();
        const int line = kv.first.Mark().line + 1;
        const auto [it, fresh] = lines.emplace(key, line);
        MIP_CHECK(fresh, ConfigError, where(kv.first), "key [", join(path, key),
                  "] is given twice in one map (lines ", it->second, " and ",
                  line,
                  "); keep one (MI-Prometheus took the last, yaml-cpp the "
                  "first: the file is ambiguous)");
        walk(kv.second, join(path, key));
      }
    }
    stack_.pop_back();
  }

 private:
  std::string where(const YAML::Node& node) const {
    return name_ + ":" + std::to_string(node.Mark().line + 1) + ": ";
  }
  static std::string shown(const std::string& path) {
    return path.empty() ? "(top)" : path;
  }

  const std::string& name_;
  std::vector<std::pair<YAML::Node, std::string>> stack_;  ///< and paths
  size_t values_ = 0;
};

YAML::Node parse_yaml_text(const std::string& text, const std::string& name) {
  YAML::Node n;
  try {
    n = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    throw ConfigError(name + ":" + std::to_string(e.mark.line + 1) +
                      ": nested too deeply (more than " +
                      std::to_string(kMaxDepth) + " levels of maps and lists)");
  } catch (const YAML::Exception& e) {
    throw ConfigError(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) +
                      ": invalid YAML: " + e.msg);
  }
  TreeCheck(name).walk(n, "");
  return n;
}

}  // namespace

struct ParamRegistry::Impl {
  YAML::Node config{YAML::NodeType::Map};
  YAML::Node defaults{YAML::NodeType::Map};
  std::map<std::string, std::string> config_origin;
  std::map<std::string, std::string> default_origin;
  std::set<std::string> known;
  std::set<std::string> open;
  std::vector<std::string> files;
  std::vector<std::string> warnings;
  mutable YAML::Node resolved;
  mutable bool dirty = true;

  const YAML::Node& resolve() const {
    if (dirty) {
      resolved.reset(YAML::Clone(config));
      std::map<std::string, std::string> ignored;
      merge_missing(resolved, defaults, "", "", ignored);
      dirty = false;
    }
    return resolved;
  }

  std::string origin_of(const std::string& path) const {
    auto it = config_origin.find(path);
    if (it != config_origin.end())
      return it->second;
    it = default_origin.find(path);
    if (it != default_origin.end())
      return it->second;
    return "";
  }

  // --- loading -------------------------------------------------------------

  /// Resolves an include relative to the including file, then the CWD.
  fs::path locate(const std::string& name,
                  const fs::path& including,
                  const std::string& included_from) const {
    const fs::path p = expand_user(name);
    std::vector<fs::path> tried;
    if (p.is_absolute()) {
      tried.push_back(p);
    } else {
      if (!including.empty())
        tried.push_back(including.parent_path() / p);
      tried.push_back(fs::current_path() / p);
    }
    for (const auto& t : tried)
      if (fs::is_regular_file(t))
        return t;
    // Something else by that name: say what it is (never open it: reading a
    // FIFO or /dev/zero would block or never end).
    for (const auto& t : tried) {
      std::error_code ec;
      const std::string kind = file_kind(fs::status(t, ec).type());
      if (!kind.empty())
        throw ConfigError(
            "config file [" + name + "]" +
            (included_from.empty() ? "" : " (named in " + included_from + ")") +
            ": " + t.string() + " is " + kind +
            ", not a YAML file; name the configuration file itself");
    }
    std::string msg = "config file [" + name + "] not found";
    if (!included_from.empty())
      msg += " (named in " + included_from + ")";
    msg += "; looked for:";
    for (const auto& t : tried)
      msg += " " + t.string();
    throw ConfigError(msg);
  }

  YAML::Node read_file(const fs::path& path) const {
    std::ifstream in(path);
    if (!in)
      throw ConfigError("config file [" + path.string() + "] cannot be read");
    std::stringstream ss;
    ss << in.rdbuf();
    YAML::Node n = parse_yaml_text(ss.str(), path.string());
    if (n.IsNull() || !n.IsDefined())
      return YAML::Node(YAML::NodeType::Map);
    if (!n.IsMap())
      throw ConfigError(path.string() +
                        ":1: a configuration file must hold a YAML map of "
                        "sections (training, validation, testing, model)");
    return n;
  }

  /// The files `default_configs` names (`from`: "file:line" of the key).
  static std::vector<std::string> include_list(const YAML::Node& node,
                                               const std::string& from) {
    std::vector<std::string> out;
    if (node.IsSequence()) {
      for (const auto& n : node) {
        MIP_CHECK(n.IsScalar(), ConfigError, "[default_configs] (", from,
                  "): each entry must be a file name");
        out.push_back(trim(n.Scalar()));
      }
    } else {
      MIP_CHECK(node.IsScalar(), ConfigError, "[default_configs] (", from,
                "): expected a file name or a list of them");
      out = split_list(node.Scalar(), ',');
    }
    return out;
  }

  /// Visits one file and its includes, depth-first, pre-order.
  void visit(const std::string& name,
             const fs::path& including,
             const std::string& included_from,
             std::vector<fs::path>& stack,
             std::set<fs::path>& seen,
             std::vector<std::pair<std::string, YAML::Node>>& out) {
    const fs::path path =
        fs::weakly_canonical(locate(name, including, included_from));
    if (std::find(stack.begin(), stack.end(), path) != stack.end()) {
      std::string chain;
      for (const auto& s : stack)
        chain += s.filename().string() + " -> ";
      chain += path.filename().string();
      throw ConfigError("default_configs cycle: " + chain + " (in " +
                        included_from + "); remove one of these includes");
    }
    if (seen.count(path)) {
      warnings.push_back("config file [" + path.string() +
                         "] is included more than once; later inclusion (" +
                         (included_from.empty() ? "--config" : included_from) +
                         ") skipped");
      return;
    }
    seen.insert(path);
    YAML::Node node = read_file(path);
    out.emplace_back(path.string(), node);
    stack.push_back(path);
    const YAML::Node inc = node["default_configs"];
    if (inc.IsDefined() && !inc.IsNull()) {
      const std::string from =
          path.string() + ":" + std::to_string(inc.Mark().line + 1);
      for (const auto& child : include_list(inc, from))
        visit(child, path, from, stack, seen, out);
    }
    stack.pop_back();
  }
};

ParamRegistry::ParamRegistry() : impl_(std::make_unique<Impl>()) {}
ParamRegistry::~ParamRegistry() = default;

void ParamRegistry::load_files(const std::vector<std::string>& files) {
  std::vector<std::pair<std::string, YAML::Node>> ordered;
  std::set<fs::path> seen;
  for (const auto& f : files) {
    std::vector<fs::path> stack;
    impl_->visit(trim(f), {}, "", stack, seen, ordered);
  }
  for (auto& [path, node] : ordered) {
    merge_missing(impl_->config, node, "", path, impl_->config_origin);
    impl_->files.push_back(path);
  }
  impl_->dirty = true;
}

void ParamRegistry::apply_override(const std::string& assignment) {
  const auto eq = assignment.find('=');
  MIP_CHECK(eq != std::string::npos && eq > 0, ConfigError, "--set [",
            assignment, "]: expected key.path=value, e.g. --set ",
            "training.optimizer.lr=0.001");
  const std::string key = trim(assignment.substr(0, eq));
  const std::string text = assignment.substr(eq + 1);
  const auto parts = split(key, '.');
  for (const auto& part : parts)
    MIP_CHECK(!part.empty(), ConfigError, "--set [", assignment,
              "]: the key path [", key, "] has an empty part (a leading, ",
              "trailing or doubled dot); write it as section.key=value, e.g. ",
              "training.optimizer.lr=0.001");
  YAML::Node value = parse_yaml_text(text.empty() ? "~" : text, "--set " + key);
  // The maps on the way that the override creates (or that replace a value)
  // come from --set too.
  std::vector<std::string> created;
  std::string prefix;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    prefix = join(prefix, parts[i]);
    if (!find(impl_->config, split_path(prefix)).IsMap())
      created.push_back(prefix);
  }
  set_at(impl_->config, parts, value);
  // Drop origins of what was below, then record the override.
  auto& o = impl_->config_origin;
  for (auto it = o.lower_bound(key);
       it != o.end() && it->first.rfind(key, 0) == 0;) {
    const bool below = it->first.size() == key.size() ||
                       it->first[key.size()] == '.';  // not "lr_decay"
    it = below ? o.erase(it) : std::next(it);
  }
  record_origins(value, key, "--set", o);
  for (const auto& c : created)
    o[c] = "--set";
  impl_->dirty = true;
}

void ParamRegistry::add_defaults(const std::string& path,
                                 const std::string& yaml_text,
                                 const std::string& origin) {
  YAML::Node node = parse_yaml_text(yaml_text, origin);
  if (!node.IsDefined() || node.IsNull())
    node = YAML::Node(YAML::NodeType::Map);
  MIP_CHECK(node.IsMap(), ConfigError, origin,
            ": default parameters must be a YAML map");
  const auto parts = split_path(path);
  YAML::Node wrapped = node;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    YAML::Node outer(YAML::NodeType::Map);
    outer[*it] = wrapped;
    wrapped.reset(outer);
  }
  merge_missing(impl_->defaults, wrapped, "", origin, impl_->default_origin);
  std::function<void(const YAML::Node&, const std::string&)> mark_known =
      [&](const YAML::Node& n, const std::string& prefix) {
        impl_->known.insert(prefix);
        if (n.IsMap())
          for (const auto& kv : n)
            mark_known(kv.second, join(prefix, kv.first.as<std::string>()));
      };
  mark_known(node, path);
  impl_->dirty = true;
}

void ParamRegistry::add_default_number(const std::string& path,
                                       double value,
                                       const std::string& origin) {
  const auto parts = split_path(path);
  MIP_INTERNAL_ASSERT(!parts.empty());
  YAML::Node existing = find(impl_->defaults, parts);
  if (existing.IsDefined() && !existing.IsNull())
    return;
  if (value == static_cast<double>(static_cast<int64_t>(value)))
    set_at(impl_->defaults, parts, YAML::Node(static_cast<int64_t>(value)));
  else
    set_at(impl_->defaults, parts, YAML::Node(value));
  impl_->default_origin[path] = origin;
  impl_->known.insert(path);
  impl_->dirty = true;
}

void ParamRegistry::set_value(const std::string& path,
                              const std::string& yaml_value,
                              const std::string& origin) {
  const auto parts = split_path(path);
  MIP_INTERNAL_ASSERT(!parts.empty());
  set_at(impl_->config, parts, parse_yaml_text(yaml_value, origin));
  impl_->config_origin[path] = origin;
  impl_->known.insert(path);
  impl_->dirty = true;
}

void ParamRegistry::declare_known(const std::string& path, bool open) {
  impl_->known.insert(path);
  if (open)
    impl_->open.insert(path);
}

std::vector<KeyIssue> ParamRegistry::unknown_keys() const {
  std::vector<KeyIssue> issues;
  const auto& known = impl_->known;
  std::function<void(const YAML::Node&, const std::string&)> walk =
      [&](const YAML::Node& node, const std::string& prefix) {
        for (const auto& kv : node) {
          const std::string key = kv.first.as<std::string>();
          const std::string path = join(prefix, key);
          if (impl_->open.count(path))
            continue;
          if (!known.count(path)) {
            std::vector<std::string> siblings;
            const std::string parent = prefix.empty() ? "" : prefix + ".";
            for (auto it = known.lower_bound(parent);
                 it != known.end() &&
                 it->compare(0, parent.size(), parent) == 0;
                 ++it) {
              const std::string rest = it->substr(parent.size());
              if (!rest.empty() && rest.find('.') == std::string::npos)
                siblings.push_back(rest);
            }
            std::string hint = did_you_mean_any(key, siblings);
            if (hint.empty() && !siblings.empty() && siblings.size() <= 12) {
              hint = "known keys here:";
              for (const auto& s : siblings)
                hint += " " + s;
            }
            issues.push_back({impl_->origin_of(path), path, hint});
            continue;
          }
          if (kv.second.IsMap())
            walk(kv.second, path);
        }
      };
  walk(impl_->config, "");
  return issues;
}

bool ParamRegistry::has(const std::string& path) const {
  YAML::Node n = find(impl_->resolve(), split_path(path));
  return n.IsDefined() && !n.IsNull();
}

std::string ParamRegistry::origin(const std::string& path) const {
  return impl_->origin_of(path);
}

std::string ParamRegistry::dump() const {
  YAML::Node copy = YAML::Clone(impl_->resolve());
  copy.remove("default_configs");
  YAML::Emitter out;
  out << copy;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> ParamRegistry::files() const {
  return impl_->files;
}

std::vector<std::string> ParamRegistry::warnings() const {
  return impl_->warnings;
}

// --- the view plugins read ---------------------------------------------------

namespace {

class YamlParamView final : public sdk::ParamView {
 public:
  YamlParamView(const ParamRegistry::Impl* reg,
                YAML::Node node,
                std::string path)
      : reg_(reg), node_(std::move(node)), path_(std::move(path)) {}

  std::string path() const override { return path_; }

  bool has(const std::string& key) const override {
    YAML::Node n = find(node_, split_path(key));
    return n.IsDefined() && !n.IsNull();
  }

  std::vector<std::string> keys() const override {
    std::vector<std::string> out;
    if (node_.IsMap())
      for (const auto& kv : node_)
        out.push_back(kv.first.as<std::string>());
    return out;
  }

  std::unique_ptr<sdk::ParamView> child(const std::string& key) const override {
    YAML::Node n = find(node_, split_path(key));
    if (!n.IsDefined() || n.IsNull())
      return std::make_unique<YamlParamView>(
          reg_, YAML::Node(YAML::NodeType::Map), full(key));
    if (!n.IsMap())
      fail(key, n, "a map of parameters");
    return std::make_unique<YamlParamView>(reg_, n, full(key));
  }

  bool get_bool(const std::string& key) const override {
    return convert<bool>(key, "true or false");
  }
  int64_t get_int(const std::string& key) const override {
    return convert<int64_t>(key, "an integer");
  }
  double get_double(const std::string& key) const override {
    return finite(key, convert<double>(key, "a finite number"));
  }
  std::string get_string(const std::string& key) const override {
    const YAML::Node n = require(key);
    if (!n.IsScalar())
      fail(key, n, "a string");
    return n.Scalar();
  }
  std::vector<int64_t> get_int_list(const std::string& key) const override {
    return list<int64_t>(key, "a list of integers");
  }
  std::vector<double> get_double_list(const std::string& key) const override {
    auto values = list<double>(key, "a list of finite numbers");
    for (double v : values)
      finite(key, v);
    return values;
  }
  std::vector<std::string> get_string_list(
      const std::string& key) const override {
    const YAML::Node n = require(key);
    if (n.IsScalar())  // MI-Prometheus style: "a, b, c"
      return split_list(n.Scalar(), ',');
    return list<std::string>(key, "a list of strings");
  }

 private:
  std::string full(const std::string& key) const { return join(path_, key); }

  [[noreturn]] void fail(const std::string& key,
                         const YAML::Node& n,
                         const std::string& expected) const {
    YAML::Emitter e;
    e << YAML::Flow << n;
    std::string where = reg_->origin_of(full(key));
    throw ParameterError("parameter [" + full(key) + "] = " + e.c_str() +
                         (where.empty() ? "" : " (" + where + ")") +
                         ": expected " + expected);
  }

  /// No number the framework or a plugin reads may be NaN or infinite: an
  /// infinite lr or loss_stop would run (or stop) without meaning anything.
  double finite(const std::string& key, double value) const {
    if (!std::isfinite(value))
      fail(key, require(key), "a finite number (not .nan or .inf)");
    return value;
  }

  YAML::Node require(const std::string& key) const {
    YAML::Node n = find(node_, split_path(key));
    if (!n.IsDefined() || n.IsNull()) {
      std::string where = reg_->origin_of(full(key));
      throw ParameterError(
          "parameter [" + full(key) + "] is required but not set" +
          (where.empty() ? "" : " (left empty in " + where + ")") +
          "; add it to your configuration or pass --set " + full(key) + "=...");
    }
    return n;
  }

  template <typename T>
  T convert(const std::string& key, const std::string& expected) const {
    const YAML::Node n = require(key);
    if (!n.IsScalar())
      fail(key, n, expected);
    T value{};
    if (!YAML::convert<T>::decode(n, value))
      fail(key, n, expected);
    return value;
  }

  template <typename T>
  std::vector<T> list(const std::string& key,
                      const std::string& expected) const {
    const YAML::Node n = require(key);
    if (!n.IsSequence())
      fail(key, n, expected);
    std::vector<T> out;
    for (const auto& item : n) {
      T value{};
      if (!item.IsScalar() || !YAML::convert<T>::decode(item, value))
        fail(key, n, expected);
      out.push_back(value);
    }
    return out;
  }

  const ParamRegistry::Impl* reg_;
  YAML::Node node_;
  std::string path_;
};

}  // namespace

std::string component_name(const ParamRegistry& registry,
                           const std::string& section,
                           const std::string& what) {
  if (registry.has(section + ".name"))
    return registry.view(section)->get<std::string>("name");
  const auto missing_space = [](const std::string& text) {
    return text.rfind("name:", 0) != 0
               ? std::string()
               : "; YAML reads [" + text +
                     "] as one key: put a space after the colon (name: " +
                     trim(text.substr(5)) + ")";
  };
  std::vector<std::string> keys;
  try {
    keys = registry.view(section)->keys();
  } catch (const ConfigError& e) {  // not a map: `name:StepLR` is a string
    const auto dot = section.rfind('.');
    std::string text;
    try {
      text = registry.view(section.substr(0, dot))
                 ->get<std::string>(section.substr(dot + 1));
    } catch (const ConfigError&) {
    }
    throw ConfigError(e.what() + missing_space(text));
  }
  if (keys.empty())
    return "";
  std::string listed, hint;
  for (const auto& k : keys) {
    listed += (listed.empty() ? "" : ", ") + k;
    if (hint.empty())
      hint = missing_space(k);
  }
  const std::string where = registry.origin(section + "." + keys.front());
  throw ConfigError(
      "[" + section + "]" + (where.empty() ? "" : " (" + where + ")") +
      " sets " + listed + " but no name, so no " + what + " would be used" +
      (hint.empty() ? "; name the " + what + " (name: ...)" : hint));
}

std::unique_ptr<sdk::ParamView> ParamRegistry::view(
    const std::string& path) const {
  YAML::Node n = find(impl_->resolve(), split_path(path));
  if (!n.IsDefined() || n.IsNull())
    n = YAML::Node(YAML::NodeType::Map);
  MIP_CHECK(n.IsMap(), ConfigError, "[", path,
            "] must be a map of parameters (", impl_->origin_of(path), ")");
  // Detach from the cache so later changes do not move the view.
  return std::make_unique<YamlParamView>(impl_.get(), YAML::Clone(n), path);
}

}  // namespace mip
