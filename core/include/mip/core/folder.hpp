#pragma once

// An experiment folder belongs together: one process at a time writes it (a
// lock), its checkpoints carry the run's identity and the saved
// configuration's digest, and what a killed process left half-done (temporary
// files, a row cut in half, rows past the checkpoint) is cleaned up before a
// resume continues.

#include <cstddef>
#include <cstdint>
#include <string>

namespace mip {

/// CRC-32 (the zip/PNG polynomial) of `n` bytes, continuing from `crc`.
uint32_t crc32_update(uint32_t crc, const void* data, size_t n);

/// A CRC-32 as 8 hex digits.
std::string crc_hex(uint32_t crc);

/// The digest of a text as 8 hex digits (CRC-32).
std::string text_digest(const std::string& text);

/// An exclusive advisory lock (flock) on `<dir>/.lock` for as long as the
/// object lives; the file holds the holder's PID. The kernel releases it when
/// the process dies, so the file of a killed run is no obstacle.
class FolderLock {
 public:
  FolderLock() = default;
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  /// Takes the lock of `dir`; throws mip::Error naming the holder's PID when
  /// another process holds it.
  void acquire(const std::string& dir);
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// Removes the temporary files (`*.tmp.<pid>`) that killed processes left in
/// `dir` and `dir`/models; call with the folder's lock held. Returns how many.
int remove_temporaries(const std::string& dir);

/// A new run id: 16 random hex digits.
std::string new_run_id();

/// What training_configuration.yaml's header says about its run.
struct SavedConfiguration {
  std::string run_id;  ///< "" in folders of 0.1.0
  std::string worker;  ///< the trainer that wrote it ("" when not said)
  std::string digest;  ///< text_digest of the file as it is now
};

/// Reads the header and the digest of a saved training_configuration.yaml.
SavedConfiguration read_saved_configuration(const std::string& path);

/// The header line that records the run id.
std::string run_id_line(const std::string& run_id);

/// Brings a statistics CSV back to the rows up to `last_episode` (a resume's
/// checkpoint; -1: none): a last row without its newline (cut by a kill) and
/// rows after `last_episode` are removed. When `every_episode`, the file must
/// hold one row for each episode 0..last_episode, else mip::Error names the
/// file and the missing rows. A file without a complete header is removed
/// (written again from the start). Returns a description of what was removed
/// ("" when nothing).
std::string repair_csv(const std::string& path,
                       int64_t last_episode,
                       bool every_episode);

}  // namespace mip
