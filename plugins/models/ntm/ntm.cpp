// NTM and EncoderSolverNTM: MI-Prometheus's Neural Turing Machine (a
// controller with read heads and one write head over an external memory,
// content and location addressing) and its encoder-solver pair, with every
// head of a step addressed at once over the batch (ATen only).
#include <ATen/ATen.h>

#include <memory>
#include <mip/memory/addressing.hpp>
#include <mip/memory/controllers.hpp>
#include <mip/memory/layers.hpp>
#include <mip/memory/sequence_model.hpp>
#include <mip/sdk/sdk.hpp>
#include <string>
#include <vector>

namespace {

using mip::memory::ControllerState;
using mip::memory::Dense;
using mip::sdk::DataDict;
using mip::sdk::ParamView;

// An int key of `section` that must be >= `min`.
int64_t at_least(const ParamView& section,
                 const std::string& key,
                 int64_t min) {
  const auto v = section.get<int64_t>(key);
  MIP_CHECK(v >= min, mip::ParameterError, "[", section.path(), ".", key,
            "] must be >= ", min, ", got ", v);
  return v;
}

// The sizes an NTM cell is built from (the model section's keys).
struct NtmSizes {
  int64_t input = 0, output = 0;  // one input / output item
  int64_t hidden = 0;             // controller.hidden_state_size
  int64_t bits = 0;               // memory.num_content_bits
  int64_t addresses = -1;         // memory.num_addresses (-1: input length)
  int64_t read_heads = 0;         // interface.num_read_heads
  int64_t shift = 0;              // interface.shift_size
  bool content = true;            // interface.use_content_based_addressing

  explicit NtmSizes(const ParamView& p) {
    input = at_least(p, "input_item_size", 1);
    output = at_least(p, "output_item_size", 1);
    const auto ctrl = p.child("controller");
    hidden = at_least(*ctrl, "hidden_state_size", 1);
    const auto mem = p.child("memory");
    bits = at_least(*mem, "num_content_bits", 1);
    addresses = mem->get<int64_t>("num_addresses");
    MIP_CHECK(addresses == -1 || addresses >= 1, mip::ParameterError, "[",
              mem->path(),
              ".num_addresses] must be >= 1, or -1 for the input sequence "
              "length, got ",
              addresses);
    const auto itf = p.child("interface");
    read_heads = at_least(*itf, "num_read_heads", 1);
    shift = at_least(*itf, "shift_size", 1);
    MIP_CHECK(shift % 2 == 1, mip::ParameterError, "[", itf->path(),
              ".shift_size] must be odd (a shift kernel centred on 0), got ",
              shift);
    content = itf->get<bool>("use_content_based_addressing");
  }
  // Addressing parameters of one head: [key, beta, gate] (content
  // addressing only), shift logits, gamma.
  int64_t addressing() const { return (content ? bits + 2 : 0) + shift + 1; }
  int64_t heads() const { return read_heads + 1; }
  // What the controller reads: the input item and the last read vectors.
  int64_t controller_input() const { return input + read_heads * bits; }
  // What the output layer reads: the controller's output and the new reads.
  int64_t extended_hidden() const { return hidden + read_heads * bits; }
  int64_t memory_size(int64_t length) const {
    return addresses == -1 ? length : addresses;
  }
};

// Everything a cell carries from one step to the next.
struct NtmState {
  ControllerState controller;
  at::Tensor memory;   // [B, A, C]
  at::Tensor weights;  // [B, Hr + 1, A]: the read heads', then the write's
  at::Tensor reads;    // [B, Hr * C]: the last read vectors

