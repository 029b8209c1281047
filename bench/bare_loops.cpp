// The floor: the benchmark workloads as bare LibTorch loops, no framework.
// Same maths, same data generation, same optimizer as the worker runs them
// through the plugins. Prints one JSON line with the timing.
//
//   mip-bench-bare <lstm|mlp|wide|lenet5|ntm|dnc> <threads> <episodes>
//   [data_folder]
#include <torch/torch.h>
#include <zlib.h>

#include "dnc_fused.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double unix_now() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kWarmup =
    5;  // as the worker: episodes left out of the timing

/// Runs `episodes` episodes, each `step(make(episode))`: make builds the
/// batch, step trains on it. Prints the timing, and the share of it spent
/// making batches.
template <typename Make, typename Step>
void time_loop(const std::string& name,
               int64_t episodes,
               Make&& make,
               Step&& step) {
  const double first = unix_now();
  auto warm = clock_type::now();
  double making = 0.0;
  for (int64_t e = 0; e < episodes; ++e) {
    const auto begin = clock_type::now();
    auto batch = make(e);
    if (e >= kWarmup)
      making +=
          std::chrono::duration<double>(clock_type::now() - begin).count();
    step(batch);
    if (e == kWarmup - 1)
      warm = clock_type::now();
  }
  const double seconds =
      std::chrono::duration<double>(clock_type::now() - warm).count();
  const auto timed = static_cast<double>(episodes - kWarmup);
  std::printf(
      "{\"workload\": \"%s\", \"first_episode_unix\": %.6f, "
      "\"timed_episodes\": %lld, "
      "\"ms_per_episode\": %.6f, \"batch_ms_per_episode\": %.6f}\n",
      name.c_str(), first, static_cast<long long>(episodes - kWarmup),
      1000.0 * seconds / timed, 1000.0 * making / timed);
}

/// The end of a classifier's step, as the worker runs it: the loss and the
/// accuracy read for the statistics, then backward and the optimizer step.
void classifier_update(const torch::Tensor& loss,
                       const torch::Tensor& logits,
                       const torch::Tensor& y,
                       torch::optim::Optimizer& opt) {
  const double value = loss.item<double>();
  const double acc =
      logits.argmax(1).eq(y).to(torch::kDouble).mean().item<double>();
  volatile double sink = value + acc;
  (void)sink;
  loss.backward();
  opt.step();
}

// --- serial recall + LSTM (maes_baselines sizes)
// ---------------------------------

/// A serial-recall batch as SerialRecallCommandLines generates it, `len`
/// items.
struct RecallBatch {
  torch::Tensor x, y, mask;
  int64_t t;
};

RecallBatch recall_batch(at::Generator& gen,
                         int64_t e,
                         int64_t b,
                         int64_t c,
                         int64_t d,
                         int64_t len) {
  using torch::indexing::None;
  using torch::indexing::Slice;
  gen.set_current_seed(static_cast<uint64_t>(e) + 1);
  const int64_t line = torch::randint(2, c, {1}, gen).item<int64_t>();
  const int64_t l = torch::randint(len, len + 1, {1}, gen).item<int64_t>();
  const auto bits = torch::bernoulli(torch::full({b, l, d}, 0.5), gen);
  const int64_t t = 2 * l + 2;
  auto x = torch::zeros({b, t, c + d});
  x.index_put_({Slice(), 0, 0}, 1.0);
  x.index_put_({Slice(), Slice(1, l + 1), Slice(c, None)}, bits);
  x.index_put_({Slice(), l + 1, 1}, 1.0);
  x.index_put_({Slice(), Slice(l + 2, None), line}, 1.0);
  auto y = torch::zeros({b, t, d});
  y.index_put_({Slice(), Slice(l + 2, None), Slice()}, bits);
  auto mask = torch::zeros({b, t, 1}, torch::kUInt8);
  mask.index_put_({Slice(), Slice(l + 2, None), 0}, 1);
  return RecallBatch{x, y, mask, t};
}

