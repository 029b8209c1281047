// mip-plugins: what plugins are found, and what each provides.
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <mip/core/plugin_loader.hpp>
#include <mip/core/text.hpp>
#include <mip/core/versions.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/error.hpp>

namespace mip {

namespace {

constexpr const char* kUsage =
    "Usage: mip-plugins [--plugin-path DIR]... [--allow-insecure-plugin-dir] "
    "list\n"
    "       mip-plugins [--plugin-path DIR]... [--allow-insecure-plugin-dir] "
    "info <name | library.so>\n"
    "       mip-plugins --version\n\n"
    "Lists the problems and models found in the plugin folders (searched in\n"
    "this order: --plugin-path, $MIP_PLUGIN_PATH, the build tree, "
    "<prefix>/lib/mip/plugins),\n"
    "or shows one component's library, versions, ABI fields and default "
    "parameters.\n";

void print_library(const PluginLibrary& lib) {
  const sdk::Manifest& m = *lib.manifest;
  std::cout << "library:        " << lib.path << "\n"
            << "SDK version:    " << m.sdk_version << " (SDK ABI " << m.sdk_abi
            << ", manifest ABI " << m.manifest_abi << ")\n"
            << "LibTorch:       " << m.torch_version << "\n"
            << "C++11 ABI:      " << m.cxx11_abi << "\n"
            << "CUDA:           " << (m.cuda ? "on" : "off") << "\n"
            << "build type:     " << m.build_type << "\n";
}

void print_component(const Component& c) {
  const std::string kind = std::string(to_string(c.kind)) + ":";
  std::cout << kind << std::string(16 - kind.size(), ' ') << c.name << "\n";
  if (!c.aliases.empty()) {
    std::cout << "aliases:        ";
    for (size_t i = 0; i < c.aliases.size(); ++i)
      std::cout << (i ? ", " : "") << c.aliases[i];
    std::cout << "\n";
  }
  std::cout << "description:    " << c.description << "\n";
  print_library(*c.library);
  std::cout << "default parameters:\n";
  std::string line;
  std::istringstream in(c.defaults_yaml);
  while (std::getline(in, line))
    std::cout << "  " << line << "\n";
}

/// The command line: plugin folders, the insecure-folder switch and the
/// command with its operand.
struct ToolArgs {
  std::vector<std::string> paths, args;
  bool allow_insecure = false;
};

/// Parses the command line into `t`; returns the exit code when there is
/// nothing more to do (--help, a usage error).
std::optional<int> parse_tool_args(int argc, char** argv, ToolArgs& t) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--allow-insecure-plugin-dir") {
      t.allow_insecure = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return kExitOk;
    }
    if (a == "--version") {
      // The versions plugins are checked against (SDK ABI, LibTorch, CUDA).
      std::cout << version_text("mip-plugins");
      return kExitOk;
    }
    if (a == "--plugin-path" && i + 1 < argc) {
      t.paths.push_back(argv[++i]);
    } else if (a.rfind("--plugin-path=", 0) == 0) {
      t.paths.push_back(a.substr(14));
    } else if (!a.empty() && a[0] == '-') {
      std::cerr << "mip-plugins: unknown option " << a << "\n" << kUsage;
      return kExitUsage;
    } else {
      t.args.push_back(a);
    }
  }
  const auto& args = t.args;
  if (args.empty() || (args[0] != "list" && args[0] != "info") ||
      (args[0] == "info" && args.size() != 2) ||
      (args[0] == "list" && args.size() != 1)) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  return std::nullopt;
}

/// `mip-plugins list`: the folders, then every problem and model found.
int list_components(const PluginLoader& loader) {
  std::cout << "Plugin folders (in search order):\n";
  for (const auto& f : loader.folders())
    std::cout << "  " << f << "\n";
  for (auto kind : {sdk::ComponentKind::kProblem, sdk::ComponentKind::kModel}) {
    std::cout << "\n"
              << (kind == sdk::ComponentKind::kProblem ? "Problems" : "Models")
              << ":\n";
    for (const auto& c : loader.components()) {
      if (c.kind != kind)
        continue;
      std::string names = c.name;
      for (size_t i = 0; i < c.aliases.size(); ++i)
        names += (i ? ", " : "  (aliases: ") + c.aliases[i];
      if (!c.aliases.empty())
        names += ")";
      std::cout << "  " << names << "\n      " << c.description << "\n      "
                << c.library->path << "\n";
    }
  }
  for (const auto& w : loader.warnings())
    std::cout << "\nwarning: " << w << "\n";
  for (const auto& f : loader.failures())
    std::cout << "\nnot loaded: " << f.path << "\n  " << f.reason << "\n";
  return loader.failures().empty() ? kExitOk : kExitPlugin;
}

/// `mip-plugins info <name>`: the component (problems first) with that name
/// or alias, or an error with a suggestion.
int show_component(const PluginLoader& loader, const std::string& name) {
  for (auto kind : {sdk::ComponentKind::kProblem, sdk::ComponentKind::kModel}) {
    for (const auto& c : loader.components()) {
      if (c.kind != kind)
        continue;
      bool match = c.name == name;
      for (const auto& a : c.aliases)
        match = match || a == name;
      if (match) {
        print_component(c);
        return kExitOk;
      }
    }
  }
  std::vector<std::string> names;
  for (const auto& c : loader.components()) {
    names.push_back(c.name);
    names.insert(names.end(), c.aliases.begin(), c.aliases.end());
  }
  std::cerr << "mip-plugins: no plugin provides [" << name << "]"
            << did_you_mean(name, names);
  std::cerr << "\n  folders searched:";
  for (const auto& f : loader.folders())
    std::cerr << " " << f;
  std::cerr << "\n  (mip-plugins list shows every component)\n";
  return kExitPlugin;
}

}  // namespace

int run_plugins_tool(int argc, char** argv) {
  ToolArgs t;
  if (const auto exit_code = parse_tool_args(argc, argv, t))
    return *exit_code;
  PluginLoader loader(PluginLoader::search_path(t.paths, {}));
  loader.allow_insecure(t.allow_insecure);
  try {
    const auto& args = t.args;
    // A library is named by a path: it ends in .so or holds a '/'.
    const std::string& what = args.size() > 1 ? args[1] : args[0];
    if (args[0] == "info" &&
        (what.find('/') != std::string::npos ||
         (what.size() > 3 && what.compare(what.size() - 3, 3, ".so") == 0))) {
      loader.add_library(what);
      for (const auto& c : loader.components()) {
        print_component(c);
        std::cout << "\n";
      }
      return kExitOk;
    }
    loader.discover();
    return args[0] == "list" ? list_components(loader)
                             : show_component(loader, args[1]);
  } catch (const Error& e) {
    std::cerr << "mip-plugins: " << e.what() << "\n";
    return kExitPlugin;
  } catch (const std::exception& e) {
    // Not expected (the loader reports what it meets as mip errors); an exit
    // code is still better than an abort.
    std::cerr << "mip-plugins: unexpected error: " << e.what() << "\n";
    return kExitFailed;
  }
}

}  // namespace mip
