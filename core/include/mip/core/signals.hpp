#pragma once

#include <string>

namespace mip {

/// SIGINT, SIGTERM and SIGHUP set a flag the loops poll (the run saves and
/// stops); a second one of them, or SIGQUIT, writes the killed status (below)
/// and ends the process at once with the signal's default action. SIGPIPE is
/// ignored: a closed pipe is a write error, not a silent death. Idempotent;
/// installed when a worker starts.
void install_stop_handlers();
/// The signal received since the handlers were installed, or 0.
int stop_requested();
/// "SIGINT", "SIGTERM", "SIGKILL", ... ("a signal" for others).
const char* signal_name(int sig);

/// The status.yaml text a killing signal writes to `path`: `before`, the
/// signal's name, `after`. Rendered ahead by the status observer, because a
/// signal handler may only do async-signal-safe work (open, write, rename).
void set_killed_status(const std::string& path,
                       const std::string& before,
                       const std::string& after);
/// No status to write on a kill any more (the run has ended).
void clear_killed_status();

}  // namespace mip
