#pragma once

// The machinery behind MIP_REGISTER_PROBLEM and MIP_REGISTER_MODEL
// (mip/sdk/register.hpp). Nothing here is for plugin code to use directly.
//
// Each plugin library holds one hidden Registry. At load time the registrars
// of the macros append a ComponentInfo to it, and the registrars that
// mip_add_plugin() generates record the embedded defaults files. The one
// exported entry point, mip_plugin_manifest_v1(), fills in the manifest on its
// first call: the build fields, and each component's defaults (the library's
// only defaults file, or the one whose lower-cased stem equals the
// component's lower-cased name). A component that matches none of several
// files gets a null `defaults_yaml`, which mip_add_plugin()'s build-time check
// reports; with no defaults file at all (a library not built with
// mip_add_plugin()) every component gets "".

#include <cctype>
#include <deque>
#include <initializer_list>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include <mip/sdk/context.hpp>
#include <mip/sdk/detail/torch_build.hpp>
#include <mip/sdk/manifest.hpp>
#include <mip/sdk/version.hpp>

#define MIP_DETAIL_HIDDEN __attribute__((visibility("hidden")))
#define MIP_DETAIL_EXPORT __attribute__((visibility("default")))

#define MIP_DETAIL_CAT2(a, b) a##b
#define MIP_DETAIL_CAT(a, b) MIP_DETAIL_CAT2(a, b)

namespace mip::sdk {
class Problem;
class Model;
}  // namespace mip::sdk

namespace mip::sdk::detail {

/// Components registered in this library (one registry per .so: hidden).
struct Registry {
  std::deque<std::string> strings;  // stable storage for the C strings
  std::vector<ComponentInfo> components;
  std::map<std::string, std::string> defaults;  // defaults-file stem -> YAML
  Manifest manifest{};

  const char* keep(std::string s) {
    strings.push_back(std::move(s));
    return strings.back().c_str();
  }
};

MIP_DETAIL_HIDDEN inline Registry& registry() {
  static Registry r;
  return r;
}

inline std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// The defaults YAML of a component named `name`: the only file, the file
/// whose stem matches, "" without any file, or nullptr when none of several
/// files matches.
MIP_DETAIL_HIDDEN inline const char* defaults_for(Registry& r,
                                                  const char* name) {
  if (r.defaults.empty())
    return "";
  if (r.defaults.size() == 1)
    return r.keep(r.defaults.begin()->second);
  auto it = r.defaults.find(lower(name));
  return it != r.defaults.end() ? r.keep(it->second) : nullptr;
}

/// Fills in the manifest once: the build fields and each component's
/// defaults.
MIP_DETAIL_HIDDEN inline const Manifest* build_manifest() {
  Registry& r = registry();
  if (r.manifest.manifest_abi == 0) {
    for (ComponentInfo& c : r.components)
      c.defaults_yaml = defaults_for(r, c.name);
    r.manifest.manifest_size = sizeof(Manifest);
    r.manifest.sdk_abi = MIP_SDK_ABI;
    r.manifest.sdk_version = MIP_SDK_VERSION;
    // What this plugin's own LibTorch headers say (detail/torch_build.hpp).
    r.manifest.torch_version = MIP_DETAIL_TORCH_VERSION;
    r.manifest.cxx11_abi = _GLIBCXX_USE_CXX11_ABI;
    r.manifest.cuda = MIP_DETAIL_TORCH_CUDA;
#ifdef NDEBUG
    r.manifest.build_type = "release";
#else
    r.manifest.build_type = "debug";
#endif
    r.manifest.components = r.components.data();
    r.manifest.num_components = static_cast<uint32_t>(r.components.size());
    r.manifest.manifest_abi = MIP_MANIFEST_ABI;
  }
  return &r.manifest;
}

}  // namespace mip::sdk::detail

/// The plugin's entry point (MIP_PLUGIN_ENTRY_NAME): returns its manifest.
extern "C" MIP_DETAIL_EXPORT inline const mip::sdk::Manifest*
mip_plugin_manifest_v1() {
  return mip::sdk::detail::build_manifest();
}

namespace mip::sdk::detail {

/// Records one component at library load time.
template <typename Base, typename T>
struct ComponentRegistrar {
  ComponentRegistrar(ComponentKind kind,
                     const char* name,
                     std::initializer_list<const char*> rest) {
    static_assert(std::is_base_of_v<Base, T>,
                  "MIP_REGISTER_PROBLEM needs a class derived from "
                  "mip::sdk::Problem, MIP_REGISTER_MODEL one derived from "
                  "mip::sdk::Model");
    static_assert(std::is_constructible_v<T, Context&>,
                  "a registered component needs a constructor taking "
                  "(mip::sdk::Context&)");
    Registry& r = registry();
    std::string description, aliases;
    size_t i = 0;
    for (const char* s : rest) {
      if (i++ == 0)
        description = s;
      else
        aliases += (aliases.empty() ? "" : ",") + std::string(s);
    }
    ComponentInfo info{};
    info.kind = kind;
    info.name = r.keep(name);
    info.aliases = r.keep(aliases);
    info.description = r.keep(description);
    info.defaults_yaml = "";
    info.create = [](Context& ctx) -> void* {
      return static_cast<Base*>(new T(ctx));
    };
    info.destroy = [](void* p) { delete static_cast<Base*>(p); };
    r.components.push_back(info);
    // Odr-use the entry point so every plugin exports it.
    volatile auto entry = &mip_plugin_manifest_v1;
    (void)entry;
  }
};

/// Records a defaults file (generated by mip_add_plugin()).
struct DefaultsRegistrar {
  DefaultsRegistrar(const char* stem, const char* yaml) {
    registry().defaults[lower(stem)] = yaml;
  }
};

}  // namespace mip::sdk::detail

/// The registrar object behind both public macros.
#define MIP_DETAIL_REGISTER(Base, Kind, Class, Name, ...)                   \
  namespace {                                                               \
  const ::mip::sdk::detail::ComponentRegistrar<Base, Class> MIP_DETAIL_CAT( \
      mip_registrar_, __LINE__)(Kind, Name, {__VA_ARGS__});                 \
  }
