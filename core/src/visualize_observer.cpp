// --visualize: records one sample (--visualize-sample, default 0) of chosen
// batches (its inputs, targets,
// predictions and the tensors the model publishes at each step) into
// <run>/visualization/<section>_<n>.json, which mip-report draws as heat maps
// with a time slider. Which batches (MI-Prometheus's levels, for a file
// instead of a window):
//   trainers  0: training, every --li episodes    1: training and validation
//             2: validation: each partial validation's batch, and the first
//                batch of each full validation
//             3: the first batch of the last full validation only
//   tester    every test batch
// At most kKeep recordings per section stay: past that, every other one is
// dropped and only every other occasion is recorded from then on, so those
// kept stay spread over the whole run.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include <mip/core/files.hpp>
#include <mip/core/observer.hpp>
#include <mip/core/run.hpp>
#include <mip/sdk/data.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/visualization.hpp>

namespace fs = std::filesystem;

namespace mip {

namespace {

/// Recordings kept per section (more are thinned out).
constexpr size_t kKeep = 48;
/// A tensor (one sample, all steps) larger than this is left out.
constexpr int64_t kMaxValues = 250000;
/// The name of the one recording kept by --visualize 3.
constexpr const char* kLastValidation = "last_validation";

/// Keeps one sample of each published step.
class SampleRecorder final : public sdk::StepRecorder {
 public:
  explicit SampleRecorder(int64_t sample) : sample_(sample) {}
  void publish(const std::string& name, const at::Tensor& step) override {
    at::Tensor s = step.detach();
    if (s.dim() > 0) {
      if (s.size(0) <= sample_)
        return;  // the batch is smaller: write() says so
      s = s.select(0, sample_);
    }
    auto it = steps_.find(name);
    if (it == steps_.end()) {
      order_.push_back(name);
      it = steps_.emplace(name, std::vector<at::Tensor>()).first;
    }
    it->second.push_back(
        s.to(s.options().device(at::kCPU).dtype(at::kFloat), false, true));
  }
  void clear() {
    order_.clear();
    steps_.clear();
  }
  const std::vector<std::string>& names() const { return order_; }
  const std::vector<at::Tensor>& steps(const std::string& name) const {
    return steps_.at(name);
  }

 private:
  int64_t sample_;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<at::Tensor>> steps_;
};

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

/// {"name": ..., "shape": [...], "data": [...]} of a CPU float tensor, or a
/// note in `skipped` when it is too large.
void write_tensor(std::ostringstream& os,
                  const std::string& name,
                  const at::Tensor& t,
                  bool& first,
                  std::vector<std::string>& skipped) {
  if (t.numel() > kMaxValues) {
    skipped.push_back(name + " (" + std::to_string(t.numel()) + " values)");
    return;
  }
  const at::Tensor c = t.to(at::kFloat).contiguous();
  os << (first ? "" : ",\n  ") << "{\"name\": " << json_string(name)
     << ", \"shape\": [";
  first = false;
  for (int64_t d = 0; d < c.dim(); ++d)
    os << (d ? ", " : "") << c.size(d);
  os << "], \"data\": [";
  const float* p = c.data_ptr<float>();
  char buf[32];
  for (int64_t i = 0; i < c.numel(); ++i) {
    if (std::isfinite(p[i]))
      std::snprintf(buf, sizeof buf, "%s%.5g", i ? "," : "", p[i]);
    else
      std::snprintf(buf, sizeof buf, "%snull", i ? "," : "");
    os << buf;
  }
  os << "]}";
}

/// Sample `sample` of every tensor of `d` that holds the batch on
/// dimension 0.
void write_sample(std::ostringstream& os,
                  const sdk::DataDict& d,
                  int64_t batch_size,
                  int64_t sample,
                  std::vector<std::string>& skipped) {
  bool first = true;
  for (const auto& [name, t] : d) {
    if (!t.defined() || t.dim() == 0 || t.size(0) != batch_size)
      continue;
    write_tensor(os, name, t.select(0, sample).detach().cpu(), first, skipped);
  }
}

class VisualizeObserver final : public RunObserver {
 public:
  VisualizeObserver(const Run& run, int level, bool tester)
      : run_(run),
        level_(level),
        tester_(tester),
        interval_(run.options().log_interval),
        sample_(run.options().visualize_sample),
        recorder_(sample_) {}

