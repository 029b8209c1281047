#pragma once

#include <map>
#include <string>

namespace mip {

/// Writes `content` to `path` atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over `path`. A crash leaves the old file; a
/// failed write (a full disk) removes the temporary file, leaves the old file
/// and throws mip::Error naming `path` and the free space.
void write_file_atomic(const std::string& path, const std::string& content);

/// Rewrites an existing `path` in place (not atomic): the fallback of a
/// small file on a full disk, where its own blocks are all there is.
/// Throws mip::Error naming `path` and the free space.
void overwrite_file_in_place(const std::string& path,
                             const std::string& content);

/// Reads a whole text file; throws mip::Error naming the file.
std::string read_text_file(const std::string& path);

/// "No space left on device; 0 bytes free on the file system of [dir]" for
/// the error `err` of a write to `path` (the free space from statvfs).
std::string write_error_text(const std::string& path, int err);

/// Throws mip::Error: "cannot write [path]: " + write_error_text(...) + what
/// to do.
[[noreturn]] void throw_write_error(const std::string& path, int err);

}  // namespace mip
