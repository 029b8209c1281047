// A plugin whose manifest was written by another build: another manifest
// layout (FIXTURE_MANIFEST_ABI_DELTA, FIXTURE_MANIFEST_SIZE_DELTA: added to
// the host's), an older SDK (FIXTURE_SDK_ABI, FIXTURE_SDK_VERSION: the
// host's by default) or another LibTorch (FIXTURE_TORCH). Written by hand, as
// such a build would have written it; compiled once per variant by
// tests/CMakeLists.txt.
#include <mip/sdk/manifest.hpp>
#include <mip/sdk/version.hpp>

#ifndef FIXTURE_MANIFEST_ABI_DELTA
#define FIXTURE_MANIFEST_ABI_DELTA 0
#endif
#ifndef FIXTURE_MANIFEST_SIZE_DELTA
#define FIXTURE_MANIFEST_SIZE_DELTA 0
#endif
#ifndef FIXTURE_TORCH
#define FIXTURE_TORCH "unknown"
#endif
#ifndef FIXTURE_SDK_ABI
#define FIXTURE_SDK_ABI MIP_SDK_ABI
#endif
#ifndef FIXTURE_SDK_VERSION
#define FIXTURE_SDK_VERSION MIP_SDK_VERSION
#endif

namespace {
mip::sdk::Manifest make() {
  mip::sdk::Manifest m{};
  m.manifest_abi = MIP_MANIFEST_ABI + FIXTURE_MANIFEST_ABI_DELTA;
  m.manifest_size = sizeof(mip::sdk::Manifest) + FIXTURE_MANIFEST_SIZE_DELTA;
  m.sdk_abi = FIXTURE_SDK_ABI;
  m.sdk_version = FIXTURE_SDK_VERSION;
  m.torch_version = FIXTURE_TORCH;
  m.cxx11_abi = 1;
  m.cuda = 0;
  m.build_type = "release";
  m.components = nullptr;
  m.num_components = 0;
  return m;
}
const mip::sdk::Manifest kManifest = make();
}  // namespace

extern "C" __attribute__((visibility("default"))) const mip::sdk::Manifest*
mip_plugin_manifest_v1() {
  return &kManifest;
}
