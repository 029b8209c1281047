// One rank of a data-parallel run: the c10d process group, the gradient
// buckets all-reduced while the backward pass goes on, and the reductions of
// statistics and stop signals.
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(USE_C10D_NCCL)  // CUDA LibTorch built with NCCL (untested here)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <csignal>
#include <cstdlib>
#include <functional>
#include <mutex>

#include <mip/core/distributed.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/signals.hpp>
#include <mip/core/statistics.hpp>
#include <mip/sdk/error.hpp>

namespace mip {

namespace {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

/// The Gloo device: loopback when the store is there (one machine),
/// GLOO_SOCKET_IFNAME's interface when set, else the host name's address.
std::shared_ptr<::gloo::transport::Device> gloo_device(const RankPlace& p) {
  using Factory = c10d::ProcessGroupGloo;
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return Factory::createDeviceForInterface(ifname);
  if (is_loopback(p.master_addr))
    return Factory::createDeviceForHostname("127.0.0.1");
  return Factory::createDefaultDevice();
}

std::string message_of(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e))
    return c10->what_without_backtrace();
  return e.what();
}

}  // namespace

struct DataParallel::Impl {
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0;
    int64_t numel = 0;
    bool ready = false;
  };
  struct Bucket {
    at::Tensor flat;
    std::vector<size_t> params;
    size_t pending = 0;
    bool launched = false;
    c10::intrusive_ptr<c10d::Work> work;
  };

  RankPlace place;
  std::chrono::milliseconds timeout;
  c10::Device device{c10::kCPU};
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  int stop = 0;

  std::vector<at::Tensor> params;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  std::vector<unsigned> hooks;
  size_t next_launch = 0;
  double weight = 1.0;
  bool active = false;
  std::mutex mutex;

  std::string who() const {
    return "rank " + std::to_string(place.rank) + " of " +
           std::to_string(place.world);
  }

  /// Runs a collective; its failure names this rank, the collective and
  /// what probably happened.
  template <typename F>
  auto collective(const std::string& what, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const std::exception& e) {
      throw Error("data-parallel " + who() + ": " + what + " failed (" +
                  message_of(e) +
                  "). Another rank probably ended or stopped answering "
                  "(timeout " +
                  std::to_string(timeout.count() / 1000) +
                  " s); this rank stops too. The experiment folder can be "
                  "resumed with the same number of ranks (--resume)");
    }
  }

  void wait(c10d::Work& work, const std::string& what) {
    collective(what, [&] {
      work.wait(timeout);
      return 0;
    });
  }

  void allreduce(at::Tensor& t, const std::string& what) {
    std::vector<at::Tensor> v{t};
    auto work = collective(what, [&] { return pg->allreduce(v); });
    wait(*work, what);
  }

  void broadcast(at::Tensor& t, const std::string& what) {
    std::vector<at::Tensor> v{t};
    auto work = collective(what, [&] { return pg->broadcast(v); });
    wait(*work, what);
  }

  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& b = buckets[next_launch++];
      std::vector<at::Tensor> v{b.flat};
      b.work = collective("the gradient all-reduce",
                          [&] { return pg->allreduce(v); });
      b.launched = true;
    }
  }

  void on_grad(size_t index, const at::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!active)
      return;
    Slot& s = slots[index];
    Bucket& b = buckets[s.bucket];
    at::Tensor region = b.flat.narrow(0, s.offset, s.numel);
    torch::NoGradGuard no_grad;
    if (s.ready) {  // a second gradient for it in one backward pass
      region.add_(grad.reshape(-1), weight);
      return;
    }
    region.copy_(grad.reshape(-1)).mul_(weight);
    s.ready = true;
    if (--b.pending == 0)
      launch_ready();
  }
};

