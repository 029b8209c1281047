// DNC: MI-Prometheus's Differentiable Neural Computer (Graves et al. 2016),
// with its options that turn parts of it into an NTM. Each step: the
// controller reads the input and the previous read vectors; one linear layer
// gives every interface parameter; the write weighting (allocation by usage
// and content, or NTM addressing) erases and adds; the read weighting
// (content and the temporal links' directions, or NTM addressing) reads the
// new memory. Logits: a linear map of the controller's output plus one of the
// read vectors. docs/models/dnc.md has the equations and the parameters.
#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <mip/memory/addressing.hpp>
#include <mip/memory/controllers.hpp>
#include <mip/memory/layers.hpp>
#include <mip/memory/sequence_model.hpp>
#include <mip/sdk/sdk.hpp>

#include "dnc_addressing.hpp"
#include "dnc_fused.hpp"

namespace {

using mip::sdk::DataDict;
using mip::sdk::ParamView;

// The controller section MI-Prometheus's DNC derives from its own keys
// (controller_type, non_linearity, one layer), as make_controller reads it.
// Its path is the model's, so that errors name the model's keys.
class ControllerSection final : public ParamView {
 public:
  ControllerSection(std::string path,
                    std::map<std::string, std::string> strings,
                    std::map<std::string, int64_t> ints)
      : path_(std::move(path)),
        strings_(std::move(strings)),
        ints_(std::move(ints)) {}
  std::string path() const override { return path_; }
  bool has(const std::string& key) const override {
    return strings_.count(key) + ints_.count(key) > 0;
  }
  std::vector<std::string> keys() const override {
    std::vector<std::string> k;
    for (const auto& kv : strings_) {
      k.push_back(kv.first);
    }
    for (const auto& kv : ints_) {
      k.push_back(kv.first);
    }
    return k;
  }
  std::unique_ptr<ParamView> child(const std::string& key) const override {
    throw missing(key);
  }
  bool get_bool(const std::string& key) const override { throw missing(key); }
  int64_t get_int(const std::string& key) const override {
    auto it = ints_.find(key);
    if (it == ints_.end()) {
      throw missing(key);
    }
    return it->second;
  }
  double get_double(const std::string& key) const override {
    return static_cast<double>(get_int(key));
  }
  std::string get_string(const std::string& key) const override {
    auto it = strings_.find(key);
    if (it == strings_.end()) {
      throw missing(key);
    }
    return it->second;
  }
  std::vector<int64_t> get_int_list(const std::string& key) const override {
    throw missing(key);
  }
  std::vector<double> get_double_list(const std::string& key) const override {
    throw missing(key);
  }
  std::vector<std::string> get_string_list(
      const std::string& key) const override {
    throw missing(key);
  }

 private:
  mip::ParameterError missing(const std::string& key) const {
    return mip::ParameterError(mip::detail::str(
        "[", path_, ".", key, "]: the DNC's controller has no such key"));
  }
  std::string path_;
  std::map<std::string, std::string> strings_;
  std::map<std::string, int64_t> ints_;
};

// Where each interface parameter sits in the parameter generator's output:
// in a group (one per activation, so that one call activates a group), as the
// group's `index`-th part.
struct Slot {
  int64_t index = -1;
};

struct Group {
  std::vector<int64_t> sizes;
  int64_t size() const {
    int64_t n = 0;
    for (int64_t s : sizes) {
      n += s;
    }
    return n;
  }
  Slot take(int64_t n) {
    sizes.push_back(n);
    return Slot{static_cast<int64_t>(sizes.size()) - 1};
  }
};

// One step's interface parameters, [B, heads, n] each.
struct Interface {
  at::Tensor erase, alloc_gate, write_gate, free_gate;
  at::Tensor write_strength, read_strength, write_sharpening, read_sharpening;
  at::Tensor write_vector, write_key, read_key;
  at::Tensor read_mode, write_shift, read_shift;
};

// The recurrent state between steps.
struct State {
  mip::memory::ControllerState controller;
  at::Tensor memory;       // [B, A, C]
  at::Tensor read;         // [B, R, A]
  at::Tensor write;        // [B, W, A]
  at::Tensor usage;        // [B, A]
  at::Tensor link;         // [B, W, A, A]
  at::Tensor precedence;   // [B, W, A]
  at::Tensor read_vector;  // [B, R * C]
};

class Dnc final : public mip::memory::SequenceMemoryModel {
 public:
  explicit Dnc(mip::sdk::Context& ctx) {
    const ParamView& p = ctx.params();
    input_size_ = mip::memory::positive(p, "input_item_size");
    output_size_ = mip::memory::positive(p, "output_item_size");
    hidden_ = mip::memory::positive(p, "hidden_state_size");
    content_ = mip::memory::positive(p, "memory_content_size");
    reads_ = mip::memory::positive(p, "num_reads");
    writes_ = mip::memory::positive(p, "num_writes");
    addresses_ = p.get<int64_t>("memory_addresses_size");
    MIP_CHECK(addresses_ == -1 || addresses_ >= 1, mip::ParameterError, "[",
              p.path(),
              ".memory_addresses_size] must be >= 1, or -1 for as many "
              "addresses as the input has steps; got ",
              addresses_);
    shift_ = mip::memory::positive(p, "shift_size");
    MIP_CHECK(shift_ % 2 == 1, mip::ParameterError, "[", p.path(),
              ".shift_size] must be odd (shifts centred on 0), got ", shift_);
    ntm_write_ = p.get<bool>("use_ntm_write");
    ntm_read_ = p.get<bool>("use_ntm_read");
    ntm_order_ = p.get<bool>("use_ntm_order");
    extra_write_gate_ = p.get<bool>("use_extra_write_gate");
    trace_.set_on(p.get<bool>("plot_memory"));

    controller_ = register_module("controller", make_controller(p));
    output_gen_ =
        mip::memory::add_dense(*this, "output_gen", hidden_, output_size_);
    lay_out_interface();
    param_gen_ =
        mip::memory::add_dense(*this, "param_gen", hidden_, interface_size_);
    output_network_ = mip::memory::add_dense(*this, "output_network",
                                             reads_ * content_, output_size_);
  }