  // `mask` ? a : b, per sample (mask [B] bool).
  static NtmState where(const at::Tensor& mask,
                        const NtmState& a,
                        const NtmState& b) {
    auto pick = [&](const at::Tensor& x, const at::Tensor& y) {
      auto sizes = std::vector<int64_t>(static_cast<size_t>(x.dim()), 1);
      sizes[0] = mask.size(0);
      return at::where(mask.view(sizes), x, y);
    };
    NtmState s;
    for (size_t i = 0; i < a.controller.size(); ++i) {
      s.controller.push_back(pick(a.controller[i], b.controller[i]));
    }
    s.memory = pick(a.memory, b.memory);
    s.weights = pick(a.weights, b.weights);
    s.reads = pick(a.reads, b.reads);
    return s;
  }
};

// MI-Prometheus's NTMCell and NTMInterface: one step of controller, head
// addressing, read and write. Parameter names follow MI-Prometheus's
// (controller, interface.hidden2read_list.<i>, interface.hidden2write_params,
// hidden2output).
class NtmCell : public torch::nn::Module {
 public:
  NtmCell(const ParamView& p, const NtmSizes& n) : n_(n) {
    controller_ = register_module(
        "controller",
        mip::memory::make_controller(*p.child("controller"),
                                     n.controller_input(), n.hidden));
    auto interface =
        register_module("interface", std::make_shared<torch::nn::Module>());
    auto read_list = interface->register_module(
        "hidden2read_list", std::make_shared<torch::nn::Module>());
    for (int64_t h = 0; h < n.read_heads; ++h) {
      read_.push_back(mip::memory::add_dense(*read_list, std::to_string(h),
                                             n.hidden, n.addressing()));
    }
    write_ = mip::memory::add_dense(*interface, "hidden2write_params", n.hidden,
                                    n.addressing() + 2 * n.bits);
    output_ = mip::memory::add_dense(*this, "hidden2output",
                                     n.extended_hidden(), n.output);
  }

  // The state MI-Prometheus starts from on `memory`: controller at zero,
  // every head on address 0, reads of address 0.
  NtmState init_state(const at::Tensor& memory) const {
    const int64_t b = memory.size(0), a = memory.size(1);
    NtmState s;
    s.controller = controller_->init_state(b, memory.options());
    s.memory = memory;
    s.weights = at::zeros({b, n_.heads(), a}, memory.options());
    s.weights.select(2, 0).fill_(1);
    s.reads = memory.select(1, 0).repeat({1, n_.read_heads});
    return s;
  }

  // Per sequence: the heads' layers as one matrix (rows: each head's
  // addressing parameters, read heads first, then erase and add), so that a
  // step computes every head's parameters in one product; and the shift
  // index for `addresses`.
  void prepare(int64_t addresses, const at::Device& device) {
    std::vector<at::Tensor> w, b;
    for (const auto& r : read_) {
      w.push_back(r->weight());
      b.push_back(r->bias());
    }
    w.push_back(write_->weight());
    b.push_back(write_->bias());
    heads_w_ = at::cat(w, 0);
    heads_b_ = at::cat(b, 0);
    shift_index_ =
        mip::memory::circular_shift_index(addresses, n_.shift, device);
  }

  // One step on `x` [B, I]: updates `s`, returns the output layer's input
  // (controller output and new reads) [B, extended_hidden].
  at::Tensor step(const at::Tensor& x, NtmState& s) const {
    const int64_t b = x.size(0), heads = n_.heads(), p = n_.addressing();
    at::Tensor h = controller_->step(at::cat({x, s.reads}, 1), s.controller);
    at::Tensor params = at::linear(h, heads_w_, heads_b_);
    at::Tensor addr = params.narrow(1, 0, heads * p).view({b, heads, p});
    int64_t offset = 0;
    auto take = [&](int64_t size) {
      at::Tensor t = addr.narrow(2, offset, size);
      offset += size;
      return t;
    };
    at::Tensor weights = s.weights;
    if (n_.content) {
      at::Tensor key = at::sigmoid(take(n_.bits));
      at::Tensor beta = at::softplus(take(1)) + 1;
      at::Tensor gate = at::sigmoid(take(1));
      weights = mip::memory::interpolate(
          mip::memory::content_weights(key, beta, s.memory), weights, gate);
    }
    at::Tensor shift = at::softmax(take(n_.shift), -1);
    at::Tensor gamma = at::softplus(take(1)) + 1;
    weights = mip::memory::sharpen(
        mip::memory::circular_shift(weights, shift, shift_index_), gamma);
    // Read heads read the memory as it was; then the write head writes.
    at::Tensor read_w = weights.narrow(1, 0, n_.read_heads);
    at::Tensor reads = mip::memory::read_memory(read_w, s.memory).view({b, -1});
    at::Tensor erase = at::sigmoid(params.narrow(1, heads * p, n_.bits));
    at::Tensor add =
        at::sigmoid(params.narrow(1, heads * p + n_.bits, n_.bits));
    s.memory = mip::memory::erase_and_add(s.memory,
                                          weights.narrow(1, n_.read_heads, 1),
                                          erase.unsqueeze(1), add.unsqueeze(1));
    s.weights = weights;
    s.reads = reads;
    return at::cat({h, reads}, 1);
  }

