#pragma once

// The console a worker writes to: log lines on stderr, the end-of-run summary
// on stdout, and, when stderr is a terminal, one status line (the progress)
// redrawn in place below the log. Every console write goes through here, so
// that a log line never lands in the middle of the status line: the line is
// erased, the text written, the line drawn again. Not a terminal (a pipe, a
// file, CI): no status line, and nothing here writes a control character.

#include <string>

namespace mip {

/// True when stderr is a terminal that can redraw a line (not TERM=dumb).
/// Decided once per process.
bool console_is_terminal();

/// The width of the terminal on stderr in columns (80 when unknown).
int console_width();

/// Shows `line` as the status line (on a terminal only; the caller keeps it
/// narrower than console_width(), so that it never wraps).
void status_line_show(const std::string& line);

/// Erases the status line; nothing is shown until the next status_line_show.
void status_line_clear();

/// Erases the status line if one is on the screen, from a signal handler
/// about to end the process (async-signal-safe: one write(2)).
void status_line_erase_in_signal_handler();

/// Writes `text` to stdout above the status line (the end-of-run summary: it
/// is the run's result, shown whatever the log level).
void console_print(const std::string& text);

/// Held while a log line is written to the console: hides the status line
/// and draws it again afterwards (used by the console log sink).
class ConsoleWriteGuard {
 public:
  ConsoleWriteGuard();
  ~ConsoleWriteGuard();
  ConsoleWriteGuard(const ConsoleWriteGuard&) = delete;
  ConsoleWriteGuard& operator=(const ConsoleWriteGuard&) = delete;
};

}  // namespace mip