  DataDict forward(const DataDict& batch) override {
    const at::Tensor& x = batch.at("sequences");
    const int64_t b = x.size(0), t = x.size(1);
    const int64_t a = addresses_ > 0 ? addresses_ : t;
    State s = initial_state(b, a, x.options());
    const at::Tensor off_diagonal =
        ntm_read_ ? at::Tensor() : 1 - at::eye(a, x.options());
    std::vector<at::Tensor> hidden, reads;
    hidden.reserve(static_cast<size_t>(t));
    reads.reserve(static_cast<size_t>(t));
    trace_.begin(step_recorder());
    for (int64_t step = 0; step < t; ++step) {
      const at::Tensor h = controller_->step(
          at::cat({x.select(1, step), s.read_vector}, 1), s.controller);
      const Interface f = interface(param_gen_->forward(h));
      write_and_read(f, off_diagonal, s);
      hidden.push_back(h);
      reads.push_back(s.read_vector);
      trace_.record("memory", s.memory);
      trace_.record("read_weights", s.read);
      trace_.record("write_weights", s.write);
      trace_.record("usage", s.usage);
    }
    DataDict out;
    out["predictions"] = output_gen_->forward(at::stack(hidden, 1)) +
                         output_network_->forward(at::stack(reads, 1));
    trace_.finish(out);
    return out;
  }

 private:
  std::shared_ptr<mip::memory::Controller> make_controller(
      const ParamView& p) const {
    const auto type = p.get<std::string>("controller_type");
    const auto& names = mip::memory::controller_names();
    std::string all;
    for (const auto& n : names) {
      all += (all.empty() ? "" : ", ") + n;
    }
    MIP_CHECK(std::find(names.begin(), names.end(), type) != names.end(),
              mip::ParameterError, "[", p.path(), ".controller_type] is '",
              type, "': use one of ", all);
    std::map<std::string, std::string> strings{
        {"name", type}, {"non_linearity", p.get<std::string>("non_linearity")}};
    std::map<std::string, int64_t> ints{{"num_layers", 1}};
    if (p.has("ff_output_size")) {
      ints["ff_output_size"] = p.get<int64_t>("ff_output_size");
    }
    // The controller reads the input and the previous step's read vectors.
    return mip::memory::make_controller(
        ControllerSection(p.path(), strings, ints),
        input_size_ + reads_ * content_, hidden_);
  }

