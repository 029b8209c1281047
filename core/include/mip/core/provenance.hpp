#pragma once

// How an experiment folder was made: provenance.yaml, one entry per
// invocation of a worker on the folder (a --resume appends one). Written by
// an observer (core/src/provenance.cpp); the functions here are what it
// records, for tools and tests. No LibTorch here.

#include <optional>
#include <string>

namespace mip {

/// The git checkout holding a path, as `git` reports it.
struct GitState {
  std::string checkout;  ///< the checkout's top folder
  std::string commit;    ///< HEAD's hash ("" when git could not tell)
  bool dirty = false;    ///< tracked files differ from HEAD
  std::string error;     ///< why commit/dirty are unknown ("" when known)
};

/// The checkout `path` (a file or folder) lies in, or nullopt when it lies
/// in none (no `.git` above it). When git is not installed or fails, the
/// result says so in `error`; this never throws.
std::optional<GitState> git_state(const std::string& path);

/// The file name of a worker's provenance record in its folder.
inline constexpr const char* kProvenanceFile = "provenance.yaml";

}  // namespace mip
