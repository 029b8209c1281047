// Console (and training.log) lines: MI-Prometheus's statistics lines, one
// every --li episodes, one per validation and per epoch.
#include <mip/core/logging.hpp>
#include <mip/core/observer.hpp>
#include <mip/core/run.hpp>
#include <mip/core/statistics.hpp>

namespace mip {

namespace {

class ConsoleObserver final : public RunObserver {
 public:
  explicit ConsoleObserver(const Run& run)
      : log_(run.log()), interval_(run.options().log_interval) {}

  void episode_done(const EpisodeDone& e) override {
    if (e.episode % interval_ == 0)
      log_.info(e.col.line(e.label));
  }
  void validation_done(const ValidationDone& e) override {
    log_.info(e.full ? e.agg.line("Full Validation")
                     : e.col.line("Partial Validation"));
  }
  void epoch_done(const EpochDone& e) override {
    log_.info(e.agg.line(e.label));
  }

 private:
  Logger& log_;
  int64_t interval_;
};

const ObserverRegistration kConsole{
    10, "console", [](const Run& run, Observers&) {
      return std::make_unique<ConsoleObserver>(run);
    }};

}  // namespace

}  // namespace mip
