// A plugin built against another LibTorch (its manifest written by hand, as
// such a build would have written it).
#include <mip/sdk/manifest.hpp>
#include <mip/sdk/version.hpp>

namespace {
mip::sdk::Manifest make() {
  mip::sdk::Manifest m{};
  m.manifest_abi = MIP_MANIFEST_ABI;
  m.manifest_size = sizeof(mip::sdk::Manifest);
  m.sdk_abi = MIP_SDK_ABI;
  m.sdk_version = MIP_SDK_VERSION;
  m.torch_version = "1.12.1";
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
