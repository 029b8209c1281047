// What the fuzz targets share: splitting one input into several files, a
// scratch folder, and the rule for what counts as a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>
#include <vector>

#include <mip/sdk/error.hpp>

namespace mip::fuzz {

/// The separator between the files of one input (a line of its own, so that
/// text seeds stay readable and binary seeds can carry it too).
inline const std::string kNextFile = "\n=== mip-fuzz next file ===\n";

/// Splits `data` at every kNextFile into at most `max_parts` parts (the last
/// part keeps any further separators).
inline std::vector<std::string> split_input(const uint8_t* data,
                                            size_t size,
                                            size_t max_parts) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  size_t begin = 0;
  while (parts.size() + 1 < max_parts) {
    const size_t at = all.find(kNextFile, begin);
    if (at == std::string::npos)
      break;
    parts.push_back(all.substr(begin, at - begin));
    begin = at + kNextFile.size();
  }
  parts.push_back(all.substr(begin));
  return parts;
}

/// A folder of this process under the temp dir, removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "mip-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mip-fuzz: mkdtemp");
      std::abort();
    }
    static const std::string keep = tmpl;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(keep, ec);
    });
    return std::filesystem::path(tmpl);
  }();
  return dir;
}

/// Writes `bytes` to `path` (folders created); aborts when it cannot, since
/// the input then never reaches the reader.
inline void write_file(const std::filesystem::path& path,
                       const std::string& bytes) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "mip-fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

/// Runs `f`. A mip::Error is the documented answer to a bad input (the
/// workers print it and exit with its code); anything else escaping is a
/// finding: a raw library message would reach the user, so it aborts.
/// MIP_FUZZ_VERBOSE=1 prints the mip::Error messages too.
template <typename F>
void expect_only_mip_errors(const char* what, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    if (std::getenv("MIP_FUZZ_VERBOSE"))
      std::fprintf(stderr, "mip-fuzz: %s: %s\n", what, e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mip-fuzz: %s let a %s escape: %s\n", what,
                 typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "mip-fuzz: %s let a non-std exception escape\n", what);
    std::abort();
  }
}

}  // namespace mip::fuzz