  // Logits from the output layer's inputs of every step [B, T, E].
  at::Tensor output(const at::Tensor& extended) const {
    return output_->forward(extended);
  }

 private:
  NtmSizes n_;
  std::shared_ptr<mip::memory::Controller> controller_;
  std::vector<std::shared_ptr<Dense>> read_;
  std::shared_ptr<Dense> write_, output_;
  at::Tensor heads_w_, heads_b_, shift_index_;
};

// The zero memory a sequence starts from [B, A, C].
at::Tensor initial_memory(const at::Tensor& x, const NtmSizes& n) {
  return at::zeros({x.size(0), n.memory_size(x.size(1)), n.bits}, x.options());
}

// What both models share: the sizes, "sequences" [B, T, I] in,
// "predictions" [B, T, O] logits out, and the trace of each step's memory
// and weightings (memory [B, T, A, C], read_weights [B, T, Hr, A],
// write_weights [B, T, 1, A]).
class NtmModel : public mip::memory::SequenceMemoryModel {
 protected:
  explicit NtmModel(const ParamView& p) : n_(p) {
    input_size_ = n_.input;
    output_size_ = n_.output;
    // Accepted for MI-Prometheus's files: which figure its visualiser drew.
    p.get<int64_t>("visualization_mode");
    trace_.set_on(p.get<bool>("plot_memory"));
  }
  // Records step `s` (when the trace is on or the host records).
  void record(const NtmState& s) {
    trace_.record("memory", s.memory);
    trace_.record("read_weights", s.weights.narrow(1, 0, n_.read_heads));
    trace_.record("write_weights", s.weights.narrow(1, n_.read_heads, 1));
  }
  NtmSizes n_;
};

class Ntm final : public NtmModel {
 public:
  explicit Ntm(mip::sdk::Context& ctx) : NtmModel(ctx.params()) {
    cell_ = register_module("ntm_cell",
                            std::make_shared<NtmCell>(ctx.params(), n_));
  }

  DataDict forward(const DataDict& batch) override {
    const at::Tensor& x = batch.at("sequences");
    const int64_t t = x.size(1);
    NtmState s = cell_->init_state(initial_memory(x, n_));
    cell_->prepare(s.memory.size(1), x.device());
    trace_.begin(step_recorder());
    std::vector<at::Tensor> extended;
    extended.reserve(static_cast<size_t>(t));
    for (int64_t i = 0; i < t; ++i) {
      extended.push_back(cell_->step(x.select(1, i), s));
      record(s);
    }
    DataDict out;
    out["predictions"] = cell_->output(at::stack(extended, 1));
    trace_.finish(out);
    return out;
  }

