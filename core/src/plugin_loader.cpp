#include <mip/core/plugin_loader.hpp>

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>  // before boost/dll (BOOST_DLL_USE_STD_FS)

#include <c10/util/Exception.h>
#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ios>
#include <set>

#include <mip/core/text.hpp>
#include <mip/sdk/detail/torch_build.hpp>
#include <mip/sdk/error.hpp>
#include <mip/sdk/version.hpp>

namespace fs = std::filesystem;

namespace mip {

const char* to_string(sdk::ComponentKind kind) {
  return kind == sdk::ComponentKind::kProblem ? "problem" : "model";
}

[[noreturn]] void rethrow_with_context(const std::string& who) {
  try {
    throw;
  } catch (const PluginAbiError& e) {
    throw PluginAbiError(who + ": " + e.what());
  } catch (const PluginLoadError& e) {
    throw PluginLoadError(who + ": " + e.what());
  } catch (const ParameterError& e) {
    throw ParameterError(who + ": " + e.what());
  } catch (const ConfigError& e) {
    throw ConfigError(who + ": " + e.what());
  } catch (const DataError& e) {
    throw DataError(who + ": " + e.what());
  } catch (const Error& e) {
    throw Error(who + ": " + e.what());
  } catch (const c10::Error& e) {
    throw Error(who + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Error(who + ": " + e.what());
  } catch (...) {
    throw Error(who + ": unknown exception");
  }
}

namespace {

std::string exe_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

/// `path` made absolute and canonical where it can be (links resolved),
/// else as given: never throws (a link loop or an unreadable folder on the
/// way leave it as it is, for the checks that name the problem).
std::string canonical_or_same(const std::string& path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  if (ec)
    return path;
  const fs::path canon = fs::weakly_canonical(abs, ec);
  return ec ? abs.string() : canon.string();
}

/// What is wrong with a symbolic link that stat() could not follow
/// (`err`), or "" when `path` is no link.
std::string broken_link_reason(const std::string& path, int err) {
  struct stat lst {};
  if (::lstat(path.c_str(), &lst) != 0 || !S_ISLNK(lst.st_mode))
    return err == ELOOP ? "lies behind a symbolic link loop; fix or remove "
                          "the link on its path"
                        : "";
  if (err == ELOOP)
    return "is a symbolic link loop (it leads back to itself); fix or "
           "remove the link";
  std::error_code ec;
  const fs::path target = fs::read_symlink(path, ec);
  return "is a dangling symbolic link (to [" + target.string() +
         "], which does not exist); remove the link or restore its target";
}

/// Why `path` cannot be read as a plugin library, or "" when it is a
/// readable regular file (links followed).
std::string unreadable_library_reason(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (const std::string link = broken_link_reason(path, err); !link.empty())
      return link;
    if (err == ENOENT || err == ENOTDIR)
      return "file not found";
    return std::string("cannot be read (") + std::strerror(err) + ")";
  }
  if (S_ISDIR(st.st_mode))
    return "is a folder, not a library";
  if (!S_ISREG(st.st_mode))
    return "is not a regular file (a device, pipe or socket); remove it from "
           "the plugin folder";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::string("cannot be read (") + std::strerror(errno) +
           "); make it readable (chmod a+r) or remove it from the plugin "
           "folder";
  ::close(fd);
  return "";
}

/// Why the plugin folder `folder` cannot be searched, or "" when it can be
/// (or does not exist: missing folders are skipped).
std::string unusable_folder_reason(const std::string& folder) {
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0) {
    const int err = errno;
    const std::string link = broken_link_reason(folder, err);
    if (!link.empty() || err == ENOENT || err == ENOTDIR)
      return link;
    return std::string("cannot be searched (") + std::strerror(err) + ")";
  }
  if (!S_ISDIR(st.st_mode))
    return "is not a folder (a plugin path names folders; to load one "
           "library, use mip-plugins info <library.so>)";
  return "";
}

/// "1.13.0" as numbers (missing parts are -1).
std::vector<long> version_numbers(const std::string& v) {
  std::vector<long> out;
  for (const auto& part : split(v, '.')) {
    char* end = nullptr;
    const long n = std::strtol(part.c_str(), &end, 10);
    out.push_back(end != part.c_str() ? n : -1);
  }
  out.resize(3, -1);
  return out;
}

/// Why the section table of a 64-bit ELF file does not fit in the file, or
/// "". Boost.DLL's library_info trusts those sizes and allocates what they
/// claim (found by fuzz/corpus/manifest: 134 GB for a 5 KB file). Other
/// files are left to library_info, which refuses them.
std::string elf_sections_outside_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in.read(reinterpret_cast<char*>(&eh), sizeof eh) ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64)
    return "";
  in.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  auto fits = [size](uint64_t offset, uint64_t bytes) {
    return offset <= size && bytes <= size - offset;
  };
  if (eh.e_shnum == 0)
    return "";
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shstrndx >= eh.e_shnum ||
      !fits(eh.e_shoff, uint64_t(eh.e_shnum) * sizeof(Elf64_Shdr)))
    return "its section table does not fit in its " + std::to_string(size) +
           " bytes";
  in.seekg(static_cast<std::streamoff>(eh.e_shoff));
  for (uint16_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh{};
    if (!in.read(reinterpret_cast<char*>(&sh), sizeof sh))
      return "its section table cannot be read";
    if (sh.sh_type != SHT_NOBITS && !fits(sh.sh_offset, sh.sh_size))
      return "section " + std::to_string(i) + " claims " +
             std::to_string(sh.sh_size) + " bytes at offset " +
             std::to_string(sh.sh_offset) + ", the file holds " +
             std::to_string(size);
  }
  return "";
}

}  // namespace

