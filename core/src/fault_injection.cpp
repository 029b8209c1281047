// Fault injection for the kill-and-resume tests: MIP_FAULT_KILL_AT_EPISODE=N
// sends SIGKILL to the process right after training episode N's statistics
// are on disk.
#include <csignal>
#include <cstdlib>

#include <mip/core/observer.hpp>

namespace mip {

namespace {

class KillAtEpisode final : public RunObserver {
 public:
  KillAtEpisode(int64_t episode, Observers& all)
      : episode_(episode), all_(all) {}
  void episode_done(const EpisodeDone& e) override {
    if (e.section != "training" || e.episode != episode_)
      return;
    all_.flush();
    std::raise(SIGKILL);
  }

 private:
  int64_t episode_;
  Observers& all_;
};

const ObserverRegistration kFault{
    1000, "fault-injection",
    [](const Run&, Observers& all) -> std::unique_ptr<RunObserver> {
      const char* v = std::getenv("MIP_FAULT_KILL_AT_EPISODE");
      if (!v)
        return nullptr;
      return std::make_unique<KillAtEpisode>(std::atoll(v), all);
    }};

}  // namespace

}  // namespace mip
