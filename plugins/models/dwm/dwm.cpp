// DWM: MI-Prometheus's Differentiable Working Memory (models/dwm), stepped
// over the sequence with every sample and head addressed at once.
#include <ATen/ATen.h>

#include <algorithm>
#include <mip/memory/addressing.hpp>
#include <mip/memory/layers.hpp>
#include <mip/memory/sequence_model.hpp>
#include <mip/sdk/sdk.hpp>
#include <vector>

namespace {

using mip::sdk::DataDict;
namespace mem = mip::memory;

// Offsets of one head's parameters in the controller's update vector, in
// MI-Prometheus's order: shift logits [S], bookmark gate [1], jump logits
// [3], sharpening [1], erase [C], add [C], then with content addressing key
// [C], key strength [1], content gate [1].
struct UpdateLayout {
  UpdateLayout(int64_t s, int64_t c, bool content)
      : bookmark(s),
        jump(s + 1),
        gamma(s + 4),
        erase(s + 5),
        add(s + 5 + c),
        key(s + 5 + 2 * c),
        beta(s + 5 + 3 * c),
        gate(s + 6 + 3 * c),
        size(content ? s + 7 + 3 * c : s + 5 + 2 * c) {}
  int64_t shift = 0, bookmark, jump, gamma, erase, add, key, beta, gate, size;
};

struct HeadState {
  at::Tensor head;      // attention of each head [B, H, A]
  at::Tensor bookmark;  // the bookmark (snapshot) attention [B, H, A]
  at::Tensor memory;    // [B, A, C]
};

class Dwm final : public mem::SequenceMemoryModel {
 public:
  explicit Dwm(mip::sdk::Context& ctx) {
    const auto& p = ctx.params();
    read_sizes(p);
    content_addressing_ = p.get<bool>("use_content_addressing");
    trace_.set_on(p.get<bool>("plot_memory"));
    layout_ = UpdateLayout(shift_, content_, content_addressing_);
    // The three layers all read [input, read vectors, previous hidden state];
    // created in MI-Prometheus's order (state, update, output).
    const int64_t in = input_size_ + heads_ * content_ + hidden_;
    i2s_ = mem::add_dense(*this, "i2s", in, hidden_);
    i2u_ = mem::add_dense(*this, "i2u", in, heads_ * layout_.size);
    i2o_ = mem::add_dense(*this, "i2o", in, output_size_);
  }

  DataDict forward(const DataDict& batch) override {
    const at::Tensor& x = batch.at("sequences");
    const int64_t b = x.size(0), t = x.size(1), h = heads_, c = content_;
    const int64_t a = addresses_ == -1 ? std::max(t, shift_) : addresses_;
    // One fused matrix for the three layers; its input columns are applied
    // to the whole sequence at once, the rest at each step.
    const at::Tensor w =
        at::cat({i2s_->weight(), i2o_->weight(), i2u_->weight()});
    const at::Tensor from_input =
        at::linear(x, w.narrow(1, 0, input_size_),
                   at::cat({i2s_->bias(), i2o_->bias(), i2u_->bias()}));
    const at::Tensor from_state = w.narrow(1, input_size_, h * c + hidden_).t();

    const auto opts = x.options();
    at::Tensor hidden = at::zeros({b, hidden_}, opts);
    at::Tensor address0 = at::zeros({1, 1, a}, opts);
    address0.select(2, 0).fill_(1.0);
    HeadState s{address0.expand({b, h, a}), address0.expand({b, h, a}),
                at::full({b, a, c}, 0.01, opts)};

    std::vector<at::Tensor> outputs;
    trace_.begin(step_recorder());
    for (int64_t step = 0; step < t; ++step) {
      const at::Tensor read =
          mem::read_memory(s.head, s.memory).reshape({b, h * c});
      const at::Tensor z = at::addmm(from_input.select(1, step),
                                     at::cat({read, hidden}, 1), from_state);
      const auto parts =
          z.split_with_sizes({hidden_, output_size_, h * layout_.size}, 1);
      trace_.record("read_weights", s.head);
      trace_.record("write_weights", s.head);
      s = update(parts[2].view({b, h, layout_.size}), s, address0);
      hidden = at::sigmoid(parts[0]);
      outputs.push_back(parts[1]);
      trace_.record("memory", s.memory);
      trace_.record("bookmark_weights", s.bookmark);
    }
    DataDict out;
    out["predictions"] = at::stack(outputs, 1);
    trace_.finish(out);
    return out;
  }