void PluginLoader::check_manifest(const std::string& path,
                                  const sdk::Manifest* m) {
  const std::string who = "plugin [" + path + "]";
  MIP_CHECK(m != nullptr, PluginLoadError, who,
            ": its manifest entry point returned no manifest");
  // Only the first two fields are read until both match: a manifest of
  // another layout is refused, never misread.
  MIP_CHECK(m->manifest_abi == MIP_MANIFEST_ABI, PluginAbiError, who,
            ": manifest ABI [", m->manifest_abi, "], host manifest ABI [",
            MIP_MANIFEST_ABI, "] (the plugin was built by ",
            m->manifest_abi < MIP_MANIFEST_ABI ? "an older" : "a newer",
            " SDK); rebuild the plugin against this SDK");
  MIP_CHECK(m->manifest_size == sizeof(sdk::Manifest), PluginAbiError, who,
            ": manifest size [", m->manifest_size, "], host [",
            sizeof(sdk::Manifest), "]; rebuild the plugin against this SDK");
  // mip-plugins prints these strings (found by fuzz/corpus/manifest).
  MIP_CHECK(m->sdk_version && m->torch_version && m->build_type, PluginAbiError,
            who,
            ": its manifest lacks its SDK version, LibTorch version or build "
            "type; rebuild the plugin with mip_add_plugin()");
  MIP_CHECK(m->sdk_abi == MIP_SDK_ABI, PluginAbiError, who, ": SDK ABI [",
            m->sdk_abi, "] (SDK ", (m->sdk_version ? m->sdk_version : "?"),
            "), host SDK ABI [", MIP_SDK_ABI, "] (SDK ", MIP_SDK_VERSION,
            "); rebuild the plugin against this SDK");
  // The exact release: LibTorch promises no C++ ABI between any two of
  // them, and a plugin inlines LibTorch's headers (docs/sdk.md §7).
  const std::string torch = m->torch_version ? m->torch_version : "?";
  const auto got = version_numbers(torch);
  const auto host = version_numbers(MIP_DETAIL_TORCH_VERSION);
  MIP_CHECK(got == host, PluginAbiError, who, ": LibTorch [", torch,
            "], host LibTorch [", MIP_DETAIL_TORCH_VERSION, "]",
            got[0] == host[0] && got[1] == host[1]
                ? " (only the patch release differs, but LibTorch keeps no "
                  "C++ ABI between releases)"
                : "",
            "; build the plugin with the same LibTorch");
  MIP_CHECK(m->cxx11_abi == _GLIBCXX_USE_CXX11_ABI, PluginAbiError, who,
            ": _GLIBCXX_USE_CXX11_ABI [", m->cxx11_abi, "], host [",
            _GLIBCXX_USE_CXX11_ABI,
            "]; build the plugin with the host's C++ ABI (use mip_add_plugin)");
  MIP_CHECK(m->cuda == MIP_DETAIL_TORCH_CUDA, PluginAbiError, who, ": CUDA [",
            m->cuda ? "on" : "off", "], host CUDA [",
            MIP_DETAIL_TORCH_CUDA ? "on" : "off",
            "] (from the LibTorch headers each was compiled with); build the "
            "plugin against the host's LibTorch");
  for (uint32_t i = 0; i < m->num_components; ++i) {
    const auto& c = m->components[i];
    MIP_CHECK(c.name && c.create && c.destroy &&
                  (c.kind == sdk::ComponentKind::kProblem ||
                   c.kind == sdk::ComponentKind::kModel),
              PluginAbiError, who, ": component ", i,
              " of its manifest is malformed");
  }
}