  void run_started(const RunStarted& e) override {
    dir_ = fs::path(e.dir) / "visualization";
    fs::create_directories(dir_);
    if (e.resumed)
      continue_numbering();
    run_.log().info("--visualize: recording " + what() + " into " +
                    dir_.string() + " (mip-report draws them)");
  }

  void batch_starting(const BatchInfo& b) override {
    disarm();
    if (!chosen(b))
      return;
    recorder_.clear();
    armed_ = true;
    if (auto* p = dynamic_cast<sdk::PublishesSteps*>(&run_.model()))
      p->set_step_recorder(&recorder_);
  }

  void batch_evaluated(const BatchEvaluated& e) override {
    if (!armed_)
      return;
    disarm();
    const BatchInfo& b = e.info;
    if (level_ == 3) {
      write(kLastValidation, e);
      return;
    }
    Stream& s = streams_[b.section];
    const int64_t n = s.seen++;
    if (n % s.stride != 0)
      return;
    char name[64];
    std::snprintf(name, sizeof name, "%s_%06lld", b.section.c_str(),
                  static_cast<long long>(n));
    write(name, e);
    s.kept.emplace_back(n, name);
    if (s.kept.size() > kKeep)
      thin(s);
  }

  void run_ended(const RunEnded&) override { disarm(); }

 private:
  /// What a section recorded: occasions seen, the stride between recorded
  /// ones, and the recordings kept (occasion, file stem).
  struct Stream {
    int64_t seen = 0;
    int64_t stride = 1;
    std::vector<std::pair<int64_t, std::string>> kept;
  };

  std::string what() const {
    const std::string sample = "sample " + std::to_string(sample_);
    if (tester_)
      return sample + " of every test batch";
    switch (level_) {
      case 0:
        return sample + " of every " + std::to_string(interval_) +
               "th training batch";
      case 1:
        return sample + " of every " + std::to_string(interval_) +
               "th training batch and of the validations";
      case 2:
        return sample + " of the validations";
      default:
        return sample + " of the last full validation";
    }
  }

  bool chosen(const BatchInfo& b) const {
    if (tester_)
      return true;
    const bool training = b.section == "training";
    if (level_ == 0 || level_ == 1) {
      if (training)
        return b.episode % interval_ == 0;
      if (level_ == 0)
        return false;
    }
    if (training)
      return false;
    if (level_ == 3)
      return b.full && b.index == 0;
    return b.index == 0;  // level 1, 2: partial, or a full one's first batch
  }

  void disarm() {
    if (!armed_)
      return;
    armed_ = false;
    if (auto* p = dynamic_cast<sdk::PublishesSteps*>(&run_.model()))
      p->set_step_recorder(nullptr);
  }