DataParallel::DataParallel(const RankPlace& place,
                           std::chrono::milliseconds timeout,
                           bool gpu)
    : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.place = place;
  d.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> store = d.collective(
      "joining the store at " + place.master_addr + ":" +
          std::to_string(place.master_port),
      [&]() -> c10::intrusive_ptr<c10d::Store> {
        c10d::TCPStoreOptions o;
        o.port = static_cast<uint16_t>(place.master_port);
        o.isServer = !place.agent_store && place.rank == 0;
        o.numWorkers = static_cast<size_t>(place.world);
        o.timeout = timeout;
        auto tcp = c10::make_intrusive<c10d::TCPStore>(place.master_addr, o);
        if (!place.agent_store)
          return tcp;
        return c10::make_intrusive<c10d::PrefixStore>(place.store_prefix, tcp);
      });
  store = c10::make_intrusive<c10d::PrefixStore>("mip", store);
  if (gpu) {
#if defined(USE_C10D_NCCL)
    d.device = c10::Device(c10::kCUDA, static_cast<int8_t>(place.local_rank));
    auto o = c10d::ProcessGroupNCCL::Options::create();
    o->timeout = timeout;
    d.pg = d.collective("creating the NCCL process group", [&] {
      return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, place.rank,
                                                         place.world, o);
    });
#else
    throw ConfigError(
        "data-parallel " + d.who() +
        ": --gpu needs NCCL, and this LibTorch was built without it (or "
        "without CUDA); drop --gpu to train on CPUs with Gloo");
#endif
  } else {
    auto o = c10d::ProcessGroupGloo::Options::create(timeout);
    o->devices.push_back(gloo_device(place));
    d.pg = d.collective("creating the Gloo process group", [&] {
      return c10::make_intrusive<c10d::ProcessGroupGloo>(store, place.rank,
                                                         place.world, o);
    });
  }
}

DataParallel::~DataParallel() {
  for (size_t i = 0; i < impl_->hooks.size(); ++i)
    if (impl_->params[i].requires_grad())
      impl_->params[i].remove_hook(impl_->hooks[i]);
}

int DataParallel::rank() const {
  return impl_->place.rank;
}

int DataParallel::world() const {
  return impl_->place.world;
}

std::string DataParallel::who() const {
  return impl_->who();
}

int64_t DataParallel::broadcast_from_rank0(int64_t value) {
  at::Tensor t = torch::tensor({value}, torch::kLong).to(impl_->device);
  impl_->broadcast(t, "broadcasting a value from rank 0");
  return t.cpu().item<int64_t>();
}

void DataParallel::broadcast_from_rank0(
    const std::vector<at::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  for (const at::Tensor& t : tensors) {
    if (!t.defined())
      continue;
    at::Tensor target = t;  // shares storage: the broadcast writes into it
    impl_->broadcast(target, "broadcasting rank 0's weights");
  }
}

void DataParallel::check_same(int64_t value, const std::string& what) {
  const int64_t first = broadcast_from_rank0(value);
  at::Tensor differ =
      torch::tensor({first == value ? 0.0 : 1.0}, torch::kDouble)
          .to(impl_->device);
  impl_->allreduce(differ, "comparing " + what);
  MIP_CHECK(differ.cpu().item<double>() == 0.0, ConfigError, "data-parallel ",
            who(), ": the ranks disagree on ", what, " (rank 0: ", first,
            ", this rank: ", value,
            "); every rank must run the same configuration, plugins and "
            "data");
}

void DataParallel::attach(const std::vector<at::Tensor>& params,
                          double bucket_mb) {
  Impl& d = *impl_;
  d.params = params;
  d.slots.assign(params.size(), {});
  const int64_t cap = static_cast<int64_t>(bucket_mb * 1024 * 1024);
  // The backward pass reaches the last layers first: buckets are filled
  // from the last parameter back, so that the first one is ready first.
  int64_t bytes = cap;
  for (size_t k = params.size(); k-- > 0;) {
    const at::Tensor& p = params[k];
    if (!p.requires_grad())
      continue;
    const bool new_bucket =
        d.buckets.empty() || bytes >= cap ||
        d.buckets.back().flat.scalar_type() != p.scalar_type();
    if (new_bucket) {
      d.buckets.emplace_back();
      d.buckets.back().flat = torch::empty({0}, p.options());
      bytes = 0;
    }
    Impl::Bucket& b = d.buckets.back();
    d.slots[k] = {d.buckets.size() - 1, b.flat.numel(), p.numel(), false};
    b.flat = torch::empty({b.flat.numel() + p.numel()}, p.options());
    b.params.push_back(k);
    bytes += static_cast<int64_t>(p.numel() * p.element_size());
  }
  for (size_t k = 0; k < params.size(); ++k) {
    if (!params[k].requires_grad()) {
      d.hooks.push_back(0);
      continue;
    }
    Impl* impl = impl_.get();
    d.hooks.push_back(params[k].register_hook(
        [impl, k](const at::Tensor& grad) { impl->on_grad(k, grad); }));
  }
  logger("distributed")
      .debug(who() + ": " + std::to_string(d.buckets.size()) +
             " gradient bucket(s) of up to " + std::to_string(bucket_mb) +
             " MB");
}