std::vector<std::string> PluginLoader::search_path(
    const std::vector<std::string>& cli_paths,
    const std::vector<std::string>& config_paths) {
  std::vector<std::string> all;
  for (const auto& p : cli_paths)
    for (const auto& q : split_skip_empty(p, ':'))
      all.push_back(q);
  for (const auto& p : config_paths)
    for (const auto& q : split_skip_empty(p, ':'))
      all.push_back(q);
  if (const char* env = std::getenv("MIP_PLUGIN_PATH"))
    for (const auto& q : split_skip_empty(env, ':'))
      all.push_back(q);
  const std::string exe = exe_dir();
  if (!exe.empty())
    all.push_back((fs::path(exe) / ".." / MIP_RELATIVE_PLUGIN_DIR).string());
#ifdef MIP_INSTALL_PLUGIN_DIR
  all.push_back(MIP_INSTALL_PLUGIN_DIR);
#endif
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& p : all) {
    const std::string key = canonical_or_same(p);
    if (seen.insert(key).second)
      out.push_back(key);
  }
  return out;
}

PluginLoader::PluginLoader(std::vector<std::string> folders)
    : folders_(std::move(folders)) {}

std::vector<std::string> PluginLoader::exported_symbols(
    const std::string& path) {
  const std::string who = "plugin [" + path + "]";
  const std::string unreadable = unreadable_library_reason(path);
  MIP_CHECK(unreadable.empty(), PluginLoadError, who, ": ", unreadable);
  const std::string damaged = elf_sections_outside_file(path);
  MIP_CHECK(damaged.empty(), PluginLoadError, who,
            ": not a shared library (truncated or damaged ELF file: ", damaged,
            "); remove it from the plugin folder");
  try {
    boost::dll::library_info info(boost::dll::fs::path(path), true);
    return info.symbols();
  } catch (const std::ios_base::failure&) {
    // Boost reads the ELF headers with stream exceptions on: their text
    // ("basic_ios::clear: iostream error") says nothing to a user.
    throw PluginLoadError(who +
                          ": not a shared library (it ends before its ELF "
                          "headers do: truncated or damaged); rebuild it or "
                          "remove it from the plugin folder");
  } catch (const std::exception& e) {
    throw PluginLoadError(who + ": not a shared library (" + e.what() +
                          "); remove it from the plugin folder");
  }
}

