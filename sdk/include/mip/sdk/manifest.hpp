#pragma once

#include <cstdint>

/// The plugin manifest: what a plugin library declares and the host checks
/// before running any component. Plain C layout; fields are only ever appended.

namespace mip::sdk {

/// What a component is.
enum class ComponentKind : int32_t { kProblem = 1, kModel = 2 };

class Context;

/// One component of a plugin.
struct ComponentInfo {
  ComponentKind kind;
  const char* name;               ///< class name used in configs
  const char* aliases;            ///< comma-separated other names ("" for none)
  const char* description;        ///< one line
  const char* defaults_yaml;      ///< default parameters (YAML text,
                                  ///< commented); null when none of the
                                  ///< plugin's defaults files matched
  void* (*create)(Context& ctx);  ///< returns Problem* or Model*
  void (*destroy)(void* object);  ///< deletes what create returned
};

/// The whole manifest. The first two fields never move.
struct Manifest {
  uint32_t manifest_abi;      ///< MIP_MANIFEST_ABI
  uint32_t manifest_size;     ///< sizeof(Manifest)
  uint32_t sdk_abi;           ///< MIP_SDK_ABI
  const char* sdk_version;    ///< MIP_SDK_VERSION
  const char* torch_version;  ///< TORCH_VERSION of the headers built with
  int32_t cxx11_abi;          ///< _GLIBCXX_USE_CXX11_ABI
  int32_t cuda;               ///< 1 when those headers are a CUDA LibTorch's
  const char* build_type;     ///< "release" or "debug" (informational)
  const ComponentInfo* components;
  uint32_t num_components;
};

}  // namespace mip::sdk

/// Name of the one C entry point every plugin exports.
#define MIP_PLUGIN_ENTRY_NAME "mip_plugin_manifest_v1"
