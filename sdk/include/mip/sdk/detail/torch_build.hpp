#pragma once

// What the LibTorch headers this file is compiled with say about their
// LibTorch: the manifest records it for a plugin, the host compares it with
// its own (mip/sdk/detail/register.hpp, core's plugin loader). Taken from the
// headers themselves, not from the installed SDK's configuration, so that a
// plugin built against another LibTorch says so.
//
// Each macro may be defined beforehand; only the tests do, to build fixture
// plugins that record another LibTorch.

#include <torch/version.h>

/// The LibTorch release, "major.minor.patch" (torch/version.h).
#ifndef MIP_DETAIL_TORCH_VERSION
#define MIP_DETAIL_TORCH_VERSION TORCH_VERSION
#endif

/// 1 when the LibTorch is a CUDA build: only those generate
/// c10/cuda/impl/cuda_cmake_macros.h (CPU builds install c10/cuda's other
/// headers, but not this one).
#ifndef MIP_DETAIL_TORCH_CUDA
#if __has_include(<c10/cuda/impl/cuda_cmake_macros.h>)
#define MIP_DETAIL_TORCH_CUDA 1
#else
#define MIP_DETAIL_TORCH_CUDA 0
#endif
#endif