std::shared_ptr<PluginLibrary> PluginLoader::open(const std::string& path) {
  const std::string who = "plugin [" + path + "]";
  // Read the exported symbols without running any of the library's code.
  const std::vector<std::string> symbols = exported_symbols(path);
  const bool has_entry = std::find(symbols.begin(), symbols.end(),
                                   MIP_PLUGIN_ENTRY_NAME) != symbols.end();
  MIP_CHECK(has_entry, PluginLoadError, who,
            ": no MI-Prometheus manifest (the library exports no ",
            MIP_PLUGIN_ENTRY_NAME,
            "); register a component with MIP_REGISTER_PROBLEM or "
            "MIP_REGISTER_MODEL and build it with mip_add_plugin()");
  auto lib = std::make_shared<boost::dll::shared_library>();
  const auto mode = boost::dll::load_mode::rtld_lazy |
                    boost::dll::load_mode::rtld_local |
                    static_cast<boost::dll::load_mode::type>(RTLD_NODELETE);
  boost::system::error_code bec;
  lib->load(boost::dll::fs::path(path), mode, bec);
  if (bec || !lib->is_loaded()) {
    // Boost reports only a code; dlopen itself says why.
    void* h = ::dlopen(path.c_str(), RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
    const char* why = h ? nullptr : ::dlerror();
    if (h)
      ::dlclose(h);
    throw PluginLoadError(who +
                          ": dlopen failed: " + (why ? why : bec.message()));
  }
  using Entry = const sdk::Manifest*();
  MIP_CHECK(lib->has(MIP_PLUGIN_ENTRY_NAME), PluginLoadError, who,
            ": no MI-Prometheus manifest (", MIP_PLUGIN_ENTRY_NAME,
            " cannot be resolved)");
  const sdk::Manifest* manifest = nullptr;
  try {
    manifest = lib->get<Entry>(MIP_PLUGIN_ENTRY_NAME)();
  } catch (...) {
    rethrow_with_context(who + " manifest");
  }
  check_manifest(path, manifest);
  auto out = std::make_shared<PluginLibrary>();
  out->path = path;
  out->manifest = manifest;
  out->handle = lib;
  return out;
}

void PluginLoader::index(const std::shared_ptr<PluginLibrary>& lib,
                         size_t rank) {
  const sdk::Manifest* m = lib->manifest;
  for (uint32_t i = 0; i < m->num_components; ++i) {
    const sdk::ComponentInfo& info = m->components[i];
    Component c;
    c.kind = info.kind;
    c.name = info.name;
    if (info.aliases)
      c.aliases = split_skip_empty(info.aliases, ',');
    c.description = info.description ? info.description : "";
    c.defaults_yaml = info.defaults_yaml ? info.defaults_yaml : "";
    c.library = lib;
    c.info = &info;
    std::vector<std::string> names = c.aliases;
    names.insert(names.begin(), c.name);
    for (const auto& n : names) {
      for (size_t j = 0; j < components_.size(); ++j) {
        const Component& other = components_[j];
        if (other.kind != c.kind)
          continue;
        const bool clash = other.name == n ||
                           std::find(other.aliases.begin(), other.aliases.end(),
                                     n) != other.aliases.end();
        if (!clash)
          continue;
        if (component_rank_[j] == rank) {
          duplicates_.push_back(std::string(to_string(c.kind)) + ":" + n);
          warnings_.push_back(std::string(to_string(c.kind)) + " [" + n +
                              "] is provided by both [" + other.library->path +
                              "] and [" + lib->path + "]");
        } else {
          warnings_.push_back(std::string(to_string(c.kind)) + " [" + n +
                              "] of [" + lib->path + "] is shadowed by [" +
                              other.library->path +
                              "], which comes earlier in the plugin path");
        }
      }
    }
    components_.push_back(std::move(c));
    component_rank_.push_back(rank);
  }
}

void PluginLoader::load(const std::string& path, size_t rank) {
  // A broken link is named as the user wrote it, not by its resolved target.
  const std::string unreadable = unreadable_library_reason(path);
  MIP_CHECK(unreadable.empty(), PluginLoadError, "plugin [", path,
            "]: ", unreadable);
  const std::string canon = canonical_or_same(path);
  if (std::find(loaded_paths_.begin(), loaded_paths_.end(), canon) !=
      loaded_paths_.end())
    return;
  loaded_paths_.push_back(canon);
  const std::string why = allow_insecure_ ? "" : insecure_reason(canon);
  MIP_CHECK(why.empty(), PluginLoadError, why);
  index(open(canon), rank);
}

void PluginLoader::add_library(const std::string& path) {
  load(path, folders_.size());
}

std::string PluginLoader::insecure_reason(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !(st.st_mode & S_IWOTH))
    return "";
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o",
                static_cast<unsigned>(st.st_mode & 07777));
  const bool dir = S_ISDIR(st.st_mode);
  return std::string("plugin ") + (dir ? "folder" : "library") + " [" + path +
         "] is writable by every user (mode " + mode +
         "): loading a library runs its code, so anyone could run code as you. "
         "Fix it "
         "with: chmod o-w " +
         path + " (or pass --allow-insecure-plugin-dir)";
}

