// ThalNetModel: MI-Prometheus's ThalNet (models/thalnet): modules that talk
// through a routing center, stepped over the sequence for the whole batch.
#include <ATen/ATen.h>

#include <cmath>
#include <mip/memory/layers.hpp>
#include <mip/memory/sequence_model.hpp>
#include <mip/sdk/sdk.hpp>
#include <string>
#include <vector>

namespace {

using mip::sdk::DataDict;
namespace mem = mip::memory;

// A linear layer under weight normalisation (torch.nn.utils.weight_norm,
// dim 0): weight = g * v / |v|, one norm per output row, starting as the
// plain layer's weights (g = |v|).
class WeightNormDense : public torch::nn::Module {
 public:
  WeightNormDense(int64_t in, int64_t out) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    bias_ = register_parameter("bias", at::empty({out}));
    weight_g_ = register_parameter("weight_g", at::empty({out, 1}));
    weight_v_ = register_parameter("weight_v", at::empty({out, in}));
    mem::uniform_init(weight_v_, bound);
    mem::uniform_init(bias_, bound);
    at::NoGradGuard no_grad;
    weight_g_.copy_(weight_v_.norm(2, 1, /*keepdim=*/true));
  }
  at::Tensor weight() const {
    return weight_v_ * (weight_g_ / weight_v_.norm(2, 1, /*keepdim=*/true));
  }
  const at::Tensor& bias() const { return bias_; }

 private:
  at::Tensor bias_, weight_g_, weight_v_;
};

// A GRU cell's parameters under torch::nn::GRUCell's names and in its
// layout (rows: reset, update, new gates), initialised as it is (uniform in
// +-1/sqrt(hidden)).
class GruParams : public torch::nn::Module {
 public:
  GruParams(int64_t in, int64_t hidden) {
    weight_ih = register_parameter("weight_ih", at::empty({3 * hidden, in}));
    weight_hh =
        register_parameter("weight_hh", at::empty({3 * hidden, hidden}));
    bias_ih = register_parameter("bias_ih", at::empty({3 * hidden}));
    bias_hh = register_parameter("bias_hh", at::empty({3 * hidden}));
    for (at::Tensor* t : {&weight_ih, &weight_hh, &bias_ih, &bias_hh})
      mem::uniform_init(*t, 1.0 / std::sqrt(static_cast<double>(hidden)));
  }
  at::Tensor weight_ih, weight_hh, bias_ih, bias_hh;
};

// MI-Prometheus's FFGRUController as ThalNet builds it: a linear layer to the
// slot size, then a GRU cell.
class FfGru : public torch::nn::Module {
 public:
  FfGru(int64_t in, int64_t slot, int64_t hidden)
      : ff(mem::add_dense(*this, "ff", in, slot)),
        gru(register_module("gru", std::make_shared<GruParams>(slot, hidden))) {
  }
  std::shared_ptr<mem::Dense> ff;
  std::shared_ptr<GruParams> gru;
};

// One module (MI-Prometheus's ThalnetModule): reads a context from the
// center, feeds it (after the input, for the first module) to its
// controller, whose GRU state is the module's output (last module only)
// followed by its slot of the center.
class ThalnetModule : public torch::nn::Module {
 public:
  ThalnetModule(int64_t center,
                int64_t context,
                int64_t slot,
                int64_t input,
                int64_t output)
      : input_size(input),
        state_size(output + slot),
        fc_context(register_module(
            "fc_context", std::make_shared<WeightNormDense>(center, context))),
        controller(register_module(
            "controller",
            std::make_shared<FfGru>(input + context, slot, output + slot))) {}
  const int64_t input_size, state_size;
  std::shared_ptr<WeightNormDense> fc_context;
  std::shared_ptr<FfGru> controller;
};

// Everything between the center (and the input) and the GRU gates is linear
// (context layer, feed-forward layer, the gates' input weights), so per
// forward it is multiplied into one matrix for all modules. The modules'
// states sit side by side in one [B, S] tensor (S: the sum of their sizes)
// and the gates are laid out gate by gate ([reset of every module | update
// | new]), so that a step is two matrix products and the GRU's elementwise
// gates, for all modules at once.
struct FusedStep {
  at::Tensor from_input;   // input and biases, every step [B, T, 3S]
  at::Tensor from_center;  // [N K, 3S]
  at::Tensor from_state;   // block-diagonal recurrent weights [S, 3S]
  at::Tensor state_bias;   // [3S]
};

class ThalNet final : public mem::SequenceMemoryModel {
 public:
  explicit ThalNet(mip::sdk::Context& ctx) {
    const auto& p = ctx.params();
    const auto positive = [&p](const char* key) {
      return mip::memory::positive(p, key);
    };
    input_size_ =
        positive(p.has("input_size") ? "input_size" : "input_item_size");
    output_size_ =
        positive(p.has("output_size") ? "output_size" : "output_item_size");
    const int64_t context = positive("context_input_size");
    slot_ = positive("center_size_per_module");
    trace_.set_on(p.get<bool>("plot_memory"));
    const auto n = p.get<int64_t>("num_modules");
    MIP_CHECK(n >= 2, mip::ParameterError, "[", p.path(),
              ".num_modules] must be >= 2 (the first module reads the input, "
              "the last gives the output), got ",
              n);
    for (int64_t i = 0; i < n; ++i) {
      modules_.push_back(register_module(
          "module_" + std::to_string(i),
          std::make_shared<ThalnetModule>(n * slot_, context, slot_,
                                          i == 0 ? input_size_ : 0,
                                          i == n - 1 ? output_size_ : 0)));
    }
  }

