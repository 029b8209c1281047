// Batches: samplers and the deterministic batch stream.
#include <mip/core/batches.hpp>
#include <mip/core/files.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/registry.hpp>
#include <mip/core/text.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/problem.hpp>

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <utility>

namespace mip {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::vector<int64_t> parse_index_list(const std::string& text,
                                      const std::string& where) {
  std::vector<int64_t> out;
  for (const auto& token : split_list(text, ',')) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(token, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    MIP_CHECK(used == token.size(), ConfigError, where, ": [", token,
              "] is not an index (expected comma-separated integers)");
    out.push_back(v);
  }
  return out;
}

}  // namespace

SamplerSpec SamplerSpec::from_config(const ParamRegistry& registry,
                                     const std::string& section) {
  SamplerSpec spec;
  const std::string key = section + ".sampler";
  spec.name = component_name(registry, key, "sampler");
  if (!spec.name.empty()) {
    const auto v = registry.view(key);
    const std::string where =
        "[" + key + "] (" + registry.origin(key + ".name") + ")";
    if (spec.name == "SubsetRandomSampler") {
      MIP_CHECK(v->has("indices"), ConfigError, where,
                ": SubsetRandomSampler needs indices: a list, \"a, b\" or an "
                "index file");
      std::vector<int64_t> idx;
      try {
        idx = v->get<std::vector<int64_t>>("indices");
      } catch (const ParameterError&) {
        const std::string text = v->get<std::string>("indices");
        const std::string path = expand_user(text);
        if (std::filesystem::is_regular_file(path)) {
          std::string content = read_text_file(path);
          content = content.substr(0, content.find('\n'));
          idx = parse_index_list(content, "index file [" + path + "]");
        } else {
          idx = parse_index_list(text, where + ".indices");
        }
      }
      MIP_CHECK(!idx.empty(), ConfigError, where, ": indices are empty");
      if (idx.size() == 2) {  // MI-Prometheus: two numbers mean range(a, b)
        MIP_CHECK(idx[0] < idx[1], ConfigError, where, ": the range [", idx[0],
                  ", ", idx[1], ") is empty");
        const int64_t a = idx[0], b = idx[1];
        idx.clear();
        for (int64_t i = a; i < b; ++i)
          idx.push_back(i);
      }
      spec.indices = std::move(idx);
      spec.shuffle = true;
    } else if (spec.name == "RandomSampler") {
      spec.shuffle = true;
    } else if (spec.name == "SequentialSampler") {
      spec.shuffle = false;
    } else {
      throw ConfigError(
          where + ": sampler [" + spec.name + "] is not available" +
          did_you_mean(spec.name, {"RandomSampler", "SubsetRandomSampler",
                                   "SequentialSampler"}) +
          " (available: RandomSampler, SubsetRandomSampler, "
          "SequentialSampler)");
    }
  } else if (registry.has(section + ".dataloader.shuffle")) {
    spec.shuffle = registry.view(section + ".dataloader")->get<bool>("shuffle");
  }
  return spec;
}

BatchStream::BatchStream(std::shared_ptr<sdk::Problem> problem,
                         int64_t batch_size,
                         uint64_t seed,
                         uint64_t stream,
                         SamplerSpec sampler)
    : problem_(std::move(problem)),
      batch_size_(batch_size),
      seed_(seed),
      stream_(stream),
      sampler_(std::move(sampler)),
      generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {
  const int64_t size = problem_->size();
  MIP_CHECK(size > 0, ConfigError, "the problem reports ", size,
            " samples; it needs at least one");
  MIP_CHECK(batch_size_ > 0, ConfigError, "batch_size must be > 0, got ",
            batch_size_);
  for (int64_t i : sampler_.indices)
    MIP_CHECK(i >= 0 && i < size, ConfigError, "sampler index ", i,
              " is outside the problem's ", size, " samples");
  size_ = sampler_.indices.empty()
              ? size
              : static_cast<int64_t>(sampler_.indices.size());
}

int64_t BatchStream::batches_per_epoch() const {
  return (size_ + batch_size_ - 1) / batch_size_;
}

int64_t BatchStream::rows(int64_t index) const {
  const int64_t begin = (index % batches_per_epoch()) * batch_size_;
  return std::min(size_, begin + batch_size_) - begin;
}