void PluginLoader::discover() {
  if (discovered_)
    return;
  discovered_ = true;
  for (size_t rank = 0; rank < folders_.size(); ++rank) {
    const std::string& folder = folders_[rank];
    std::string why = unusable_folder_reason(folder);
    std::error_code ec;
    if (why.empty() && !fs::is_directory(folder, ec))
      continue;  // missing: skipped (the default folders often are)
    if (why.empty() && !allow_insecure_)
      why = insecure_reason(folder);
    else if (!why.empty())
      why = "plugin folder [" + folder + "] " + why;
    if (!why.empty()) {
      failures_.push_back({folder, why});
      continue;
    }
    // Every name ending in .so, whatever it is: a link that leads nowhere or
    // a file that cannot be read is reported, not skipped in silence.
    std::vector<std::string> files;
    fs::directory_iterator it(folder, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.size() > 3 && name.compare(name.size() - 3, 3, ".so") == 0)
        files.push_back(it->path().string());
    }
    if (ec)
      failures_.push_back({folder, "plugin folder [" + folder +
                                       "] cannot be read (" + ec.message() +
                                       "); its libraries are not loaded"});
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      try {
        load(f, rank);
      } catch (const Error& e) {
        failures_.push_back({f, e.what()});
      }
    }
  }
}

const Component& PluginLoader::find(sdk::ComponentKind kind,
                                    const std::string& name) {
  discover();
  const std::string key = std::string(to_string(kind)) + ":" + name;
  if (std::find(duplicates_.begin(), duplicates_.end(), key) !=
      duplicates_.end()) {
    std::string which;
    for (const auto& c : components_)
      if (c.kind == kind &&
          (c.name == name || std::find(c.aliases.begin(), c.aliases.end(),
                                       name) != c.aliases.end()))
        which += " [" + c.library->path + "]";
    throw PluginLoadError(std::string(to_string(kind)) + " [" + name +
                          "] is provided by more than one plugin:" + which +
                          "; remove one of them from the plugin folder");
  }
  for (const auto& c : components_) {
    if (c.kind != kind)
      continue;
    if (c.name == name ||
        std::find(c.aliases.begin(), c.aliases.end(), name) != c.aliases.end())
      return c;
  }
  std::vector<std::string> names;
  for (const auto& c : components_) {
    if (c.kind != kind)
      continue;
    names.push_back(c.name);
    names.insert(names.end(), c.aliases.begin(), c.aliases.end());
  }
  std::string msg = "no plugin provides the " + std::string(to_string(kind)) +
                    " [" + name + "]";
  if (const auto hint = did_you_mean_any(name, names); !hint.empty())
    msg += "; " + hint;
  std::string known;
  for (const auto& n : names)
    known += " " + n;
  msg += "\n  known " + std::string(to_string(kind)) +
         "s:" + (known.empty() ? " (none)" : known);
  msg += "\n  plugin folders searched:";
  for (const auto& f : folders_) {
    std::error_code ec;
    msg += "\n    " + f + (fs::is_directory(f, ec) ? "" : " (missing)");
  }
  for (const auto& f : failures_)
    msg += "\n  could not load " + f.path + ":\n    " + f.reason;
  msg +=
      "\n  (mip-plugins list shows what is installed; --plugin-path or "
      "MIP_PLUGIN_PATH add folders)";
  throw PluginLoadError(msg);
}

namespace {
/// Calls a component's factory; the object's deleter keeps its library alive.
template <typename T>
std::shared_ptr<T> create_component(const Component& c, sdk::Context& ctx) {
  void* raw = nullptr;
  try {
    raw = c.info->create(ctx);
  } catch (...) {
    rethrow_with_context(std::string(to_string(c.kind)) + " [" + c.name +
                         "] of plugin [" + c.library->path + "]");
  }
  auto destroy = c.info->destroy;
  auto lib = c.library;
  return std::shared_ptr<T>(static_cast<T*>(raw),
                            [destroy, lib](T* p) { destroy(p); });
}
}  // namespace

std::shared_ptr<sdk::Problem> PluginLoader::create_problem(
    const Component& c, sdk::Context& ctx) const {
  MIP_INTERNAL_ASSERT(c.kind == sdk::ComponentKind::kProblem);
  return create_component<sdk::Problem>(c, ctx);
}

std::shared_ptr<sdk::Model> PluginLoader::create_model(
    const Component& c, sdk::Context& ctx) const {
  MIP_INTERNAL_ASSERT(c.kind == sdk::ComponentKind::kModel);
  return create_component<sdk::Model>(c, ctx);
}

}  // namespace mip