/// The masked loss, the statistics the worker reads, backward, clipping and
/// the optimizer step, as the serial-recall workloads run them.
void recall_update(const torch::Tensor& logits,
                   const RecallBatch& batch,
                   int64_t d,
                   std::vector<torch::Tensor>& params,
                   torch::optim::Optimizer& opt) {
  const auto m = batch.mask.to(torch::kFloat);
  const auto loss = (torch::binary_cross_entropy_with_logits(
                         logits, batch.y, {}, {}, at::Reduction::None) *
                     m)
                        .sum() /
                    (m.sum() * d);
  const double value = loss.item<double>();
  const auto acc =
      ((1.0 - (torch::sigmoid(logits).round() - batch.y).abs()) * m).sum() /
      (m.sum() * d);
  volatile double sink = value + acc.item<double>();
  (void)sink;
  loss.backward();
  torch::nn::utils::clip_grad_value_(params, 10.0);
  opt.step();
}

void lstm(int64_t episodes) {
  const int64_t c = 3, d = 8, b = 64, len = 10, h = 256;
  torch::manual_seed(1);
  torch::nn::LSTMCell cell(c + d, h);
  torch::nn::Linear linear(h, d);
  std::vector<torch::Tensor> params = cell->parameters();
  for (auto& p : linear->parameters())
    params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(0.01));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto make = [&](int64_t e) {
    return recall_batch(gen, e, b, c, d, len);
  };
  // The step, as the LSTM plugin and the worker run it.
  const auto step = [&](const RecallBatch& batch) {
    opt.zero_grad();
    auto hs = torch::zeros({b, h});
    auto cs = torch::zeros({b, h});
    std::vector<torch::Tensor> outs;
    for (int64_t s = 0; s < batch.t; ++s) {
      std::tie(hs, cs) =
          cell->forward(batch.x.select(1, s), std::make_tuple(hs, cs));
      outs.push_back(hs);
    }
    recall_update(linear->forward(torch::stack(outs, 1)), batch, d, params,
                  opt);
  };
  time_loop("lstm", episodes, make, step);
}

// --- serial recall + NTM (MI-Prometheus's configs/ntm/serial_recall.yaml:
// RNN controller of 20 sigmoid units, one read head, shift 3, 10-bit memory
// with as many addresses as input steps), fixed length 10 -----------------

