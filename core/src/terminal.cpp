// The console and its status line (mip/core/terminal.hpp).
#include <mip/core/terminal.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace mip {

namespace {

/// "\r" then "clear to the end of the line" (ANSI EL, understood by every
/// terminal emulator but the dumb one).
constexpr const char* kEraseLine = "\r\x1b[K";

/// Whether a status line is on the screen; read by a signal handler (a
/// lock-free atomic is async-signal-safe, the mutex below is not).
std::atomic<bool> g_drawn{false};

struct StatusLine {
  std::mutex mutex;  ///< held while anything is written to the console
  std::string text;  ///< the line to show ("" for none)

  void erase() {
    if (!g_drawn.load())
      return;
    std::fputs(kEraseLine, stderr);
    std::fflush(stderr);
    g_drawn.store(false);
  }
  void draw() {
    if (text.empty())
      return;
    std::fputs(kEraseLine, stderr);
    std::fputs(text.c_str(), stderr);
    std::fflush(stderr);
    g_drawn.store(true);
  }
};

StatusLine& status() {
  static StatusLine s;
  return s;
}

}  // namespace

bool console_is_terminal() {
  static const bool terminal = [] {
    if (::isatty(STDERR_FILENO) == 0)
      return false;
    const char* term = std::getenv("TERM");
    return term == nullptr || std::strcmp(term, "dumb") != 0;
  }();
  return terminal;
}

int console_width() {
  winsize w{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0)
    return w.ws_col;
  return 80;
}

void status_line_show(const std::string& line) {
  if (!console_is_terminal())
    return;
  StatusLine& s = status();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.text = line;
  s.draw();
}

void status_line_erase_in_signal_handler() {
  static_assert(std::atomic<bool>::is_always_lock_free);
  if (!g_drawn.exchange(false))
    return;
  // write(2) only: stdio may be mid-call in the interrupted thread. A line
  // being drawn at this moment may still put its tail after the erase.
  const ssize_t ignored = ::write(STDERR_FILENO, kEraseLine, 4);
  (void)ignored;
}

void status_line_clear() {
  StatusLine& s = status();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.erase();
  s.text.clear();
}

void console_print(const std::string& text) {
  ConsoleWriteGuard guard;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

ConsoleWriteGuard::ConsoleWriteGuard() {
  StatusLine& s = status();
  s.mutex.lock();
  s.erase();
}

ConsoleWriteGuard::~ConsoleWriteGuard() {
  StatusLine& s = status();
  s.draw();
  s.mutex.unlock();
}

}  // namespace mip