 private:
  std::shared_ptr<NtmCell> cell_;
};

// MI-Prometheus's EncoderSolverNTM: an encoder cell runs until a sample's
// recall marker (solving bit set, encoding bit clear), then a solver cell
// takes over, starting from the encoder's whole state (pass_cell_state) or
// from a fresh state on the encoder's memory. Here the switch is decided per
// sample on the device (MI-Prometheus read sample 0's bits on the host at
// every step): both cells step every sample and each keeps the steps of its
// own mode.
class EncoderSolverNtm final : public NtmModel {
 public:
  explicit EncoderSolverNtm(mip::sdk::Context& ctx) : NtmModel(ctx.params()) {
    const auto& p = ctx.params();
    pass_cell_state_ = p.get<bool>("pass_cell_state");
    encoding_bit_ = bit(p, "encoding_bit", "store_bit");
    solving_bit_ = bit(p, "solving_bit", "recall_bit");
    MIP_CHECK(encoding_bit_ != solving_bit_, mip::ParameterError, "[", p.path(),
              ".encoding_bit] and [", p.path(),
              ".solving_bit] must differ, both are ", encoding_bit_);
    encoder_ = register_module("encoder", std::make_shared<NtmCell>(p, n_));
    solver_ = register_module("solver", std::make_shared<NtmCell>(p, n_));
  }

  DataDict forward(const DataDict& batch) override {
    const at::Tensor& x = batch.at("sequences");
    const int64_t t = x.size(1);
    const at::Tensor memory = initial_memory(x, n_);
    NtmState enc = encoder_->init_state(memory);
    NtmState sol = solver_->init_state(memory);
    encoder_->prepare(memory.size(1), x.device());
    solver_->prepare(memory.size(1), x.device());
    // Per sample: solving yet? [B] and per step [B, T].
    at::Tensor solving = at::zeros({x.size(0)}, x.options().dtype(at::kBool));
    at::Tensor switches = (x.select(2, solving_bit_) != 0)
                              .logical_and(x.select(2, encoding_bit_) == 0);
    std::vector<at::Tensor> modes, enc_out, sol_out;
    trace_.begin(step_recorder());
    for (int64_t i = 0; i < t; ++i) {
      const at::Tensor now = switches.select(1, i);
      solving = solving.logical_or(now);
      sol = NtmState::where(
          now, pass_cell_state_ ? enc : solver_->init_state(enc.memory), sol);
      const at::Tensor xi = x.select(1, i);
      NtmState enc_next = enc, sol_next = sol;
      enc_out.push_back(encoder_->step(xi, enc_next));
      sol_out.push_back(solver_->step(xi, sol_next));
      enc = NtmState::where(solving, enc, enc_next);
      sol = NtmState::where(solving, sol_next, sol);
      modes.push_back(solving);
      if (trace_.on()) {
        record(NtmState::where(solving, sol, enc));
      }
    }
    at::Tensor mode = at::stack(modes, 1).unsqueeze(2);
    DataDict out;
    out["predictions"] = at::where(mode, solver_->output(at::stack(sol_out, 1)),
                                   encoder_->output(at::stack(enc_out, 1)));
    trace_.finish(out);
    return out;
  }

 private:
  // An input bit's index: `key`, else the problem's `fallback` value.
  int64_t bit(const ParamView& p,
              const std::string& key,
              const std::string& fallback) const {
    MIP_CHECK(p.has(key) || p.has(fallback), mip::ParameterError, "[", p.path(),
              ".", key, "] is required (the problem gives no ", fallback, ")");
    const auto v = p.has(key) ? p.get<int64_t>(key) : p.get<int64_t>(fallback);
    MIP_CHECK(v >= 0 && v < n_.input, mip::ParameterError, "[", p.path(), ".",
              key, "] must be an input bit in [0, ", n_.input, "), got ", v);
    return v;
  }

  bool pass_cell_state_ = false;
  int64_t encoding_bit_ = 0, solving_bit_ = 1;
  std::shared_ptr<NtmCell> encoder_, solver_;
};

}  // namespace

MIP_REGISTER_MODEL(Ntm,
                   "NTM",
                   "Neural Turing Machine: a controller with read heads and "
                   "a write head on an external memory, content and location "
                   "addressing (MI-Prometheus's NTM)")
MIP_REGISTER_MODEL(EncoderSolverNtm,
                   "EncoderSolverNTM",
                   "two NTM cells sharing the memory: an encoder until the "
                   "recall marker, then a solver (MI-Prometheus's "
                   "EncoderSolverNTM)")
