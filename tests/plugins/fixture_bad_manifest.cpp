// A plugin whose manifest was written by another build: an older SDK
// (FIXTURE_SDK_ABI) or another LibTorch (FIXTURE_TORCH). Written by hand, as
// such a build would have written it; compiled twice by tests/CMakeLists.txt.
#include <mip/sdk/manifest.hpp>
#include <mip/sdk/version.hpp>

namespace {
mip::sdk::Manifest make() {
  mip::sdk::Manifest m{};
  m.manifest_abi = MIP_MANIFEST_ABI;
  m.manifest_size = sizeof(mip::sdk::Manifest);
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
