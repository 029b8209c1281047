// EncoderSolverLSTM: MI-Prometheus's encoder-solver LSTM. Two LSTMs share one
// state: the encoder runs until the recall bit, the solver from there (the
// store bit switches back), and a linear layer maps the state to logits.
#include <ATen/ATen.h>

#include <mip/memory/layers.hpp>
#include <mip/memory/sequence_model.hpp>
#include <mip/sdk/sdk.hpp>

#include "encoder_solver.hpp"

namespace {

using mip::encoder_solver::Step;
using mip::memory::CellWeights;
using mip::memory::positive;
using mip::sdk::DataDict;

class EncoderSolverLstm final : public mip::memory::SequenceMemoryModel {
 public:
  explicit EncoderSolverLstm(mip::sdk::Context& ctx) {
    const auto& p = ctx.params();
    input_size_ = positive(p, "input_item_size");
    output_size_ = positive(p, "output_item_size");
    hidden_ = positive(p, "hidden_state_size");
    layers_ = positive(p, "num_layers");
    bits_ = mip::encoder_solver::read_control_bits(p, input_size_);
    // MI-Prometheus's names: encoder, solver, output (further layers of
    // the encoder and solver suffixed with their index).
    for (const char* part : {"encoder", "solver"}) {
      for (int64_t l = 0; l < layers_; ++l) {
        cells_.push_back(register_module(
            l == 0 ? std::string(part)
                   : std::string(part) + "_" + std::to_string(l),
            std::make_shared<CellWeights>(l == 0 ? input_size_ : hidden_,
                                          hidden_, 4)));
      }
    }
    output_ = mip::memory::add_dense(*this, "output", hidden_, output_size_);
  }

  DataDict forward(const DataDict& batch) override {
    const at::Tensor& x = batch.at("sequences");
    const std::vector<Step> plan = mip::encoder_solver::plan_steps(
        x, bits_, /*store_switches_back=*/true, "EncoderSolverLSTM");
    const int64_t b = x.size(0), t = x.size(1);
    at::Tensor h = at::zeros({layers_, b, hidden_}, x.options());
    at::Tensor c = at::zeros({layers_, b, hidden_}, x.options());
    // Each run of steps in one mode goes through the LSTM in one call (the
    // fused path where it is the faster), carrying the state over.
    const bool fused =
        mip::memory::fused_lstm_is_faster(input_size_, hidden_, layers_, x);
    std::vector<at::Tensor> outputs;
    mip::sdk::StepRecorder* recorder = step_recorder();
    for (int64_t begin = 0; begin < t;) {
      const bool solve = plan[static_cast<size_t>(begin)].solve;
      int64_t end = begin + 1;
      while (end < t && plan[static_cast<size_t>(end)].solve == solve) {
        ++end;
      }
      const at::Tensor part = x.narrow(1, begin, end - begin);
      if (recorder != nullptr) {
        // --visualize: the gates and states of the LSTM that ran each step,
        // and which one it was (1: the solver) [B, 1].
        mip::memory::publish_lstm_steps(part, h, c, weights(solve), *recorder);
        const at::Tensor mode =
            at::full({b, 1}, solve ? 1.0 : 0.0, x.options());
        for (int64_t i = begin; i < end; ++i)
          recorder->publish("solver", mode);
      }
      auto out = mip::memory::run_lstm(part, h, c, weights(solve), fused,
                                       is_training());
      outputs.push_back(std::get<0>(out));
      h = std::get<1>(out);
      c = std::get<2>(out);
      begin = end;
    }
    DataDict result;
    result["predictions"] = output_->forward(
        outputs.size() == 1 ? outputs[0] : at::cat(outputs, 1));
    return result;
  }

 private:
  // The encoder's or the solver's parameters, layer by layer, as run_lstm
  // takes them.
  std::vector<at::Tensor> weights(bool solver) const {
    std::vector<at::Tensor> all;
    for (int64_t l = 0; l < layers_; ++l) {
      const auto& cell =
          cells_[static_cast<size_t>((solver ? layers_ : 0) + l)];
      for (const at::Tensor& w : cell->all()) {
        all.push_back(w);
      }
    }
    return all;
  }

  int64_t hidden_ = 0, layers_ = 1;
  mip::encoder_solver::ControlBits bits_;
  std::vector<std::shared_ptr<CellWeights>> cells_;  // encoder's, then solver's
  std::shared_ptr<mip::memory::Dense> output_;
};

}  // namespace

MIP_REGISTER_MODEL(EncoderSolverLstm,
                   "EncoderSolverLSTM",
                   "encoder LSTM until the recall bit, solver LSTM after it, "
                   "sharing one state, then a linear layer per step "
                   "(MI-Prometheus's EncoderSolverLSTM)")
