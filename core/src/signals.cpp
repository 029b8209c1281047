// SIGINT/SIGTERM: a flag the loops poll, so that a run saves and stops.
#include <atomic>
#include <csignal>

#include <mip/core/signals.hpp>

namespace mip {

namespace {
std::atomic<int> g_stop_signal{0};
extern "C" void mip_on_stop_signal(int sig) {
  g_stop_signal.store(sig);
  std::signal(sig, SIG_DFL);  // a second Ctrl-C stops at once
}
}  // namespace

void install_stop_handlers() {
  g_stop_signal.store(0);
  std::signal(SIGINT, mip_on_stop_signal);
  std::signal(SIGTERM, mip_on_stop_signal);
}

int stop_requested() {
  return g_stop_signal.load();
}

}  // namespace mip