void BatchStream::set_shard(Shard shard, const std::string& what) {
  shard_ = shard;
  if (shard.world <= 1)
    return;
  const int64_t last = rows(batches_per_epoch() - 1);
  const std::string which =
      last == std::min(batch_size_, size_)
          ? "batches of " + std::to_string(last) + " samples"
          : "the last batch of an epoch (" + std::to_string(last) + " of the " +
                std::to_string(size_) + " samples, in batches of " +
                std::to_string(batch_size_) + ")";
  MIP_CHECK(last >= shard.world, ConfigError, what, ": ", which,
            " cannot give each of the ", shard.world,
            " ranks a sample; change batch_size or the sampler's indices so "
            "that every batch holds at least one sample per rank");
}

std::pair<int64_t, int64_t> BatchStream::shard_rows(int64_t index) const {
  const int64_t n = rows(index);
  const int64_t r = shard_.rank, w = shard_.world;
  return {(r + 1) * n / w - r * n / w, n};
}

uint64_t BatchStream::batch_seed(int64_t index) const {
  return splitmix64(
      seed_ ^ splitmix64(stream_ ^ splitmix64(static_cast<uint64_t>(index))));
}

sdk::DataDict BatchStream::batch(int64_t index) {
  const int64_t epoch = index / batches_per_epoch();
  const int64_t pos = index % batches_per_epoch();
  const int64_t begin = pos * batch_size_;
  const int64_t end = std::min(size_, begin + batch_size_);
  indices_.resize(static_cast<size_t>(end - begin));
  const int64_t* order = nullptr;
  if (sampler_.shuffle && size_ > 1) {
    if (epoch != perm_epoch_) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(splitmix64(
          seed_ ^ splitmix64(stream_ + 0x5151) ^ static_cast<uint64_t>(epoch)));
      perm_ = torch::randperm(size_, gen, torch::kLong);
      perm_epoch_ = epoch;
    }
    order = perm_.data_ptr<int64_t>();
  }
  for (int64_t i = begin; i < end; ++i) {
    const int64_t k = order ? order[i] : i;
    indices_[static_cast<size_t>(i - begin)] =
        sampler_.indices.empty() ? k : sampler_.indices[static_cast<size_t>(k)];
  }
  {
    std::lock_guard<std::mutex> lock(generator_.mutex());
    generator_.set_current_seed(batch_seed(index));
  }
  sdk::DataDict batch = problem_->get_batch(indices_, generator_);
  if (shard_.world <= 1)
    return batch;
  // The whole batch, then this rank's rows: the same samples, whatever the
  // problem draws from the generator, as one process's batch holds.
  const int64_t n = end - begin;
  const int64_t lo = shard_.rank * n / shard_.world;
  const int64_t hi = (shard_.rank + 1) * n / shard_.world;
  for (auto& [key, tensor] : batch)
    if (tensor.defined() && tensor.dim() > 0 && tensor.size(0) == n)
      tensor = tensor.narrow(0, lo, hi - lo).contiguous();
  return batch;
}

PrefetchSpec PrefetchSpec::from_config(const ParamRegistry& registry,
                                       const std::string& section) {
  PrefetchSpec spec;
  const std::string key = section + ".dataloader";
  if (registry.has(key + ".prefetch")) {
    const std::string v = registry.view(key)->get<std::string>("prefetch");
    if (v == "auto")
      spec.mode = Mode::kAuto;
    else if (v == "true" || v == "on")
      spec.mode = Mode::kOn;
    else if (v == "false" || v == "off")
      spec.mode = Mode::kOff;
    else
      throw ConfigError("[" + key + ".prefetch] (" +
                        registry.origin(key + ".prefetch") +
                        "): expected auto, true or false, got [" + v + "]");
  }
  if (registry.has(key + ".prefetch_factor")) {
    const int64_t depth = registry.view(key)->get<int64_t>("prefetch_factor");
    MIP_CHECK(depth >= 1 && depth <= 1024, ConfigError, "[", key,
              ".prefetch_factor] (", registry.origin(key + ".prefetch_factor"),
              "): the number of batches made ahead must be 1 to 1024, got ",
              depth);
    spec.depth = static_cast<int>(depth);
  }
  return spec;
}

BatchPrefetcher::BatchPrefetcher(BatchStream& stream, PrefetchSpec spec)
    : stream_(stream), spec_(spec) {}

