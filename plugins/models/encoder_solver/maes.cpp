// MAES: MI-Prometheus's Memory-Augmented Encoder-Solver. The encoder (MAE)
// writes the input into a memory with one location-addressed write head; at
// the recall bit the solver (MAS) takes over the memory, and the controller
// state when pass_cell_state is on, and reads it with one read head that
// mixes its shifted attention with the encoder's final attention and with
// address 0. Vectorised over the batch; the switch point is read once per
// forward (encoder_solver.hpp).
#include <ATen/ATen.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include <mip/memory/addressing.hpp>
#include <mip/memory/controllers.hpp>
#include <mip/memory/layers.hpp>
#include <mip/memory/sequence_model.hpp>
#include <mip/sdk/sdk.hpp>

#include "encoder_solver.hpp"

namespace {

using mip::encoder_solver::Step;
using mip::memory::Controller;
using mip::memory::ControllerState;
using mip::memory::Dense;
using mip::memory::positive;
using mip::sdk::DataDict;

// Location addressing of MI-Prometheus's MAE and MAS: the previous attention
// [B, 1, A] shifted by the soft kernel softmax(shift) [B, S], then sharpened
// by gamma = 1 + softplus(gamma) [B, 1].
at::Tensor locate(const at::Tensor& previous,
                  const at::Tensor& shift_logits,
                  const at::Tensor& gamma_logits,
                  const at::Tensor& index) {
  const at::Tensor shifted = mip::memory::circular_shift(
      previous, at::softmax(shift_logits, 1).unsqueeze(1), index);
  return mip::memory::sharpen(shifted,
                              (at::softplus(gamma_logits) + 1).unsqueeze(1));
}

int64_t shift_size(const mip::sdk::ParamView& p) {
  const int64_t s = positive(p, "shift_size");
  MIP_CHECK(s % 2 == 1, mip::ParameterError, "[", p.path(),
            ".shift_size] must be odd (a kernel centred on 0 shift), got ", s);
  return s;
}

// The memory-augmented encoder's interface: one write head, location
// addressing only. Its parameters per step: shift [S], gamma [1], erase [C],
// add [C] (MI-Prometheus's order).
struct MaeInterface : torch::nn::Module {
  MaeInterface(int64_t hidden, int64_t content, int64_t shift)
      : content(content), shift(shift) {
    params = mip::memory::add_dense(*this, "hidden2write_params", hidden,
                                    shift + 1 + 2 * content);
  }
  int64_t content, shift;
  std::shared_ptr<Dense> params;
};

// The memory-augmented solver's interface: one read head; its parameters per
// step: gates [3], shift [S], gamma [1].
struct MasInterface : torch::nn::Module {
  MasInterface(int64_t hidden, int64_t shift) : shift(shift) {
    params = mip::memory::add_dense(*this, "hidden2read_params", hidden,
                                    3 + shift + 1);
  }
  int64_t shift;
  std::shared_ptr<Dense> params;
};

// A cell: controller, interface, output layer (MI-Prometheus's MAECell and
// MASCell, with their attribute names).
template <typename Interface>
struct Cell : torch::nn::Module {
  std::shared_ptr<Controller> controller;
  std::shared_ptr<Interface> interface;
  std::shared_ptr<Dense> hidden2output;
};

// What the encoder file holds: the encoder's controller and interface (not
// its output layer), as MI-Prometheus's encoder checkpoints do.
const char* const kEncoderParts[] = {"controller", "interface"};
const char* const kEncoderKind = "MAES encoder";

class Maes final : public mip::memory::SequenceMemoryModel,
                   public mip::sdk::CheckpointListener {
 public:
  explicit Maes(mip::sdk::Context& ctx) : log_(ctx.logger()) {
    const auto& p = ctx.params();
    where_ = p.path();
    input_size_ = positive(p, "input_item_size");
    output_size_ = positive(p, "output_item_size");
    bits_ = mip::encoder_solver::read_control_bits(p, input_size_);
    pass_cell_state_ = p.get<bool>("pass_cell_state");
    const auto memory = p.child("memory");
    content_ = positive(*memory, "num_content_bits");
    addresses_ = memory->get<int64_t>("num_addresses");
    MIP_CHECK(addresses_ == -1 || addresses_ >= 1, mip::ParameterError, "[",
              memory->path(),
              ".num_addresses] must be >= 1, or -1 for the input's length; "
              "got ",
              addresses_);
    const auto ctrl = p.child("controller");
    const int64_t hidden = positive(*ctrl, "hidden_state_size");
    trace_.set_on(p.get<int64_t>("visualization_mode") > 0);

    encoder_ =
        register_module("encoder", std::make_shared<Cell<MaeInterface>>());
    encoder_->controller = encoder_->register_module(
        "controller", mip::memory::make_controller(*ctrl, input_size_, hidden));
    encoder_->interface = encoder_->register_module(
        "interface",
        std::make_shared<MaeInterface>(hidden, content_,
                                       shift_size(*p.child("mae_interface"))));
    encoder_->hidden2output = mip::memory::add_dense(*encoder_, "hidden2output",
                                                     hidden, output_size_);

    solver_ = register_module("solver", std::make_shared<Cell<MasInterface>>());
    solver_->controller = solver_->register_module(
        "controller", mip::memory::make_controller(*ctrl, input_size_, hidden));
    solver_->interface = solver_->register_module(
        "interface", std::make_shared<MasInterface>(
                         hidden, shift_size(*p.child("mas_interface"))));
    solver_->hidden2output = mip::memory::add_dense(
        *solver_, "hidden2output", hidden + content_, output_size_);

    save_encoder_ = p.get<bool>("save_encoder");
    const auto load = p.get<std::string>("load_encoder");
    if (!load.empty()) {
      load_encoder(load);
    }
    if (p.get<bool>("freeze_encoder")) {
      for (const char* part : kEncoderParts) {
        for (auto& w : encoder_->named_children()[part]->parameters()) {
          w.set_requires_grad(false);
        }
      }
      log_.info("MAES: the encoder's controller and interface are frozen");
    }
  }

  DataDict forward(const DataDict& batch) override {
    const at::Tensor& x = batch.at("sequences");
    const std::vector<Step> plan = mip::encoder_solver::plan_steps(
        x, bits_, /*store_switches_back=*/false, "MAES");
    const int64_t b = x.size(0), t = x.size(1);
    const int64_t a = addresses_ == -1 ? t : addresses_;
    const auto opts = x.options();
    const int64_t s_enc = encoder_->interface->shift,
                  s_sol = solver_->interface->shift;
    const at::Tensor enc_index =
        mip::memory::circular_shift_index(a, s_enc, x.device());
    const at::Tensor sol_index =
        s_sol == s_enc
            ? enc_index
            : mip::memory::circular_shift_index(a, s_sol, x.device());
    // Hard attention on address 0: where both heads start.
    at::Tensor zero_hard = at::zeros({b, 1, a}, opts);
    zero_hard.select(2, 0).fill_(1);

    at::Tensor memory = at::zeros({b, a, content_}, opts);
    ControllerState enc_state = encoder_->controller->init_state(b, opts);
    at::Tensor enc_attention = zero_hard;
    ControllerState sol_state;
    at::Tensor sol_attention, final_enc_attention;
    std::vector<at::Tensor> logits;
    trace_.begin(step_recorder());
    logits.reserve(static_cast<size_t>(t));
    for (int64_t step = 0; step < t; ++step) {
      const Step& now = plan[static_cast<size_t>(step)];
      const at::Tensor xt = x.select(1, step);
      if (now.recall_on) {
        // (Re)starts the solver from the encoder's final state.
        sol_state = pass_cell_state_ ? enc_state
                                     : solver_->controller->init_state(b, opts);
        sol_attention = zero_hard;
        final_enc_attention = enc_attention;
      }
      if (!now.solve) {
        const at::Tensor h = encoder_->controller->step(xt, enc_state);
        const at::Tensor q = encoder_->interface->params->forward(h);
        enc_attention = locate(enc_attention, q.narrow(1, 0, s_enc),
                               q.narrow(1, s_enc, 1), enc_index);
        memory = mip::memory::erase_and_add(
            memory, enc_attention,
            at::sigmoid(q.narrow(1, s_enc + 1, content_)).unsqueeze(1),
            at::sigmoid(q.narrow(1, s_enc + 1 + content_, content_))
                .unsqueeze(1));
        logits.push_back(encoder_->hidden2output->forward(h));
      } else {
        const at::Tensor h = solver_->controller->step(xt, sol_state);
        const at::Tensor q = solver_->interface->params->forward(h);
        const at::Tensor gates = at::sigmoid(q.narrow(1, 0, 3)).unsqueeze(-1);
        const at::Tensor located = locate(sol_attention, q.narrow(1, 3, s_sol),
                                          q.narrow(1, 3 + s_sol, 1), sol_index);
        sol_attention = gates.narrow(1, 0, 1) * located +
                        gates.narrow(1, 1, 1) * final_enc_attention +
                        gates.narrow(1, 2, 1) * zero_hard;
        const at::Tensor read =
            mip::memory::read_memory(sol_attention, memory).squeeze(1);
        logits.push_back(
            solver_->hidden2output->forward(at::cat({h, read}, 1)));
      }
      if (trace_.on()) {
        const at::Tensor none = at::zeros({b, 1, a}, opts);
        trace_.record("memory", memory);
        trace_.record("write_weights", now.solve ? none : enc_attention);
        trace_.record("read_weights", now.solve ? sol_attention : none);
      }
    }
    DataDict out;
    out["predictions"] = at::stack(logits, 1);
    trace_.finish(out);
    return out;
  }

  // --- the encoder file (save_encoder, load_encoder)
  void checkpoint_saved(const mip::sdk::CheckpointSaved& saved) override {
    // MI-Prometheus saves the encoder with the best model.
    if (save_encoder_ && saved.best) {
      const std::string file =
          (std::filesystem::path(saved.models_folder) / "encoder_best.pt")
              .string();
      save_encoder(file, saved.episode);
      log_.info("MAES: encoder (episode " + std::to_string(saved.episode) +
                ") saved to " + file);
    }
  }

 private:
  // Writes the encoder's controller and interface to `file` atomically (a
  // temporary file in the same folder, then rename).
  void save_encoder(const std::string& file, int64_t episode) const {
    torch::serialize::OutputArchive ar;
    ar.write("mip.kind", c10::IValue(std::string(kEncoderKind)));
    ar.write("episode", c10::IValue(episode));
    for (const char* part : kEncoderParts) {
      for (const auto& w :
           encoder_->named_children()[part]->named_parameters()) {
        ar.write(std::string(part) + "." + w.key(), w.value());
      }
    }
    std::string bytes;
    ar.save_to([&bytes](const void* data, size_t n) -> size_t {
      bytes.append(static_cast<const char*>(data), n);
      return n;
    });
    const std::string tmp = file + ".tmp." + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      out.flush();
      MIP_CHECK(out.good(), mip::DataError, "[", where_,
                ".save_encoder]: cannot write the encoder file [", tmp, "]");
    }
    std::error_code ec;
    std::filesystem::rename(tmp, file, ec);
    MIP_CHECK(!ec, mip::DataError, "[", where_,
              ".save_encoder]: cannot rename [", tmp, "] to [", file,
              "]: ", ec.message());
  }

