// The live progress line on a terminal: one line for the section that runs
// (training, a full validation, a test), redrawn in place at most ten times
// a second. Built only when stderr is a terminal: a piped or redirected run
// pays nothing and gets no control characters.
#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <utility>

#include <mip/core/console_format.hpp>
#include <mip/core/observer.hpp>
#include <mip/core/run.hpp>
#include <mip/core/statistics.hpp>
#include <mip/core/terminal.hpp>

namespace mip {

namespace {

using Clock = std::chrono::steady_clock;

/// The least time between two redraws.
constexpr auto kRedraw = std::chrono::milliseconds(100);
/// The episodes per second are measured over about this much time.
constexpr double kRateWindowSeconds = 10.0;
/// Weight of the newest episode in the smoothed training loss (an
/// exponential moving average over about the last 20 episodes).
constexpr double kSmoothing = 0.05;

/// A mean: exponentially weighted (training) or plain (a pass over a set),
/// unbiased from the first value on.
class Mean {
 public:
  explicit Mean(bool exponential = false) : exponential_(exponential) {}
  void add(double x) {
    ++n_;
    if (exponential_) {
      sum_ = (1 - kSmoothing) * sum_ + kSmoothing * x;
      weight_ = (1 - kSmoothing) * weight_ + kSmoothing;
    } else {
      sum_ += x;
      weight_ += 1;
    }
  }
  bool empty() const { return n_ == 0; }
  double value() const { return weight_ > 0 ? sum_ / weight_ : 0.0; }

 private:
  bool exponential_;
  int64_t n_ = 0;
  double sum_ = 0.0, weight_ = 0.0;
};

/// One section's line: its bounds, means and speed.
struct Line {
  /// `smoothed`: exponential means (training), else plain ones (a pass).
  explicit Line(bool smoothed = false) : loss(smoothed), stat(smoothed) {}

  ProgressView view;
  Mean loss, stat;
  std::deque<std::pair<Clock::time_point, int64_t>> samples;  ///< for rate

  void collect(const StatisticsCollector& col) {
    const auto& l = col.values("loss");
    if (!l.empty())
      loss.add(l.back());
    if (!view.stat.empty()) {
      const auto& s = col.values(view.stat);
      if (!s.empty())
        stat.add(s.back());
    }
  }
  /// The view as of now (means, rate over the last seconds).
  const ProgressView& update(Clock::time_point now) {
    view.has_loss = !loss.empty();
    view.loss = loss.value();
    view.has_stat = !stat.empty();
    view.stat_value = stat.value();
    samples.emplace_back(now, view.done);
    while (samples.size() > 2 &&
           std::chrono::duration<double>(now - samples[1].first).count() >
               kRateWindowSeconds)
      samples.pop_front();
    const double dt =
        std::chrono::duration<double>(now - samples.front().first).count();
    if (dt > 0.2)
      view.rate = static_cast<double>(view.done - samples.front().second) / dt;
    return view;
  }
};

class ProgressObserver final : public RunObserver {
 public:
  void run_started(const RunStarted& e) override {
    for (const auto& s : e.sections)
      if (s.col) {
        const std::string stat = main_statistic(*s.col);
        stats_[s.name] = {stat, stat.empty() ? "" : s.col->format(stat)};
      }
  }
  void training_started(const TrainingStarted& e) override {
    training_ = Line(true);
    ProgressView& v = training_.view;
    v.label = "Training";
    v.done = e.first_episode;
    int64_t total = e.episode_limit > 0 ? e.episode_limit : -1;
    if (e.epoch_limit > 0 && e.epoch_size > 0) {
      const int64_t by_epochs = e.epoch_limit * e.epoch_size;
      total = total > 0 ? std::min(total, by_epochs) : by_epochs;
      v.epochs = e.epoch_limit;
    }
    v.total = total;
    epoch_size_ = e.epoch_size;
    set_stat(v, "training");
    current_ = &training_;
    training_.samples.emplace_back(Clock::now(), v.done);
  }
  void pass_started(const PassStarted& e) override {
    pass_ = Line(false);
    ProgressView& v = pass_.view;
    v.label = e.section == "validation" ? "Validation" : "Test";
    if (e.section == "validation")
      v.rate_unit = "batches/s";
    v.total = e.batches;
    set_stat(v, e.section);
    current_ = &pass_;
    pass_.samples.emplace_back(Clock::now(), 0);
    draw(Clock::now(), true);
  }
  void episode_done(const EpisodeDone& e) override {
    Line& line = current_ == &pass_ ? pass_ : training_;
    line.collect(e.col);
    line.view.done = e.episode + 1;
    if (&line == &training_ && line.view.epochs > 0 && epoch_size_ > 0)
      line.view.epoch = std::min(e.episode / epoch_size_ + 1, line.view.epochs);
    draw(Clock::now(), false);
  }
  void validation_batch_done(const ValidationBatchDone& e) override {
    pass_.collect(e.col);
    pass_.view.done = e.batch + 1;
    draw(Clock::now(), false);
  }
  void validation_done(const ValidationDone& e) override {
    if (!e.full || current_ != &pass_)
      return;
    current_ = stopped_ ? nullptr : &training_;
    if (current_)
      draw(Clock::now(), true);
    else
      status_line_clear();
  }
  void training_stopped(const TrainingStopped&) override {
    stopped_ = true;
    current_ = nullptr;
    status_line_clear();
  }
  void run_ended(const RunEnded&) override {
    current_ = nullptr;
    status_line_clear();
  }

 private:
  void set_stat(ProgressView& v, const std::string& section) {
    const auto it = stats_.find(section);
    if (it == stats_.end())
      return;
    v.stat = it->second.first;
    v.stat_format = it->second.second;
  }
  void draw(Clock::time_point now, bool force) {
    if (current_ == nullptr || (!force && now - last_draw_ < kRedraw))
      return;
    last_draw_ = now;
    status_line_show(render_progress(current_->update(now), console_width()));
  }

  std::map<std::string, std::pair<std::string, std::string>> stats_;
  Line training_, pass_;
  Line* current_ = nullptr;
  int64_t epoch_size_ = 0;
  bool stopped_ = false;
  Clock::time_point last_draw_{};
};

const ObserverRegistration kProgress{
    5, "progress", [](const Run&, Observers&) -> std::unique_ptr<RunObserver> {
      if (!console_is_terminal())
        return nullptr;
      return std::make_unique<ProgressObserver>();
    }};

}  // namespace

}  // namespace mip