void ntm(int64_t episodes) {
  const int64_t c = 3, d = 8, b = 64, len = 10, hidden = 20, bits = 10,
                shift = 3, heads = 2;      // one read head, the write head
  const int64_t p = bits + 2 + shift + 1;  // key, beta, gate, shift, gamma
  torch::manual_seed(1);
  torch::nn::Linear ctrl(c + d + bits + hidden, hidden);
  torch::nn::Linear read(hidden, p), write(hidden, p + 2 * bits);
  torch::nn::Linear out(hidden + bits, d);
  std::vector<torch::Tensor> params;
  for (torch::nn::Module* m : std::initializer_list<torch::nn::Module*>{
           ctrl.get(), read.get(), write.get(), out.get()})
    for (auto& t : m->parameters())
      params.push_back(t);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(0.01));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto make = [&](int64_t e) {
    return recall_batch(gen, e, b, c, d, len);
  };
  const auto step = [&](const RecallBatch& batch) {
    const int64_t t = batch.t, a = t;  // as many addresses as steps
    opt.zero_grad();
    auto memory = torch::zeros({b, a, bits});
    auto weights = torch::zeros({b, heads, a});
    weights.select(2, 0).fill_(1);
    auto reads = memory.select(1, 0).repeat({1, 1});
    auto h = torch::zeros({b, hidden});
    const auto w_all = torch::cat({read->weight, write->weight});
    const auto b_all = torch::cat({read->bias, write->bias});
    const auto offsets = torch::arange(shift, torch::kLong) - shift / 2;
    const auto index =
        torch::remainder(
            torch::arange(a, torch::kLong).unsqueeze(0) + offsets.unsqueeze(1),
            a)
            .flatten();
    std::vector<torch::Tensor> ext;
    for (int64_t s = 0; s < t; ++s) {
      h = torch::sigmoid(ctrl->forward(
          torch::cat({torch::cat({batch.x.select(1, s), reads}, 1), h}, 1)));
      const auto prm = torch::linear(h, w_all, b_all);
      const auto addr = prm.narrow(1, 0, heads * p).view({b, heads, p});
      const auto key = torch::sigmoid(addr.narrow(2, 0, bits));
      const auto beta = torch::softplus(addr.narrow(2, bits, 1)) + 1;
      const auto gate = torch::sigmoid(addr.narrow(2, bits + 1, 1));
      const auto kernel = torch::softmax(addr.narrow(2, bits + 2, shift), -1);
      const auto gamma =
          torch::softplus(addr.narrow(2, bits + 2 + shift, 1)) + 1;
      // Content: cosine similarity (broadcast, not bmm), softmax.
      const auto dots = (key.unsqueeze(2) * memory.unsqueeze(1)).sum(-1);
      const auto norms = key.norm(2, -1, true).clamp_min(1e-12) *
                         memory.norm(2, -1).clamp_min(1e-12).unsqueeze(1);
      const auto content = torch::softmax(beta * (dots / norms), -1);
      auto w = weights + gate * (content - weights);
      // Shift: gather the S neighbours of each address, weight, sum.
      auto sizes = w.sizes().vec();
      sizes.insert(sizes.end() - 1, shift);
      w = (w.index_select(-1, index).view(sizes) * kernel.unsqueeze(-1))
              .sum(-2);
      // Sharpen.
      w = torch::exp(gamma * torch::log(w + 1e-12));
      w = w / w.sum(-1, true);
      // Read the memory as it was, then write.
      const auto rw = w.narrow(1, 0, 1);
      reads = (rw.unsqueeze(-1) * memory.unsqueeze(1)).sum(2).view({b, -1});
      const auto erase = torch::sigmoid(prm.narrow(1, heads * p, bits));
      const auto add = torch::sigmoid(prm.narrow(1, heads * p + bits, bits));
      const auto ww = w.narrow(1, 1, 1).unsqueeze(-1);  // [B, 1, A, 1]
      const auto keep = 1 - (ww * erase.unsqueeze(1).unsqueeze(2)).select(1, 0);
      memory = memory * keep + ww.select(1, 0) * add.unsqueeze(1);
      weights = w;
      ext.push_back(torch::cat({h, reads}, 1));
    }
    recall_update(out->forward(torch::stack(ext, 1)), batch, d, params, opt);
  };
  time_loop("ntm", episodes, make, step);
}

// --- an MLP on generated majority bits: tiny (mlp: 9-32-2, batch 64,
// overhead-bound), or wide (wide: 1023-256-2, batch 256, where making a batch
// costs about as much as the training step) ----------------------------------

void mlp(const std::string& name,
         int64_t episodes,
         int64_t bits,
         int64_t b,
         int64_t hidden) {
  torch::manual_seed(1);
  torch::nn::Linear l1(bits, hidden), l2(hidden, 2);
  std::vector<torch::Tensor> params = l1->parameters();
  for (auto& p : l2->parameters())
    params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(0.01));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto make = [&](int64_t e) {
    gen.set_current_seed(static_cast<uint64_t>(e) + 1);
    auto x = torch::bernoulli(torch::full({b, bits}, 0.5), gen);
    auto y = (x.sum(1) > bits / 2).to(torch::kInt64);
    return std::make_pair(x, y);
  };
  const auto step = [&](const std::pair<torch::Tensor, torch::Tensor>& batch) {
    const auto& [x, y] = batch;
    opt.zero_grad();
    const auto logits = l2->forward(torch::relu(l1->forward(x)));
    const auto loss = torch::cross_entropy_loss(logits, y);
    classifier_update(loss, logits, y, opt);
  };
  time_loop(name, episodes, make, step);
}

// --- LeNet5 on Fashion-MNIST
// ------------------------------------------------------

