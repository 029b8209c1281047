// A real full disk for the tests: a size-limited tmpfs mounted in a private
// mount namespace (unshare -m, as root); tests skip where mounting is
// refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/worker_runs.hpp"

namespace mip::test {

constexpr uint64_t kPage = 4096;  ///< tmpfs allocates whole pages

/// Runs `script` (sh) with a tmpfs of `size` mounted at `mnt` in a private
/// mount namespace; what the tmpfs holds afterwards is copied to `out` (the
/// tmpfs goes with the namespace). Exit 97: the mount was refused.
inline RunResult in_tmpfs(const TempDir& d,
                          const std::string& size,
                          const std::string& script) {
  const std::string mnt = d.str() + "/mnt", out = d.str() + "/out";
  fs::create_directories(mnt);
  fs::create_directories(out);
  const std::string file =
      d.write("in_tmpfs.sh", "mount -t tmpfs -o size=" + size + " tmpfs " +
                                 mnt + " || exit 97\nMNT=" + mnt + "\n" +
                                 script + "\nrc=$?\ncp -a " + mnt + "/. " +
                                 out + "/\nexit $rc\n");
  return run("unshare -m sh " + file);
}

/// Why a full disk cannot be made here ("" when it can).
inline std::string tmpfs_refused(const TempDir& d) {
  const RunResult r = in_tmpfs(d, "64k", "true");
  return r.code == 0 ? "" : "cannot mount a tmpfs (" + r.output + ")";
}

/// A shell line filling $MNT so that about `leave` bytes stay free.
inline std::string fill_leaving(uint64_t leave) {
  return "head -c $(( $(df -B1 --output=avail $MNT | tail -1) - " +
         std::to_string(leave) + " )) /dev/zero > $MNT/fill 2>/dev/null\n";
}

/// The bytes a folder takes on a tmpfs (every file in whole pages).
inline uint64_t pages_of(const fs::path& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      total += (e.file_size() + kPage - 1) / kPage * kPage;
  return total;
}

}  // namespace mip::test