 private:
  // Reads and checks the sizes.
  void read_sizes(const mip::sdk::ParamView& p) {
    const auto positive = [&p](const char* key) {
      return mip::memory::positive(p, key);
    };
    input_size_ = positive("input_item_size");
    output_size_ = positive("output_item_size");
    hidden_ = positive("hidden_state_size");
    content_ = positive("memory_content_size");
    heads_ = positive("num_heads");
    shift_ = p.get<int64_t>("shift_size");
    MIP_CHECK(shift_ >= 3 && shift_ % 2 == 1, mip::ParameterError, "[",
              p.path(),
              ".shift_size] must be odd and >= 3 (a shift by -S/2..S/2 "
              "addresses), got ",
              shift_);
    addresses_ = p.get<int64_t>("memory_addresses_size");
    MIP_CHECK(addresses_ == -1 || addresses_ >= shift_, mip::ParameterError,
              "[", p.path(),
              ".memory_addresses_size] must be -1 (the input length) or at "
              "least shift_size (",
              shift_, "), got ", addresses_);
  }

  // Writes with the previous attention, then moves the bookmark and the
  // attention (MI-Prometheus's Interface.update).
  HeadState update(const at::Tensor& u,
                   const HeadState& prev,
                   const at::Tensor& address0) const {
    const auto part = [&u](int64_t offset, int64_t n) {
      return u.narrow(2, offset, n);
    };
    const int64_t c = content_;
    HeadState next;
    next.memory = mem::erase_and_add(prev.memory, prev.head,
                                     at::sigmoid(part(layout_.erase, c)),
                                     part(layout_.add, c));
    // The bookmark keeps its place with probability jd, else takes the
    // head's: jd * bookmark + (1 - jd) * head.
    next.bookmark = mem::interpolate(prev.bookmark, prev.head,
                                     at::sigmoid(part(layout_.bookmark, 1)));
    // Stay, jump to the bookmark, or jump to address 0.
    const at::Tensor jump = at::softmax(part(layout_.jump, 3), 2);
    at::Tensor w = jump.narrow(2, 0, 1) * prev.head +
                   jump.narrow(2, 1, 1) * next.bookmark +
                   jump.narrow(2, 2, 1) * address0;
    if (content_addressing_) {
      const at::Tensor by_content = mem::content_weights(
          at::tanh(part(layout_.key, c)), at::softplus(part(layout_.beta, 1)),
          next.memory);
      w = mem::interpolate(by_content, w, at::sigmoid(part(layout_.gate, 1)));
    }
    // Kernel entry j moves the attention by S/2 - j addresses, in
    // MI-Prometheus's orientation as the shared circular_shift does.
    const at::Tensor shift =
        at::softmax(at::softplus(part(layout_.shift, shift_)), 2);
    next.head = mem::sharpen(mem::circular_shift(w, shift),
                             1 + at::softplus(part(layout_.gamma, 1)));
    return next;
  }

  int64_t hidden_ = 0, content_ = 0, heads_ = 0, shift_ = 0, addresses_ = -1;
  UpdateLayout layout_{3, 1, false};
  bool content_addressing_ = false;
  std::shared_ptr<mem::Dense> i2s_, i2u_, i2o_;
};

}  // namespace

MIP_REGISTER_MODEL(
    Dwm,
    "DWM",
    "Differentiable Working Memory: an RNN controller over a memory whose "
    "heads move by bookmark, address-0 and content jumps and soft shifts "
    "(MI-Prometheus's DWM)",
    "dwm")