std::string gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw std::runtime_error("cannot open " + path);
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return out;
}

void lenet5(int64_t episodes, const std::string& folder) {
  const std::string img = gunzip(folder + "/train-images-idx3-ubyte.gz");
  const std::string lab = gunzip(folder + "/train-labels-idx1-ubyte.gz");
  const int64_t n = 60000, used = 55000, b = 64;
  auto images = torch::from_blob(const_cast<char*>(img.data()) + 16,
                                 {n, 1, 28, 28}, torch::kUInt8)
                    .clone();
  images = torch::constant_pad_nd(images, {2, 2, 2, 2}, 0);
  const auto labels =
      torch::from_blob(const_cast<char*>(lab.data()) + 8, {n}, torch::kUInt8)
          .to(torch::kLong);
  torch::manual_seed(1);
  torch::nn::Conv2d c1(torch::nn::Conv2dOptions(1, 6, 5)),
      c2(torch::nn::Conv2dOptions(6, 16, 5)),
      c3(torch::nn::Conv2dOptions(16, 120, 5));
  torch::nn::Linear f1(120, 84), f2(84, 10);
  std::vector<torch::Tensor> params;
  for (torch::nn::Module* m : std::initializer_list<torch::nn::Module*>{
           c1.get(), c2.get(), c3.get(), f1.get(), f2.get()})
    for (auto& p : m->parameters())
      params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(0.001));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto perm = torch::randperm(used, gen, torch::kLong);
  const auto make = [&](int64_t e) {
    const int64_t begin = (e * b) % used;
    const auto idx = perm.slice(0, begin, std::min(used, begin + b));
    auto x = images.index_select(0, idx).to(torch::kFloat).div_(255.0);
    auto y = labels.index_select(0, idx);
    return std::make_pair(x, y);
  };
  const auto step = [&](const std::pair<torch::Tensor, torch::Tensor>& batch) {
    const auto& [x, y] = batch;
    opt.zero_grad();
    auto h = torch::max_pool2d(torch::relu(c1->forward(x)), 2);
    h = torch::max_pool2d(torch::relu(c2->forward(h)), 2);
    h = torch::relu(c3->forward(h)).flatten(1);
    const auto logits = f2->forward(torch::relu(f1->forward(h)));
    const auto loss = torch::nll_loss(torch::log_softmax(logits, 1), y);
    classifier_update(loss, logits, y, opt);
  };
  time_loop("lenet5", episodes, make, step);
}

// --- serial recall + DNC (MI-Prometheus's dwm_baselines/dnc settings: LSTM
// controller of 20, 10-bit memory with as many addresses as input steps, one
// read and one write head; batch 16, Adam lr 0.0005), fixed length 10. The
// memory step is the plugin's fused CPU functions (plugins/models/dnc/
// dnc_fused.hpp), the rest written out ---------------------------------------

