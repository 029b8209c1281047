// The versions a worker runs on (mip/core/versions.hpp).
#include <mip/core/versions.hpp>

#include <ATen/Context.h>
#include <ATen/Version.h>
#include <dlfcn.h>

#include <filesystem>
#include <fstream>

#include <mip/sdk/detail/torch_build.hpp>
#include <mip/sdk/version.hpp>

namespace mip {

namespace {

/// The value of `key=` in LibTorch's build settings ("" when absent).
std::string build_setting(const std::string& config, const std::string& key) {
  const size_t at = config.find(key + "=");
  if (at == std::string::npos)
    return "";
  const size_t from = at + key.size() + 1;
  const size_t to = config.find_first_of(",\n", from);
  return config.substr(from, to == std::string::npos ? to : to - from);
}

std::string cuda_text() {
  if (!at::Context::hasCUDART())
    return std::string("none (this LibTorch was built without CUDA") +
           (MIP_DETAIL_TORCH_CUDA ? "" : "; --gpu needs a CUDA LibTorch") + ")";
  const long v = at::Context::versionCUDART();
  std::string text = "runtime " + std::to_string(v / 1000) + "." +
                     std::to_string(v % 1000 / 10);
  const size_t devices = at::getNumGPUs();
  return text + ", " +
         (devices > 0 ? std::to_string(devices) + " device(s) visible"
                      : std::string("no usable device"));
}

}  // namespace

const char* framework_version() {
  return MIP_FRAMEWORK_VERSION;
}

std::string blas_library_path() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto at = line.find('/');
    // LibTorch's BLAS calls resolve to libblas.so.3 (Debian's alternative).
    if (at == std::string::npos ||
        line.find("libblas.so", at) == std::string::npos)
      continue;
    const std::string path = line.substr(at);
    std::error_code ec;
    const std::string real = std::filesystem::canonical(path, ec).string();
    return ec ? path : real;
  }
  return "";
}

std::string blas_description() {
  const std::string path = blas_library_path();
  std::string what;
  using Config = char* (*)();
  if (auto* config = reinterpret_cast<Config>(
          ::dlsym(RTLD_DEFAULT, "openblas_get_config")))
    what = config();
  else if (path.find("/blas/libblas.so") != std::string::npos)
    what = "reference BLAS (netlib)";
  else
    what = build_setting(at::show_config(), "BLAS_INFO");
  if (what.empty())
    what = "unknown";
  return path.empty() ? what : what + " (" + path + ")";
}

std::string version_text(const std::string& worker) {
  return worker + " " + framework_version() + " (MI-Prometheus C++; SDK " +
         MIP_SDK_VERSION + ", plugin ABI " + std::to_string(MIP_SDK_ABI) +
         ")\nLibTorch: " + MIP_DETAIL_TORCH_VERSION +
         (MIP_DETAIL_TORCH_CUDA ? " (CUDA build)" : " (CPU build)") +
         "\nBLAS: " + blas_description() + "\nCUDA: " + cuda_text() + "\n";
}

}  // namespace mip