void DataParallel::begin_step(double weight) {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mutex);
  d.weight = weight;
  d.next_launch = 0;
  for (auto& s : d.slots)
    s.ready = false;
  for (auto& b : d.buckets) {
    b.pending = b.params.size();
    b.launched = false;
    b.work.reset();
  }
  d.active = true;
}

void DataParallel::finish_step() {
  Impl& d = *impl_;
  {
    std::lock_guard<std::mutex> lock(d.mutex);
    d.active = false;
    // Parameters the forward pass did not use count zero, and every bucket
    // goes out in the same order on every rank.
    for (auto& b : d.buckets) {
      for (size_t k : b.params)
        if (!d.slots[k].ready) {
          b.flat.narrow(0, d.slots[k].offset, d.slots[k].numel).zero_();
          d.slots[k].ready = true;
        }
      b.pending = 0;
    }
    d.launch_ready();
  }
  for (auto& b : d.buckets)
    d.wait(*b.work, "the gradient all-reduce");
  torch::NoGradGuard no_grad;
  for (const auto& b : d.buckets)
    for (size_t k : b.params) {
      at::Tensor& p = d.params[k];
      const at::Tensor region =
          b.flat.narrow(0, d.slots[k].offset, d.slots[k].numel).view_as(p);
      if (p.grad().defined())
        p.mutable_grad().copy_(region);
      else if (region.abs().max().item<double>() != 0.0)
        p.mutable_grad() = region.clone();
    }
}

void DataParallel::reduce_statistics(StatisticsCollector& col,
                                     const std::vector<size_t>& before,
                                     double samples) {
  const auto& keys = col.keys();
  const size_t n = keys.size();
  std::vector<double> buf(2 * n + 2, 0.0);
  std::vector<bool> got(n, false);
  for (size_t k = 0; k < n; ++k) {
    const auto& values = col.values(keys[k]);
    got[k] = values.size() > (k < before.size() ? before[k] : 0);
    if (!got[k])
      continue;
    const double v = values.back();
    const bool sum = keys[k] == "batch_size";
    buf[2 * k] = sum ? v : samples * v;
    buf[2 * k + 1] = sum ? 1.0 : samples;
  }
  const int local_stop = stop_requested();
  buf[2 * n] = local_stop;
  buf[2 * n + 1] = local_stop ? 1.0 : 0.0;
  at::Tensor t = torch::tensor(buf, torch::kDouble).to(impl_->device);
  impl_->allreduce(t, "reducing the statistics");
  t = t.cpu().contiguous();
  const double* r = t.data_ptr<double>();
  for (size_t k = 0; k < n; ++k) {
    if (r[2 * k + 1] <= 0.0)
      continue;
    const double v =
        keys[k] == "batch_size" ? r[2 * k] : r[2 * k] / r[2 * k + 1];
    if (got[k])
      col.set_last(keys[k], v);
    else
      col.collect(keys[k], v);
  }
  const double stopping = r[2 * n + 1];
  impl_->stop = stopping <= 0.0 ? 0
                : local_stop
                    ? local_stop
                    : static_cast<int>(std::lround(r[2 * n] / stopping));
}

int DataParallel::agreed_stop() const {
  return impl_->stop;
}

std::vector<size_t> value_counts(const StatisticsCollector& col) {
  std::vector<size_t> counts;
  counts.reserve(col.keys().size());
  for (const auto& k : col.keys())
    counts.push_back(col.values(k).size());
  return counts;
}

}  // namespace mip
