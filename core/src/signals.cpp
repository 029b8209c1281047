// Signals: a flag the loops poll, so that a run saves and stops; a status
// written from the handler when a signal ends the process at once.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <mip/core/signals.hpp>
#include <mip/core/terminal.hpp>

namespace mip {

namespace {

std::atomic<int> g_stop_signal{0};

/// The killed status, rendered ahead. Two slots: the status observer fills
/// the one not in use, then switches, so a handler never reads a slot being
/// written (status writes are seconds apart, a handler takes microseconds).
struct KilledStatus {
  std::string path, tmp, before, after;
};
KilledStatus g_killed[2];
std::atomic<int> g_killed_slot{-1};

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

/// Async-signal-safe: open, write, close, rename, unlink only.
void write_killed_status(int sig) {
  const int slot = g_killed_slot.exchange(-1);  // once
  if (slot < 0)
    return;
  const KilledStatus& k = g_killed[slot];
  const int saved_errno = errno;
  const int fd =
      ::open(k.tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    const char* name = signal_name(sig);
    const bool ok = write_all(fd, k.before.data(), k.before.size()) &&
                    write_all(fd, name, std::strlen(name)) &&
                    write_all(fd, k.after.data(), k.after.size());
    ::close(fd);
    if (!ok || ::rename(k.tmp.c_str(), k.path.c_str()) != 0)
      ::unlink(k.tmp.c_str());
  }
  errno = saved_errno;
}

void die_by(int sig) {
  write_killed_status(sig);
  status_line_erase_in_signal_handler();  // no progress text left behind
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);  // delivered when the handler returns
}

extern "C" void mip_on_stop_signal(int sig) {
  int none = 0;
  if (!g_stop_signal.compare_exchange_strong(none, sig))
    die_by(sig);  // the second one: stop at once
}

extern "C" void mip_on_quit_signal(int sig) {
  die_by(sig);
}

void handle(int sig, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(sig, &sa, nullptr);
}

}  // namespace

void install_stop_handlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP})
    handle(sig, mip_on_stop_signal);
  handle(SIGQUIT, mip_on_quit_signal);
  handle(SIGPIPE, SIG_IGN);
}

int stop_requested() {
  return g_stop_signal.load();
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGKILL:  // the ones that end a child (the grid workers name them)
      return "SIGKILL";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
  }
  return "a signal";
}

void set_killed_status(const std::string& path,
                       const std::string& before,
                       const std::string& after) {
  const int slot = g_killed_slot.load() == 0 ? 1 : 0;
  // Its own temporary name: the main thread may be writing path.tmp.<pid>.
  g_killed[slot] = {path, path + ".killed.tmp." + std::to_string(::getpid()),
                    before, after};
  g_killed_slot.store(slot);
}

void clear_killed_status() {
  g_killed_slot.store(-1);
}

}  // namespace mip
