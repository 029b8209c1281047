#include <mip/core/files.hpp>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <mip/sdk/error.hpp>

namespace mip {

namespace {

std::string human_bytes(unsigned long long n) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[48];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu bytes", n);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

/// Writes all of `content` to `fd`; returns 0 or the errno of the failure.
int write_all(int fd, const std::string& content) {
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    if (n == 0)
      return ENOSPC;
    done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

std::string write_error_text(const std::string& path, int err) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty())
    dir = ".";
  std::string out = std::strerror(err);
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) == 0)
    out += "; " +
           human_bytes(static_cast<unsigned long long>(fs.f_bavail) *
                       fs.f_frsize) +
           " free on the file system of [" + dir + "]";
  return out;
}

void throw_write_error(const std::string& path, int err) {
  std::string what =
      "cannot write [" + path + "]: " + write_error_text(path, err);
  if (err == ENOSPC || err == EDQUOT)
    what +=
        ". Free space (or choose another --expdir) and continue with "
        "--resume <experiment folder>; the checkpoints already written are "
        "kept";
  throw Error(what);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw_write_error(path, errno);
  int err = write_all(fd, content);
  // A full disk may only show at fsync or close (delayed allocation, NFS).
  if (err == 0 && ::fsync(fd) != 0 && errno != EINVAL)
    err = errno;
  if (::close(fd) != 0 && err == 0 && errno != EINTR)
    err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    throw_write_error(path, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot rename [" + tmp + "] to [" + path +
                "]: " + std::strerror(err));
  }
}

void overwrite_file_in_place(const std::string& path,
                             const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    throw_write_error(path, errno);
  int err = write_all(fd, content);
  if (err == 0 && ::ftruncate(fd, static_cast<off_t>(content.size())) != 0)
    err = errno;
  if (err == 0 && ::fsync(fd) != 0 && errno != EINVAL)
    err = errno;
  ::close(fd);
  if (err != 0)
    throw_write_error(path, err);
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MIP_CHECK(in.good(), Error, "cannot read [", path,
            "]: ", std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mip
