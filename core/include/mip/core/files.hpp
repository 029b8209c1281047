#pragma once

#include <map>
#include <string>

namespace mip {

/// Writes `content` to `path` atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over `path`. A crash leaves the old file.
void write_file_atomic(const std::string& path, const std::string& content);

/// Reads a whole text file; throws mip::Error naming the file.
std::string read_text_file(const std::string& path);

}  // namespace mip