  DataDict forward(const DataDict& batch) override {
    const at::Tensor& x = batch.at("sequences");
    const int64_t b = x.size(0), t = x.size(1), k = slot_;
    const auto n = static_cast<int64_t>(modules_.size());
    const FusedStep f = fuse(x);
    // The states start at zero; the center (each module's slot) at random,
    // as MI-Prometheus's, drawn module by module.
    const int64_t last = (n - 1) * k;  // where the last module's state starts
    at::Tensor h =
        at::zeros({b, last + modules_.back()->state_size}, x.options());
    std::vector<at::Tensor> slots;
    for (int64_t i = 0; i < n; ++i)
      slots.push_back(at::randn({b, k}, x.options()));
    at::Tensor center = at::cat(slots, 1);

    std::vector<at::Tensor> outputs;
    trace_.begin(step_recorder());
    for (int64_t step = 0; step < t; ++step) {
      // GRU: reset r, update z, new n; h' = (1 - z) n + z h.
      const auto in =
          at::addmm(f.from_input.select(1, step), center, f.from_center)
              .chunk(3, 1);
      const auto rec = at::addmm(f.state_bias, h, f.from_state).chunk(3, 1);
      const at::Tensor r = at::sigmoid(in[0] + rec[0]);
      const at::Tensor z = at::sigmoid(in[1] + rec[1]);
      const at::Tensor fresh = at::tanh(in[2] + r * rec[2]);
      h = fresh + z * (h - fresh);
      // The last module's state is its output, then its slot.
      center = at::cat(
          {h.narrow(1, 0, last), h.narrow(1, last + output_size_, k)}, 1);
      outputs.push_back(h.narrow(1, last, output_size_));
      if (trace_.on()) {
        trace_.record("center", center.view({b, n, k}));
        for (int64_t i = 0; i < n; ++i)
          trace_.record("module_state_" + std::to_string(i),
                        h.narrow(1, i * k, modules_[size_t(i)]->state_size));
      }
    }
    DataDict out;
    out["predictions"] = at::stack(outputs, 1);
    trace_.finish(out);
    return out;
  }

 private:
  // The matrices of one forward (see FusedStep), from the modules' weights.
  FusedStep fuse(const at::Tensor& x) const {
    std::vector<at::Tensor> center[3], input[3], bias[3], rec[3], rec_bias[3];
    for (const auto& m : modules_) {
      const FfGru& c = *m->controller;
      const int64_t in = m->input_size, size = m->state_size;
      // Context, then the feed-forward layer: center -> slot features.
      const at::Tensor ff =
          c.ff->weight().narrow(1, in, c.ff->in_features() - in);
      const at::Tensor w_ih = c.gru->weight_ih;
      const at::Tensor gates = w_ih.mm(ff.mm(m->fc_context->weight()));
      const at::Tensor gates_bias =
          at::addmv(c.gru->bias_ih, w_ih,
                    at::addmv(c.ff->bias(), ff, m->fc_context->bias()));
      const at::Tensor gates_input =
          in > 0 ? w_ih.mm(c.ff->weight().narrow(1, 0, in))
                 : at::zeros({3 * size, input_size_}, w_ih.options());
      for (int g = 0; g < 3; ++g) {
        center[g].push_back(gates.narrow(0, g * size, size));
        input[g].push_back(gates_input.narrow(0, g * size, size));
        bias[g].push_back(gates_bias.narrow(0, g * size, size));
        rec[g].push_back(c.gru->weight_hh.narrow(0, g * size, size));
        rec_bias[g].push_back(c.gru->bias_hh.narrow(0, g * size, size));
      }
    }
    std::vector<at::Tensor> all_center, all_input, all_bias, all_rec,
        all_rec_bias;
    for (int g = 0; g < 3; ++g) {
      all_center.push_back(at::cat(center[g]));
      all_input.push_back(at::cat(input[g]));
      all_bias.push_back(at::cat(bias[g]));
      all_rec.push_back(at::block_diag(rec[g]));
      all_rec_bias.push_back(at::cat(rec_bias[g]));
    }
    return {at::linear(x, at::cat(all_input), at::cat(all_bias)),
            at::cat(all_center).t(), at::cat(all_rec).t(),
            at::cat(all_rec_bias)};
  }

  int64_t slot_ = 0;
  std::vector<std::shared_ptr<ThalnetModule>> modules_;
};

}  // namespace

MIP_REGISTER_MODEL(
    ThalNet,
    "ThalNetModel",
    "ThalNet: recurrent modules (feed-forward + GRU) that share features "
    "through a routing center (MI-Prometheus's ThalNetModel)",
    "ThalNet",
    "thalnet")
