// Fuzz target: what the host does to a file that claims to be a plugin before
// and after it runs any of its code. Two parts separated by kNextFile:
//   1. the file itself, read as `mip-plugins list` and the trainers do first:
//      its exported symbols through Boost.DLL's library_info (no code runs);
//   2. a manifest (the struct the entry point returns), encoded as bytes
//      below, checked by the host's manifest checks. A manifest the checks
//      accept must be one every consumer can use (mip-plugins prints its
//      strings; the loader indexes its components).
// The fuzzed file is never dlopen()ed: loading a library runs its code.
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <mip/core/plugin_loader.hpp>
#include <mip/sdk/build_config.hpp>
#include <mip/sdk/manifest.hpp>
#include <mip/sdk/version.hpp>

#include "fuzz_util.hpp"

namespace {

void* create_stub(mip::sdk::Context& /*ctx*/) {
  return nullptr;
}
void destroy_stub(void* /*object*/) {}

/// Reads the manifest encoding: little-endian integers; a string is a byte 0
/// (null pointer) or any other byte then text up to a NUL (or the end).
class Reader {
 public:
  explicit Reader(const std::string& bytes) : bytes_(bytes) {}
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= uint32_t(byte()) << (8 * i);
    return v;
  }
  uint8_t byte() {
    return pos_ < bytes_.size() ? static_cast<uint8_t>(bytes_[pos_++]) : 0;
  }
  const char* str() {
    if (byte() == 0)
      return nullptr;
    const size_t end = std::min(bytes_.find('\0', pos_), bytes_.size());
    strings_.push_back(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return strings_.back().c_str();
  }

 private:
  const std::string& bytes_;
  size_t pos_ = 0;
  std::deque<std::string> strings_;  // stable addresses
};

/// The encoding Reader reads, for the seed.
struct Writer {
  std::string out;
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i)
      out += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  void str(const char* s) {
    out += s ? '\1' : '\0';
    if (s)
      out += std::string(s) + '\0';
  }
};

/// A manifest the host accepts, as a plugin built here writes it.
std::string seed_manifest() {
  Writer w;
  w.u32(MIP_MANIFEST_ABI);
  w.u32(sizeof(mip::sdk::Manifest));
  w.u32(MIP_SDK_ABI);
  w.str(MIP_SDK_VERSION);
  w.str(TORCH_VERSION);
  w.u32(static_cast<uint32_t>(_GLIBCXX_USE_CXX11_ABI));
  w.u32(MIP_TORCH_CUDA);
  w.str("release");
  w.out += '\2';  // two components
  for (const char* name : {"FuzzProblem", "FuzzModel"}) {
    w.u32(name[4] == 'P' ? 1 : 2);
    w.str(name);
    w.str("Alias1,Alias2");
    w.str("one line");
    w.str("key: 1  # a default\n");
    w.out += '\3';  // create and destroy set
  }
  return w.out;
}

void check_decoded_manifest(const std::string& bytes) {
  Reader r(bytes);
  mip::sdk::Manifest m{};
  m.manifest_abi = r.u32();
  m.manifest_size = r.u32();
  m.sdk_abi = r.u32();
  m.sdk_version = r.str();
  m.torch_version = r.str();
  m.cxx11_abi = static_cast<int32_t>(r.u32());
  m.cuda = static_cast<int32_t>(r.u32());
  m.build_type = r.str();
  std::vector<mip::sdk::ComponentInfo> components(r.byte() % 9);
  for (auto& c : components) {
    c.kind = static_cast<mip::sdk::ComponentKind>(r.u32());
    c.name = r.str();
    c.aliases = r.str();
    c.description = r.str();
    c.defaults_yaml = r.str();
    const uint8_t fns = r.byte();
    c.create = (fns & 1) ? create_stub : nullptr;
    c.destroy = (fns & 2) ? destroy_stub : nullptr;
  }
  m.components = components.data();
  m.num_components = static_cast<uint32_t>(components.size());
  bool accepted = false;
  mip::fuzz::expect_only_mip_errors("check_manifest", [&] {
    mip::PluginLoader::check_manifest("fuzz.so", &m);
    accepted = true;
  });
  if (!accepted)
    return;
  // mip-plugins info streams these to std::cout: a null pointer there sets
  // badbit and every later line is silently lost.
  if (!m.sdk_version || !m.torch_version || !m.build_type) {
    std::fprintf(stderr,
                 "mip-fuzz: check_manifest accepted a manifest with a null "
                 "sdk_version, torch_version or build_type\n");
    std::abort();
  }
}

}  // namespace

/// MIP_FUZZ_WRITE_SEED=<file>: writes a seed whose first part is the file
/// named by MIP_FUZZ_SEED_ELF (empty when unset) and whose second part is an
/// accepted manifest, then exits.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  if (const char* seed = std::getenv("MIP_FUZZ_WRITE_SEED")) {
    std::string elf;
    if (const char* from = std::getenv("MIP_FUZZ_SEED_ELF")) {
      std::ifstream in(from, std::ios::binary);
      elf.assign(std::istreambuf_iterator<char>(in), {});
    }
    mip::fuzz::write_file(seed, elf + mip::fuzz::kNextFile + seed_manifest());
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = mip::fuzz::split_input(data, size, 2);
  const auto path = mip::fuzz::scratch_dir() / "libfuzz.so";
  mip::fuzz::write_file(path, parts[0]);
  mip::fuzz::expect_only_mip_errors("exported_symbols", [&] {
    const auto symbols = mip::PluginLoader::exported_symbols(path.string());
    for (const auto& s : symbols)
      (void)s.size();
  });
  if (parts.size() > 1)
    check_decoded_manifest(parts[1]);
  return 0;
}
