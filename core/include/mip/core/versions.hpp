#pragma once

// What a worker runs on: the framework, LibTorch, the BLAS LibTorch calls
// and CUDA. `--version` prints it.

#include <string>

namespace mip {

/// The framework's version (the CMake project's, "0.1.0").
const char* framework_version();

/// The path of the BLAS library LibTorch runs on (the `libblas.so` mapped
/// into this process, links resolved), or "" when none is mapped (a LibTorch
/// with a BLAS linked in, as MKL builds are).
std::string blas_library_path();

/// The BLAS in words: OpenBLAS's own configuration string when it is
/// OpenBLAS, the reference BLAS, else LibTorch's build setting; with the
/// library's path.
std::string blas_description();

/// `--version`: one "name: value" line each for the framework (with the
/// SDK and plugin ABI), LibTorch, the BLAS and CUDA.
std::string version_text(const std::string& worker);

}  // namespace mip
