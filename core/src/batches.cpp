// Batches: samplers and the deterministic batch stream.
#include <mip/core/files.hpp>
#include <mip/core/registry.hpp>
#include <mip/core/training.hpp>
#include <mip/sdk/problem.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
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
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" \t\r\n");
    if (b == std::string::npos)
      continue;
    const auto e = item.find_last_not_of(" \t\r\n");
    const std::string token = item.substr(b, e - b + 1);
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
  if (registry.has(key + ".name")) {
    const auto v = registry.view(key);
    spec.name = v->get<std::string>("name");
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
      const auto best = closest(
          spec.name,
          {"RandomSampler", "SubsetRandomSampler", "SequentialSampler"});
      throw ConfigError(
          where + ": sampler [" + spec.name + "] is not available" +
          (best.empty() ? "" : "; did you mean [" + best[0] + "]?") +
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
  return problem_->get_batch(indices_, generator_);
}

BatchPrefetcher::BatchPrefetcher(BatchStream& stream)
    : stream_(stream), thread_([this] { loop(); }) {}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void BatchPrefetcher::wait_idle(std::unique_lock<std::mutex>& lock) {
  cv_.wait(lock, [this] { return requested_ < 0 && running_ < 0; });
}

void BatchPrefetcher::request(int64_t index) {
  if (!enabled_)
    return;
  std::unique_lock<std::mutex> lock(mutex_);
  wait_idle(lock);
  if (ready_ == index)
    return;
  requested_ = index;
  ready_ = -1;
  error_ = nullptr;
  cv_.notify_all();
}

sdk::DataDict BatchPrefetcher::take(int64_t index) {
  std::unique_lock<std::mutex> lock(mutex_);
  wait_idle(lock);  // the stream is not shared while a batch is generated
  if (ready_ == index) {
    ready_ = -1;
    if (error_)
      std::rethrow_exception(std::exchange(error_, nullptr));
    return std::move(result_);
  }
  ready_ = -1;
  if (probes_ >= kProbeBatches)
    return stream_.batch(index);
  const auto start = std::chrono::steady_clock::now();
  sdk::DataDict batch = stream_.batch(index);
  probe_micros_[probes_] = std::chrono::duration<double, std::micro>(
                               std::chrono::steady_clock::now() - start)
                               .count();
  if (++probes_ == kProbeBatches) {
    // The median: the first batch of an epoch also draws its order.
    std::nth_element(probe_micros_.begin(),
                     probe_micros_.begin() + kProbeBatches / 2,
                     probe_micros_.end());
    enabled_ = probe_micros_[kProbeBatches / 2] >= kMinPrefetchMicros;
    logger("batches").debug(
        "a batch takes " + std::to_string(probe_micros_[kProbeBatches / 2]) +
        " us to make (median of " + std::to_string(kProbeBatches) +
        "): prefetching " + (enabled_ ? "on" : "off"));
  }
  return batch;
}

void BatchPrefetcher::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || requested_ >= 0; });
    if (stop_)
      return;
    running_ = std::exchange(requested_, -1);
    lock.unlock();
    sdk::DataDict batch;
    std::exception_ptr error;
    try {
      batch = stream_.batch(running_);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    result_ = std::move(batch);
    error_ = error;
    ready_ = running_;
    running_ = -1;
    cv_.notify_all();
  }
}

std::string blas_warning() {
  std::ifstream maps("/proc/self/maps");
  std::string line, path;
  while (std::getline(maps, line)) {
    const auto at = line.find('/');
    if (at == std::string::npos)
      continue;
    const std::string p = line.substr(at);
    // LibTorch's BLAS calls resolve to libblas.so.3 (Debian's alternative).
    if (p.find("libblas.so") != std::string::npos) {
      path = p;
      break;
    }
  }
  if (path.empty())
    return "";
  std::error_code ec;
  const std::string real = std::filesystem::canonical(path, ec).string();
  const std::string& name = ec ? path : real;
  if (name.find("/blas/libblas.so") != std::string::npos)
    return "LibTorch runs on the reference BLAS (" + name +
           "), several times slower than OpenBLAS; install it with: sudo apt "
           "install "
           "libopenblas0-openmp";
  if (name.find("pthread") != std::string::npos)
    return "LibTorch runs on OpenBLAS's pthread build (" + name +
           "), whose threads fight LibTorch's OpenMP threads; install the "
           "OpenMP build: sudo apt "
           "install libopenblas0-openmp";
  return "";
}

}  // namespace mip
