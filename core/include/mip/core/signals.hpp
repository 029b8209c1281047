#pragma once

namespace mip {

/// SIGINT/SIGTERM set a flag the loops poll (a second one stops at once).
void install_stop_handlers();
/// The signal received since install_stop_handlers(), or 0.
int stop_requested();

}  // namespace mip
