// The build-time check of mip_add_plugin(), run on each plugin right after it
// is linked (POST_BUILD); built from this file by every project that uses
// mip_add_plugin(), in or out of the source tree.
//
//   mip_plugin_check <target> <library.so> <defaults.yml>...
//
// It loads the library, reads its manifest and fails when the library
// registers no component (no MIP_REGISTER_* line: then it exports no entry
// point at all), or when a component matched none of the library's defaults
// files (the manifest then holds a null `defaults_yaml`, see
// mip/sdk/detail/register.hpp). A failing library is removed, so that the
// next build links and checks it again.
#include <dlfcn.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include <mip/sdk/manifest.hpp>
#include <mip/sdk/version.hpp>

namespace {

std::string file_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Leaves without running the library's static destructors (nor a leak
/// check when built with a sanitizer): only the verdict matters.
[[noreturn]] void finish(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(code);
}

/// Removes the library (so that the next build links and checks it again)
/// and fails the build.
[[noreturn]] void fail_build(const std::string& target,
                             const std::string& library) {
  if (::unlink(library.c_str()) == 0)
    std::fprintf(stderr, "mip_add_plugin(%s): removed [%s]\n", target.c_str(),
                 library.c_str());
  finish(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: mip_plugin_check <target> <library.so> "
                 "<defaults.yml>...\n");
    return 2;
  }
  const std::string target = argv[1];
  const std::string library = argv[2];
  std::string files;
  for (int i = 3; i < argc; ++i)
    files += (i > 3 ? ", " : "") + file_name(argv[i]);

  void* handle = ::dlopen(library.c_str(), RTLD_LAZY | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    std::fprintf(stderr,
                 "warning: mip_add_plugin(%s): cannot load [%s] to check "
                 "which defaults file each component gets: %s\n",
                 target.c_str(), library.c_str(), why ? why : "dlopen failed");
    finish(0);
  }
  using Entry = const mip::sdk::Manifest*();
  auto* entry =
      reinterpret_cast<Entry*>(::dlsym(handle, MIP_PLUGIN_ENTRY_NAME));
  const mip::sdk::Manifest* m = entry ? entry() : nullptr;
  if (m && m->manifest_abi != MIP_MANIFEST_ABI)
    finish(0);  // not this SDK's manifest: the host's checks report it
  if (!m || m->num_components == 0) {
    // Without a registration the entry point is not even emitted: every
    // worker would refuse the library, so it must not leave the build.
    std::fprintf(
        stderr,
        "error: mip_add_plugin(%s): [%s] registers no component: no "
        "MIP_REGISTER_PROBLEM or MIP_REGISTER_MODEL line was compiled into "
        "it, so no worker could use it. Add one per component at the end of "
        "its .cpp, e.g. MIP_REGISTER_MODEL(MyModel, \"MyModel\", \"one-line "
        "description\") (#include <mip/sdk/register.hpp>), and check that "
        "the file holding it is in SOURCES.\n",
        target.c_str(), library.c_str());
    fail_build(target, library);
  }

  int unmatched = 0;
  for (uint32_t i = 0; i < m->num_components; ++i) {
    const mip::sdk::ComponentInfo& c = m->components[i];
    if (c.defaults_yaml || !c.name)
      continue;
    ++unmatched;
    const char* kind =
        c.kind == mip::sdk::ComponentKind::kModel ? "model" : "problem";
    std::fprintf(
        stderr,
        "error: mip_add_plugin(%s): the %s [%s] matches none of the plugin's "
        "DEFAULTS files (%s). With several defaults files, each component "
        "gets the one whose file name, without extension, is the component's "
        "registered name in any case. Name its file %s.yml (rename it, or add "
        "it to DEFAULTS), or build [%s] as a plugin of its own with a single "
        "defaults file.\n",
        target.c_str(), kind, c.name, files.c_str(), lower(c.name).c_str(),
        c.name);
  }
  if (unmatched == 0)
    finish(0);
  fail_build(target, library);
}
