// The statistics CSV files of a run (MI-Prometheus's names and columns):
// <section>_statistics.csv, one row per episode or partial validation, and
// <section>_set_agg_statistics.csv, one row per epoch or full validation.
#include <filesystem>
#include <map>

#include <mip/core/observer.hpp>
#include <mip/core/run.hpp>
#include <mip/core/statistics.hpp>

namespace mip {

namespace {

class CsvObserver final : public RunObserver {
 public:
  explicit CsvObserver(const Run& run)
      : interval_(run.options().log_interval) {}

  void run_started(const RunStarted& e) override {
    const std::filesystem::path dir(e.dir);
    for (const auto& s : e.sections) {
      Files& f = files_[s.name];
      f.episodes.open((dir / (s.name + "_statistics.csv")).string(),
                      s.col->csv_header(), e.resumed);
      f.aggregates.open((dir / (s.name + "_set_agg_statistics.csv")).string(),
                        s.agg->csv_header(), e.resumed);
    }
  }
  void episode_done(const EpisodeDone& e) override {
    if (&e.section != section_) {  // the lookup once, not every episode
      section_ = &e.section;
      episodes_ = &files_.at(e.section).episodes;
    }
    CsvWriter& w = *episodes_;
    w.write_last(e.col);
    if (e.episode % interval_ == 0)
      w.flush_async();  // formatted and written off the training thread
  }
  void validation_done(const ValidationDone& e) override {
    Files& f = files_.at("validation");
    CsvWriter& w = e.full ? f.aggregates : f.episodes;
    w.write(e.full ? e.agg.csv_row() : e.col.csv_row());
    w.flush();
  }
  void epoch_done(const EpochDone& e) override {
    files_.at(e.section).aggregates.write(e.agg.csv_row());
  }
  void run_ended(const RunEnded&) override { flush(); }
  /// At checkpoints and at the end: every row on disk (fsync), or an error
  /// naming the file that could not be written.
  void flush() override {
    for (auto& [name, f] : files_) {
      f.episodes.sync();
      f.aggregates.sync();
    }
  }

 private:
  struct Files {
    CsvWriter episodes;
    CsvWriter aggregates;
  };
  int64_t interval_;
  std::map<std::string, Files> files_;
  const std::string* section_ = nullptr;  ///< of the last episode_done
  CsvWriter* episodes_ = nullptr;         ///< its episodes file
};

const ObserverRegistration kCsv{20, "csv", [](const Run& run, Observers&) {
                                  return std::make_unique<CsvObserver>(run);
                                }};

}  // namespace

}  // namespace mip