BatchPrefetcher::~BatchPrefetcher() {
  if (!thread_.joinable())
    return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

bool BatchPrefetcher::has_work() const {
  return !paused_ && next_ < end_ && made_.size() < depth_;
}

void BatchPrefetcher::start(int64_t next, const sdk::DataDict& made) {
  if (spec_.depth > 0) {
    depth_ = static_cast<size_t>(spec_.depth);
  } else {
    // Deep enough that the thread is woken rarely (a wake costs 10-30 us on
    // a VM), small enough in memory.
    int64_t bytes = 1;
    for (const auto& [key, tensor] : made)
      if (tensor.defined())
        bytes += static_cast<int64_t>(tensor.nbytes());
    depth_ =
        static_cast<size_t>(std::clamp<int64_t>(kAutoBytes / bytes, 2, 64));
  }
  logger("batches").debug("making up to " + std::to_string(depth_) +
                          " batches ahead on a background thread");
  next_ = next;
  enabled_ = true;
  thread_ = std::thread([this] { loop(); });
}

void BatchPrefetcher::make_ahead_until(int64_t end) {
  std::lock_guard<std::mutex> lock(mutex_);
  end_ = end;  // the next take() wakes the thread
}

sdk::DataDict BatchPrefetcher::take(int64_t index) {
  if (!enabled_) {
    if (spec_.mode == PrefetchSpec::Mode::kOff || probes_ >= kProbeBatches)
      return stream_.batch(index);
    if (spec_.mode == PrefetchSpec::Mode::kOn) {
      sdk::DataDict batch = stream_.batch(index);
      start(index + 1, batch);
      return batch;
    }
    const auto begin = std::chrono::steady_clock::now();
    sdk::DataDict batch = stream_.batch(index);
    probe_micros_[probes_] = std::chrono::duration<double, std::micro>(
                                 std::chrono::steady_clock::now() - begin)
                                 .count();
    if (++probes_ == kProbeBatches) {
      // The median: the first batch of an epoch also draws its order.
      std::nth_element(probe_micros_.begin(),
                       probe_micros_.begin() + kProbeBatches / 2,
                       probe_micros_.end());
      const double median = probe_micros_[kProbeBatches / 2];
      const bool busy = at::get_num_threads() >= usable_cores();
      const double min = busy ? kBusyMinPrefetchMicros : kMinPrefetchMicros;
      logger("batches").debug(
          "a batch takes " + std::to_string(median) +
          " us to make (median of " + std::to_string(kProbeBatches) +
          "; threshold " + std::to_string(static_cast<int>(min)) + " us" +
          (busy ? ", every core runs an intra-op thread" : "") +
          "): prefetching " + (median >= min ? "on" : "off"));
      if (median >= min)
        start(index + 1, batch);
    }
    return batch;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (!made_.empty() && made_.front().index == index) {
      Made m = std::move(made_.front());
      made_.pop_front();
      // Wake the thread once half the queue is used, not on every batch.
      if (made_.size() <= depth_ / 2 && has_work())
        work_cv_.notify_one();
      lock.unlock();
      if (m.error)
        std::rethrow_exception(m.error);
      return std::move(m.batch);
    }
    if (!made_.empty() || making_ != index)
      break;
    ready_cv_.wait(lock);  // the batch is being made
  }
  return make_in_line(lock, index);
}

sdk::DataDict BatchPrefetcher::make_in_line(std::unique_lock<std::mutex>& lock,
                                            int64_t index) {
  // Not made ahead (an epoch start, or a jump): the stream is not shared, so
  // the thread pauses while this batch is made here, then goes on after it.
  paused_ = true;
  ready_cv_.wait(lock, [this] { return making_ < 0; });
  made_.clear();
  next_ = index + 1;
  lock.unlock();
  sdk::DataDict batch;
  std::exception_ptr error;
  try {
    batch = stream_.batch(index);
  } catch (...) {
    error = std::current_exception();
  }
  lock.lock();
  paused_ = false;
  if (has_work())
    work_cv_.notify_one();
  lock.unlock();
  if (error)
    std::rethrow_exception(error);
  return batch;
}

void BatchPrefetcher::loop() {
  // LibTorch's CPU ops parallelise with OpenMP. A parallel region opened from
  // this thread gets a team of its own, as large as the training thread's,
  // and the two teams fight over the cores (LeNet5 at 2 threads ran 2.2x
  // slower). Batches are made on this one thread: its own OpenMP setting is
  // 1, set after LibTorch's lazy per-thread initialisation (which would set
  // it back), and looked up at run time: the OpenMP runtime LibTorch uses.
  (void)at::get_num_threads();
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(
          ::dlsym(RTLD_DEFAULT, "omp_set_num_threads")))
    set(1);
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || has_work(); });
    if (stop_)
      return;
    Made m{next_++, {}, nullptr};
    making_ = m.index;
    lock.unlock();
    try {
      m.batch = stream_.batch(m.index);
    } catch (...) {
      m.error = std::current_exception();
    }
    lock.lock();
    making_ = -1;
    made_.push_back(std::move(m));
    ready_cv_.notify_one();
  }
}

}  // namespace mip
