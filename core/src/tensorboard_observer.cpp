// TensorBoard event files (--tensorboard 0|1|2), one run folder per section
// as MI-Prometheus lays them out: training/, training_set_agg/, validation/,
// validation_set_agg/ in the experiment folder, testing/ and
// testing_set_agg/ in a test folder. Steps are episodes. Level 0 writes every
// statistic and aggregate as scalars, 1 adds a histogram of every parameter,
// 2 one of every gradient, at the --li points.
#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include <mip/core/observer.hpp>
#include <mip/core/run.hpp>
#include <mip/core/statistics.hpp>
#include <mip/sdk/model.hpp>

#include "tensorboard/event_writer.hpp"

namespace mip {

namespace {

using tensorboard::EventWriter;
using tensorboard::Histogram;
using tensorboard::Value;

/// The histogram of a tensor's values, in Doane's number of equal buckets
/// from min to max (MI-Prometheus's choice, numpy's bins='doane').
Histogram make_histogram(const at::Tensor& t) {
  const at::Tensor x = t.detach().to(at::kCPU, at::kDouble).reshape({-1});
  Histogram h;
  const int64_t n = x.numel();
  h.num = static_cast<double>(n);
  h.min = x.min().item<double>();
  h.max = x.max().item<double>();
  h.sum = x.sum().item<double>();
  h.sum_squares = x.dot(x).item<double>();
  if (!(h.max > h.min)) {  // one value (or NaN): one bucket holds them all
    h.bucket_limit = {h.max};
    h.bucket = {h.num};
    return h;
  }
  int64_t buckets = 1;
  if (n > 2) {
    const at::Tensor c = x - h.sum / h.num;
    const double sigma = std::sqrt(c.dot(c).item<double>() / h.num);
    if (sigma > 0) {
      const double skew =
          (c * c * c).sum().item<double>() / h.num / (sigma * sigma * sigma);
      const double dn = h.num;
      const double sigma_skew =
          std::sqrt(6.0 * (dn - 2) / ((dn + 1) * (dn + 3)));
      buckets = static_cast<int64_t>(std::ceil(
          1 + std::log2(dn) + std::log2(1 + std::fabs(skew) / sigma_skew)));
    }
  }
  const at::Tensor counts = at::histc(x, buckets, h.min, h.max).contiguous();
  const double* c = counts.data_ptr<double>();
  const double width = (h.max - h.min) / static_cast<double>(buckets);
  for (int64_t i = 0; i < buckets; ++i) {
    h.bucket_limit.push_back(i + 1 == buckets ? h.max
                                              : h.min + width * (i + 1));
    h.bucket.push_back(c[i]);
  }
  return h;
}

void add_scalars(const StatisticsCollector& col, std::vector<Value>& out) {
  for (const auto& key : col.keys())
    if (key != "episode" && !col.values(key).empty())
      out.push_back({key, col.values(key).back(), nullptr});
}

void add_scalars(const StatisticsAggregator& agg, std::vector<Value>& out) {
  for (const auto& key : agg.keys())
    if (key != "episode")
      out.push_back({key, agg.get(key), nullptr});
}

class TensorBoardObserver final : public RunObserver {
 public:
  TensorBoardObserver(const Run& run, int level)
      : run_(run), level_(level), interval_(run.options().log_interval) {}

  void run_started(const RunStarted& e) override {
    // A resumed run starts new files in the same run folders; TensorBoard
    // then drops the older points from the resumed episode on (the run
    // writes them again, as the CSV files are cut back to the checkpoint).
    const int64_t purge_from = e.resumed ? e.first_episode : -1;
    for (const auto& s : e.sections)
      for (const std::string& run : {s.name, s.name + "_set_agg"})
        writers_[run] = std::make_unique<EventWriter>(
            (std::filesystem::path(e.dir) / run).string(), purge_from);
  }
  void episode_done(const EpisodeDone& e) override {
    if (e.episode % interval_ != 0)
      return;
    std::vector<Value> values;
    add_scalars(e.col, values);
    write(e.section, e.episode, values);
  }
  void step_done(const StepDone& e) override {
    if (level_ < 1 || e.episode % interval_ != 0)
      return;
    const auto params = run_.model().named_parameters();
    std::vector<Histogram> histograms;
    std::vector<std::string> tags;
    histograms.reserve(2 * params.size());
    for (const auto& p : params) {
      histograms.push_back(make_histogram(p.value()));
      tags.push_back(p.key());
      const at::Tensor& grad = p.value().grad();
      if (level_ >= 2 && grad.defined()) {
        histograms.push_back(make_histogram(grad));
        tags.push_back(p.key() + "/grad");
      }
    }
    std::vector<Value> values;
    for (size_t i = 0; i < histograms.size(); ++i)
      values.push_back({tags[i], 0, &histograms[i]});
    write(e.section, e.episode, values);
  }
  void validation_done(const ValidationDone& e) override {
    std::vector<Value> values;
    if (e.full)
      add_scalars(e.agg, values);
    else
      add_scalars(e.col, values);
    write(e.full ? "validation_set_agg" : "validation", e.episode, values);
  }
  void epoch_done(const EpochDone& e) override {
    std::vector<Value> values;
    add_scalars(e.agg, values);
    write(e.section + "_set_agg", e.episode, values);
  }
  void run_ended(const RunEnded&) override { flush(); }
  void flush() override {
    for (auto& [name, w] : writers_)
      w->flush();
  }

 private:
  /// One event in `run`, on disk at once (a live TensorBoard sees it).
  void write(const std::string& run,
             int64_t step,
             const std::vector<Value>& values) {
    if (values.empty())
      return;
    EventWriter& w = *writers_.at(run);
    w.write(step, values);
    w.flush();
  }

  const Run& run_;
  int level_;
  int64_t interval_;
  std::map<std::string, std::unique_ptr<EventWriter>> writers_;
};

const ObserverRegistration kTensorBoard{
    40, "tensorboard",
    [](const Run& run, Observers&) -> std::unique_ptr<RunObserver> {
      if (!run.options().tensorboard)
        return nullptr;
      if (*run.options().tensorboard > 0 &&
          run.options().worker == "mip-tester")
        run.log().warn(
            "--tensorboard " + std::to_string(*run.options().tensorboard) +
            ": the tester writes the statistics only (histograms are of "
            "training steps)");
      return std::make_unique<TensorBoardObserver>(run,
                                                   *run.options().tensorboard);
    }};

}  // namespace

}  // namespace mip