void dnc(int64_t episodes) {
  const int64_t c = 3, d = 8, b = 16, len = 10, hidden = 20, bits = 10;
  // The interface, grouped by activation as the plugin lays it out (one read
  // and one write head): sigmoid (erase, allocation gate, write gate, free
  // gate), oneplus (write strength, read strength), linear (write vector,
  // write key, read key), the read modes (softmax).
  const int64_t n_sig = bits + 3, n_plus = 2, n_lin = 3 * bits, n_mode = 3;
  torch::manual_seed(1);
  torch::nn::LSTMCell ctrl(c + d + bits, hidden);
  torch::nn::Linear output_gen(hidden, d);
  torch::nn::Linear param_gen(hidden, n_sig + n_plus + n_lin + n_mode);
  torch::nn::Linear output_network(bits, d);
  std::vector<torch::Tensor> params;
  for (torch::nn::Module* m : std::initializer_list<torch::nn::Module*>{
           ctrl.get(), output_gen.get(), param_gen.get(), output_network.get()})
    for (auto& t : m->parameters())
      params.push_back(t);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(0.0005));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto make = [&](int64_t e) {
    return recall_batch(gen, e, b, c, d, len);
  };
  const auto step = [&](const RecallBatch& batch) {
    const int64_t t = batch.t, a = t;  // as many addresses as steps
    opt.zero_grad();
    auto h = torch::zeros({b, hidden}), cell = torch::zeros({b, hidden});
    auto memory = torch::zeros({b, a, bits});
    auto read = torch::full({b, 1, a}, 1e-6),
         write = torch::full({b, 1, a}, 1e-6);
    auto usage = torch::zeros({b, a});
    auto link = torch::full({b, 1, a, a}, 1e-6);
    auto precedence = torch::full({b, 1, a}, 1e-6);
    auto read_vector = torch::zeros({b, bits});
    std::vector<torch::Tensor> hs, reads;
    for (int64_t s = 0; s < t; ++s) {
      std::tie(h, cell) =
          ctrl->forward(torch::cat({batch.x.select(1, s), read_vector}, 1),
                        std::make_tuple(h, cell));
      const auto p = param_gen->forward(h);
      const auto sig = torch::sigmoid(p.narrow(1, 0, n_sig));
      const auto plus = 1 + torch::softplus(p.narrow(1, n_sig, n_plus));
      const auto lin = p.narrow(1, n_sig + n_plus, n_lin);
      const auto mode = torch::softmax(
          p.narrow(1, n_sig + n_plus + n_lin, n_mode).view({b, 1, 3}), -1);
      const auto field = [&](const torch::Tensor& g, int64_t at, int64_t n) {
        return g.narrow(1, at, n).view({b, 1, n});
      };
      const auto erase = field(sig, 0, bits), alloc_gate = field(sig, bits, 1),
                 write_gate = field(sig, bits + 1, 1),
                 free_gate = field(sig, bits + 2, 1);
      // Usage, allocation, the write weighting (the plugin's fused CPU
      // functions, dnc_fused.hpp).
      namespace fused = mip::dnc::fused;
      usage = fused::update_usage(usage, write, free_gate, read);
      const auto allocation =
          fused::write_allocation(usage, alloc_gate, write_gate);
      const auto write_content = fused::content_weights(
          field(lin, bits, bits), field(plus, 0, 1), memory);
      write = write_gate * torch::lerp(write_content, allocation, alloc_gate);
      memory = fused::erase_and_add(memory, write, erase, field(lin, 0, bits));
      // Links, precedence, the read weighting on the new memory.
      std::tie(link, precedence, read) = fused::links_and_read(
          link, precedence, write, read,
          fused::content_weights(field(lin, 2 * bits, bits), field(plus, 1, 1),
                                 memory),
          mode);
      read_vector =
          (read.unsqueeze(-1) * memory.unsqueeze(1)).sum(2).view({b, -1});
      hs.push_back(h);
      reads.push_back(read_vector);
    }
    recall_update(output_gen->forward(torch::stack(hs, 1)) +
                      output_network->forward(torch::stack(reads, 1)),
                  batch, d, params, opt);
  };
  time_loop("dnc", episodes, make, step);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr
        << "usage: mip-bench-bare <lstm|mlp|wide|lenet5|ntm|dnc> <threads> "
           "<episodes> "
           "[data_folder]\n";
    return 2;
  }
  const std::string workload = argv[1];
  torch::set_num_threads(std::stoi(argv[2]));
  const int64_t episodes = std::stoll(argv[3]);
  if (workload == "lstm")
    lstm(episodes);
  else if (workload == "mlp")
    mlp(workload, episodes, 9, 64, 32);
  else if (workload == "wide")
    mlp(workload, episodes, 1023, 256, 256);
  else if (workload == "ntm")
    ntm(episodes);
  else if (workload == "lenet5")
    lenet5(episodes, argc > 4 ? argv[4] : "/usr/share/datasets/fashion-mnist");
  else if (workload == "dnc")
    dnc(episodes);
  else {
    std::cerr << "unknown workload " << workload << "\n";
    return 2;
  }
  return 0;
}