  // Sizes the parameter generator's output, only with the parameters the
  // chosen options use (MI-Prometheus generated all of them).
  void lay_out_interface() {
    const int64_t w = writes_, r = reads_, c = content_;
    const bool dnc_write = !ntm_write_, dnc_read = !ntm_read_;
    // Sigmoid: erase, allocation gate (the interpolation gate with NTM
    // writes), write gate, free gate (the interpolation gate with NTM reads).
    erase_ = sigmoid_.take(w * c);
    alloc_gate_ = sigmoid_.take(w);
    if (dnc_write || extra_write_gate_) {
      write_gate_ = sigmoid_.take(w);
    }
    if (dnc_write || ntm_read_) {
      free_gate_ = sigmoid_.take(r);
    }
    // 1 + softplus: key strengths, sharpening.
    write_strength_ = oneplus_.take(w);
    read_strength_ = oneplus_.take(r);
    if (ntm_write_) {
      write_sharpening_ = oneplus_.take(w);
    }
    if (ntm_read_) {
      read_sharpening_ = oneplus_.take(r);
    }
    // Linear: the write vectors and the keys.
    write_vector_ = linear_.take(w * c);
    write_key_ = linear_.take(w * c);
    read_key_ = linear_.take(r * c);
    // Softmax per read head over its modes.
    if (dnc_read) {
      read_mode_ = modes_.take(r * (2 * w + 1));
    }
    // Softmax of softplus per head over its shifts.
    if (ntm_write_) {
      write_shift_ = shifts_.take(w * shift_);
    }
    if (ntm_read_) {
      read_shift_ = shifts_.take(r * shift_);
    }
    interface_size_ = 0;
    for (const Group* g : groups()) {
      group_sizes_.push_back(g->size());
      interface_size_ += g->size();
    }
  }

  std::vector<const Group*> groups() const {
    return {&sigmoid_, &oneplus_, &linear_, &modes_, &shifts_};
  }

  Interface interface(const at::Tensor& p) const {
    const int64_t b = p.size(0);
    // One split into the groups, one per group into its parameters.
    const std::vector<at::Tensor> group = p.split_with_sizes(group_sizes_, 1);
    auto parts = [&](const at::Tensor& values, const Group& g) {
      return values.split_with_sizes(g.sizes, 1);
    };
    auto get = [&](const std::vector<at::Tensor>& values, const Slot& s,
                   int64_t heads) {
      return s.index < 0
                 ? at::Tensor()
                 : values[static_cast<size_t>(s.index)].view({b, heads, -1});
    };
    Interface f;
    const auto sig = parts(at::sigmoid(group[0]), sigmoid_);
    f.erase = get(sig, erase_, writes_);
    f.alloc_gate = get(sig, alloc_gate_, writes_);
    f.write_gate = get(sig, write_gate_, writes_);
    f.free_gate = get(sig, free_gate_, reads_);
    const auto plus = parts(1 + at::softplus(group[1]), oneplus_);
    f.write_strength = get(plus, write_strength_, writes_);
    f.read_strength = get(plus, read_strength_, reads_);
    f.write_sharpening = get(plus, write_sharpening_, writes_);
    f.read_sharpening = get(plus, read_sharpening_, reads_);
    const auto lin = parts(group[2], linear_);
    f.write_vector = get(lin, write_vector_, writes_);
    f.write_key = get(lin, write_key_, writes_);
    f.read_key = get(lin, read_key_, reads_);
    if (modes_.size() > 0) {
      f.read_mode = at::softmax(group[3].view({b, reads_, -1}), -1);
    }
    if (shifts_.size() > 0) {
      const at::Tensor shifts =
          at::softmax(at::softplus(group[4]).view({b, -1, shift_}), -1);
      const int64_t w = ntm_write_ ? writes_ : 0;
      if (ntm_write_) {
        f.write_shift = shifts.narrow(1, 0, w);
      }
      if (ntm_read_) {
        f.read_shift = shifts.narrow(1, w, reads_);
      }
    }
    return f;
  }

  // NTM addressing: interpolate the content weighting with the previous
  // weighting, shift (the shared primitive shifts in MI-Prometheus's
  // orientation), sharpen.
  static at::Tensor ntm_address(const at::Tensor& previous,
                                const at::Tensor& content,
                                const at::Tensor& gate,
                                const at::Tensor& shift,
                                const at::Tensor& sharpening) {
    const at::Tensor mixed = mip::memory::interpolate(content, previous, gate);
    return mip::memory::sharpen(mip::memory::circular_shift(mixed, shift),
                                sharpening);
  }