  void write(const std::string& stem, const BatchEvaluated& e) {
    const BatchInfo& b = e.info;
    int64_t batch_size = -1;
    for (const auto* d : {&e.predictions, &e.batch})
      for (const auto& [name, t] : *d)
        if (batch_size < 0 && t.defined() && t.dim() > 0)
          batch_size = t.size(0);
    if (sample_ >= batch_size) {
      // Said once per section: a smaller last batch is common.
      if (too_small_.insert(b.section).second)
        run_.log().warn(
            "--visualize-sample " + std::to_string(sample_) + ": a " +
            b.section + " batch holds only " + std::to_string(batch_size) +
            " samples; batches this small are not recorded (choose a sample "
            "below the batch size)");
      recorder_.clear();
      return;
    }
    std::vector<std::string> skipped;
    std::ostringstream os;
    const std::string kind =
        b.section == "training" ? "training"
        : tester_               ? "test"
                                : std::string(b.final ? "final " : "") +
                        (b.full ? "full validation" : "partial validation");
    os << "{\"format\": \"mip-visualization\", \"version\": 1,\n"
       << "\"section\": " << json_string(b.section)
       << ", \"kind\": " << json_string(kind) << ", \"episode\": " << b.episode
       << ", \"batch\": " << b.index << ", \"sample\": " << sample_ << ",\n"
       << "\"model\": " << json_string(run_.model_name()) << ",\n"
       << "\"inputs\": [\n  ";
    write_sample(os, e.batch, batch_size, sample_, skipped);
    os << "],\n\"predictions\": [\n  ";
    write_sample(os, e.predictions, batch_size, sample_, skipped);
    os << "],\n\"steps\": [\n  ";
    bool first = true;
    for (const auto& name : recorder_.names()) {
      const auto& steps = recorder_.steps(name);
      bool same = true;
      for (const auto& t : steps)
        same = same && t.sizes() == steps.front().sizes();
      if (!same) {
        skipped.push_back(name + " (its shape changes between steps)");
        continue;
      }
      write_tensor(os, name, at::stack(steps), first, skipped);
    }
    os << "],\n\"skipped\": [";
    for (size_t i = 0; i < skipped.size(); ++i)
      os << (i ? ", " : "") << json_string(skipped[i]);
    os << "]}\n";
    recorder_.clear();
    write_file_atomic((dir_ / (stem + ".json")).string(), os.str());
  }

  /// Keeps every other recording of `s` and records every other occasion.
  void thin(Stream& s) {
    s.stride *= 2;
    std::vector<std::pair<int64_t, std::string>> kept;
    for (const auto& k : s.kept) {
      if (k.first % s.stride == 0) {
        kept.push_back(k);
      } else {
        std::error_code ec;
        fs::remove(dir_ / (k.second + ".json"), ec);
      }
    }
    s.kept = std::move(kept);
  }

  /// A resumed run goes on after the recordings already in the folder.
  void continue_numbering() {
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(dir_, ec)) {
      const std::string stem = f.path().stem().string();
      const auto at = stem.rfind('_');
      if (f.path().extension() != ".json" || at == std::string::npos ||
          stem.find_first_not_of("0123456789", at + 1) != std::string::npos)
        continue;
      Stream& s = streams_[stem.substr(0, at)];
      const int64_t n = std::stoll(stem.substr(at + 1));
      s.kept.emplace_back(n, stem);
      s.seen = std::max(s.seen, n + 1);
    }
    for (auto& [section, s] : streams_) {
      std::sort(s.kept.begin(), s.kept.end());
      // The stride the kept numbers were recorded at.
      while (true) {
        bool all = true;
        for (const auto& k : s.kept)
          all = all && k.first % (2 * s.stride) == 0;
        if (!all || s.kept.size() < 2)
          break;
        s.stride *= 2;
      }
      if (s.seen % s.stride != 0)
        s.seen += s.stride - s.seen % s.stride;
    }
  }

  const Run& run_;
  int level_;
  bool tester_;
  int64_t interval_;
  int64_t sample_;
  fs::path dir_;
  SampleRecorder recorder_;
  std::set<std::string> too_small_;  ///< sections warned about
  bool armed_ = false;
  std::map<std::string, Stream> streams_;
};

const ObserverRegistration kVisualize{
    40, "visualize",
    [](const Run& run, Observers&) -> std::unique_ptr<RunObserver> {
      const auto& level = run.options().visualize;
      if (!level)
        return nullptr;
      return std::make_unique<VisualizeObserver>(
          run, *level, run.options().worker == "mip-tester");
    }};

}  // namespace

}  // namespace mip