  // Loads an encoder file into the encoder's controller and interface; every
  // tensor must be there with the shape this configuration gives it.
  void load_encoder(const std::string& file) {
    const std::string key = "[" + where_ + ".load_encoder]";
    MIP_CHECK(std::filesystem::is_regular_file(file), mip::ParameterError, key,
              ": encoder file [", file, "] not found");
    torch::serialize::InputArchive ar;
    c10::IValue kind;
    try {
      ar.load_from(file);
      MIP_CHECK(ar.try_read("mip.kind", kind) && kind.isString() &&
                    kind.toStringRef() == kEncoderKind,
                mip::ParameterError, key, ": [", file,
                "] is not a MAES encoder file (save_encoder writes "
                "models/encoder_best.pt)");
    } catch (const c10::Error& e) {
      throw mip::ParameterError(
          key + ": [" + file +
          "] is not a MAES encoder file: " + e.what_without_backtrace());
    }
    torch::NoGradGuard no_grad;
    for (const char* part : kEncoderParts) {
      for (auto& w : encoder_->named_children()[part]->named_parameters()) {
        const std::string name = std::string(part) + "." + w.key();
        at::Tensor saved;
        MIP_CHECK(ar.try_read(name, saved), mip::ParameterError, key, ": [",
                  file, "] has no ", name,
                  ": it was saved with another controller (", where_,
                  ".controller)");
        MIP_CHECK(saved.sizes() == w.value().sizes(), mip::ParameterError, key,
                  ": [", file, "] holds ", name, " of shape ", saved.sizes(),
                  ", this configuration needs ", w.value().sizes(),
                  " (controller, memory.num_content_bits and "
                  "mae_interface.shift_size must match the saving run's)");
        w.value().copy_(saved);
      }
    }
    log_.info("MAES: encoder loaded from " + file);
  }

  mip::sdk::Logger& log_;
  std::string where_;
  int64_t content_ = 0, addresses_ = -1;
  mip::encoder_solver::ControlBits bits_;
  bool pass_cell_state_ = true, save_encoder_ = false;
  std::shared_ptr<Cell<MaeInterface>> encoder_;
  std::shared_ptr<Cell<MasInterface>> solver_;
};

}  // namespace

MIP_REGISTER_MODEL(Maes,
                   "MAES",
                   "Memory-Augmented Encoder-Solver: an encoder writes the "
                   "input into memory, a solver reads it from the recall bit "
                   "on (MI-Prometheus's MAES)")
