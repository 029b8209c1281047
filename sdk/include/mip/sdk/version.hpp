#pragma once

/// Version of the SDK a plugin is built against (semantic versioning).
#define MIP_SDK_VERSION "0.1.0"
/// ABI generation of the SDK interfaces; the host refuses plugins of another.
#define MIP_SDK_ABI 1
/// Layout generation of the plugin manifest structure itself.
#define MIP_MANIFEST_ABI 1
