// Console (and training.log) lines: MI-Prometheus's statistics lines, one
// every --li episodes, one per validation and per epoch; short values in
// aligned columns on the console, full precision in the log file. At the
// end, the run's summary on stdout (whatever --ll says) and in the log file.
#include <mip/core/console_format.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/observer.hpp>
#include <mip/core/run.hpp>
#include <mip/core/statistics.hpp>
#include <mip/core/summary.hpp>
#include <mip/core/terminal.hpp>

namespace mip {

namespace {

class ConsoleObserver final : public RunObserver {
 public:
  explicit ConsoleObserver(const Run& run)
      : log_(run.log()),
        interval_(run.options().log_interval),
        summary_(run.options().worker) {}

  void run_started(const RunStarted& e) override {
    summary_.run_started(e);
    // The folder is an info line of the worker; --ll WARNING still shows it.
    if (!logging_console_shows(sdk::LogLevel::kInfo))
      console_print(
          (e.checkpoint.empty() ? "Experiment folder: " : "Test folder: ") +
          e.dir + "\n");
  }
  void training_started(const TrainingStarted& e) override {
    summary_.training_started(e);
  }
  void pass_started(const PassStarted& e) override { summary_.pass_started(e); }
  void episode_done(const EpisodeDone& e) override {
    summary_.episode_done(e);
    if (e.episode % interval_ == 0)
      log_.log_split(sdk::LogLevel::kInfo, lines_.line(e.col, e.label),
                     e.col.line(e.label));
  }
  void validation_done(const ValidationDone& e) override {
    summary_.validation_done(e);
    if (e.full)
      log_.log_split(sdk::LogLevel::kInfo,
                     lines_.line(e.agg, "Full Validation"),
                     e.agg.line("Full Validation"));
    else
      log_.log_split(sdk::LogLevel::kInfo,
                     lines_.line(e.col, "Partial Validation"),
                     e.col.line("Partial Validation"));
  }
  void epoch_done(const EpochDone& e) override {
    summary_.epoch_done(e);
    log_.log_split(sdk::LogLevel::kInfo, lines_.line(e.agg, e.label),
                   e.agg.line(e.label));
  }
  void checkpoint_written(const CheckpointWritten& e) override {
    summary_.checkpoint_written(e);
  }
  void run_ended(const RunEnded& e) override {
    summary_.run_ended(e);
    console_print(summary_text(summary_.summary(),
                               logging_console_shows(sdk::LogLevel::kError)));
    const std::string text = summary_text(summary_.summary());
    log_.log_split(sdk::LogLevel::kInfo, "",
                   text.substr(0, text.size() - 1));  // no last newline
  }

 private:
  Logger& log_;
  int64_t interval_;
  ConsoleLines lines_;
  SummaryRecorder summary_;
};

const ObserverRegistration kConsole{
    10, "console", [](const Run& run, Observers&) {
      return std::make_unique<ConsoleObserver>(run);
    }};

}  // namespace

}  // namespace mip