  // One step of the memory: write weighting, erase and add, read weighting,
  // read. Updates `s`. On the CPU the fused functions of dnc_fused.hpp (one
  // autograd node each, a written-out backward), elsewhere the same maths as
  // composite ATen ops.
  void write_and_read(const Interface& f,
                      const at::Tensor& off_diagonal,
                      State& s) const {
    namespace mem = mip::memory;
    namespace fused = mip::dnc::fused;
    const bool cpu = s.memory.is_cpu();
    const auto content = [cpu](const at::Tensor& key, const at::Tensor& beta,
                               const at::Tensor& memory) {
      return cpu ? fused::content_weights(key, beta, memory)
                 : mem::content_weights(key, beta, memory);
    };
    const at::Tensor write_content =
        content(f.write_key, f.write_strength, s.memory);
    at::Tensor write;
    if (ntm_write_) {
      write = ntm_address(s.write, write_content, f.alloc_gate, f.write_shift,
                          f.write_sharpening);
    } else {
      s.usage =
          cpu ? fused::update_usage(s.usage, s.write, f.free_gate, s.read)
              : mip::dnc::update_usage(s.usage, s.write, f.free_gate, s.read);
      const at::Tensor allocation =
          cpu ? fused::write_allocation(s.usage, f.alloc_gate, f.write_gate)
              : mip::dnc::write_allocation(s.usage, f.alloc_gate, f.write_gate);
      write = f.write_gate *
              mem::interpolate(allocation, write_content, f.alloc_gate);
    }
    at::Tensor erase = f.erase, add = f.write_vector;
    if (extra_write_gate_) {
      erase = erase * f.write_gate;
      add = add * f.write_gate;
    }
    const at::Tensor memory =
        cpu ? fused::erase_and_add(s.memory, write, erase, add)
            : mem::erase_and_add(s.memory, write, erase, add);
    // The NTM order addresses the reads on the memory before this write.
    const at::Tensor read_content =
        content(f.read_key, f.read_strength, ntm_order_ ? s.memory : memory);
    if (ntm_read_) {
      s.read = ntm_address(s.read, read_content, f.free_gate, f.read_shift,
                           f.read_sharpening);
    } else if (cpu) {
      std::tie(s.link, s.precedence, s.read) = fused::links_and_read(
          s.link, s.precedence, write, s.read, read_content, f.read_mode);
    } else {
      s.link = mip::dnc::update_link(s.link, s.precedence, write, off_diagonal);
      s.precedence = mip::dnc::update_precedence(s.precedence, write);
      s.read = mip::dnc::read_weights(
          read_content, mip::dnc::forward_weights(s.link, s.read),
          mip::dnc::backward_weights(s.link, s.read), f.read_mode);
    }
    s.write = write;
    s.memory = memory;
    s.read_vector =
        mem::read_memory(s.read, memory).reshape({s.read.size(0), -1});
  }

  // MI-Prometheus's initial state: zero memory, usage and read vectors;
  // weightings, links and precedence at 1e-6.
  State initial_state(int64_t b,
                      int64_t a,
                      const at::TensorOptions& options) const {
    State s;
    s.controller = controller_->init_state(b, options);
    s.memory = at::zeros({b, a, content_}, options);
    s.read = at::full({b, reads_, a}, 1e-6, options);
    s.write = at::full({b, writes_, a}, 1e-6, options);
    s.usage = at::zeros({b, a}, options);
    if (!ntm_read_) {
      s.link = at::full({b, writes_, a, a}, 1e-6, options);
      s.precedence = at::full({b, writes_, a}, 1e-6, options);
    }
    s.read_vector = at::zeros({b, reads_ * content_}, options);
    return s;
  }

  int64_t hidden_ = 0, content_ = 0, reads_ = 0, writes_ = 0, addresses_ = -1,
          shift_ = 3;
  bool ntm_write_ = false, ntm_read_ = false, ntm_order_ = false,
       extra_write_gate_ = false;
  Group sigmoid_, oneplus_, linear_, modes_, shifts_;
  Slot erase_, alloc_gate_, write_gate_, free_gate_, write_strength_,
      read_strength_, write_sharpening_, read_sharpening_, write_vector_,
      write_key_, read_key_, read_mode_, write_shift_, read_shift_;
  std::vector<int64_t> group_sizes_;
  int64_t interface_size_ = 0;
  std::shared_ptr<mip::memory::Controller> controller_;
  std::shared_ptr<mip::memory::Dense> output_gen_, param_gen_, output_network_;
};

}  // namespace

MIP_REGISTER_MODEL(Dnc,
                   "DNC",
                   "Differentiable Neural Computer: a controller with an "
                   "external memory addressed by content, dynamic allocation "
                   "and temporal links (MI-Prometheus's DNC)")
