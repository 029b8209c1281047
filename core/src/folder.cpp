// The experiment folder's integrity: its lock, its run identity, and the
// repairs a resume makes to what a killed process left.
#include <mip/core/folder.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/crc.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>

#include <mip/core/files.hpp>
#include <mip/core/text.hpp>
#include <mip/sdk/error.hpp>

namespace fs = std::filesystem;

namespace mip {

namespace {
const std::string kRunIdPrefix = "# Run id: ";
const std::string kRerunPrefix = "# Rerun: ";

std::string hex(uint64_t v, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%0*llx", digits,
                static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

uint32_t crc32_update(uint32_t crc, const void* data, size_t n) {
  // Boost takes the register unreflected and before the final XOR: undo both
  // to continue from a finished checksum.
  uint32_t reg = crc ^ 0xFFFFFFFFu, reflected = 0;
  for (int i = 0; i < 32; ++i, reg >>= 1)
    reflected = (reflected << 1) | (reg & 1u);
  boost::crc_32_type c;
  c.reset(reflected);
  c.process_bytes(data, n);
  return c.checksum();
}

std::string crc_hex(uint32_t crc) {
  return hex(crc, 8);
}

std::string text_digest(const std::string& text) {
  return crc_hex(crc32_update(0, text.data(), text.size()));
}

// --- the lock
// ------------------------------------------------------------------

FolderLock::~FolderLock() {
  if (fd_ >= 0)
    ::close(fd_);  // releases the flock
}

void FolderLock::acquire(const std::string& dir) {
  const std::string path = (fs::path(dir) / ".lock").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  MIP_CHECK(fd >= 0, Error, "cannot open the lock file [", path,
            "]: ", std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? trim(std::string(buf, n)) : "";
    MIP_CHECK(err == EWOULDBLOCK, Error, "cannot lock [", path,
              "]: ", std::strerror(err));
    throw Error("experiment folder [" + dir +
                "] is in use by another process (PID " +
                (holder.empty() ? "unknown" : holder) + ", holding [" + path +
                "]); wait until it ends or stop it, then run again");
  }
  // The PID is for the message of a refused process; the flock is the lock.
  // On a full disk it cannot be written: the run's first real write says so.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) !=
                                     static_cast<ssize_t>(pid.size()))
    (void)::ftruncate(fd, 0);
  fd_ = fd;
}

int remove_temporaries(const std::string& dir) {
  int removed = 0;
  for (const fs::path& d : {fs::path(dir), fs::path(dir) / "models"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      const std::string name = e.path().filename().string();
      const auto at = name.rfind(".tmp.");
      if (at == std::string::npos || at + 5 == name.size() ||
          name.find_first_not_of("0123456789", at + 5) != std::string::npos)
        continue;
      if (fs::remove(e.path(), ec))
        ++removed;
    }
  }
  return removed;
}

// --- identity
// ------------------------------------------------------------------

std::string new_run_id() {
  std::random_device rd;
  const uint64_t v = (static_cast<uint64_t>(rd()) << 32) | rd();
  return hex(v, 16);
}

std::string run_id_line(const std::string& run_id) {
  return kRunIdPrefix + run_id + "\n";
}

SavedConfiguration read_saved_configuration(const std::string& path) {
  const std::string text = read_text_file(path);
  SavedConfiguration s;
  s.digest = text_digest(text);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line) && line.rfind("#", 0) == 0) {
    if (line.rfind(kRunIdPrefix, 0) == 0)
      s.run_id = trim(line.substr(kRunIdPrefix.size()));
    else if (line.rfind(kRerunPrefix, 0) == 0)
      s.worker = split(line.substr(kRerunPrefix.size()), ' ').front();
  }
  return s;
}

// --- statistics files
// ----------------------------------------------------------

std::string repair_csv(const std::string& path,
                       int64_t last_episode,
                       bool every_episode) {
  const std::string name = fs::path(path).filename().string();
  if (!fs::exists(path)) {
    MIP_CHECK(!every_episode || last_episode < 0, Error, "[", path,
              "] is missing, but the checkpoint covers episodes 0 to ",
              last_episode,
              "; restore the file, or start a new run (--config)");
    return "";
  }
  const std::string text = read_text_file(path);
  const auto header_end = text.find('\n');
  if (header_end == std::string::npos) {  // the header was cut
    fs::remove(path);
    return name + ": a partial header";
  }
  size_t column = std::string::npos, i = 0;
  for (const auto& cell : split(text.substr(0, header_end), ',')) {
    if (cell == "episode")
      column = i;
    ++i;
  }
  std::string out = text.substr(0, header_end + 1);
  int64_t cut = 0, after = 0, expected = 0, first_missing = -1;
  size_t at = header_end + 1;
  while (at < text.size()) {
    const auto end = text.find('\n', at);
    if (end == std::string::npos) {  // cut by a kill
      ++cut;
      break;
    }
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    if (line.empty())
      continue;
    int64_t episode = -1;
    const auto cells = split(line, ',');
    if (column < cells.size()) {
      try {
        episode = std::stoll(cells[column]);
      } catch (const std::exception&) {
        episode = -1;
      }
    }
    if (column != std::string::npos && episode > last_episode) {
      ++after;
      continue;
    }
    if (every_episode && first_missing < 0 && episode != expected)
      first_missing = expected;
    ++expected;
    out += line + "\n";
  }
  if (every_episode && first_missing < 0 && expected != last_episode + 1)
    first_missing = expected;
  MIP_CHECK(first_missing < 0, Error, "[", path,
            "] lacks rows: the checkpoint covers episodes 0 to ", last_episode,
            " but the file has no row for episode ", first_missing,
            " (rows 0 to ", last_episode,
            " must be there); restore the file, or start a new run (--config)");
  if (cut == 0 && after == 0)
    return "";
  write_file_atomic(path, out);
  std::string what = name + ":";
  if (cut)
    what += " a row cut in half";
  if (after)
    what += std::string(cut ? " and" : "") + " " + std::to_string(after) +
            " rows after episode " + std::to_string(last_episode);
  return what;
}

}  // namespace mip
