// Where an encoder-solver model switches between its encoder and its solver,
// read from the store (encoding) and recall (solving) bits of the input, as
// MI-Prometheus's encoder-solver models do: from the first sample of the
// batch (they assume every sample switches at the same step). The bits are
// copied to the host once per forward (one [T, 2] copy), never per step.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <mip/sdk/error.hpp>
#include <mip/sdk/param_view.hpp>

namespace mip::encoder_solver {

/// What the model does at one step.
struct Step {
  bool solve = false;      ///< the solver runs (else the encoder)
  bool recall_on = false;  ///< the recall bit is on at this step
};

/// The control bits' indices: `encoding_bit` and `solving_bit`, which default
/// to the problem's store_bit and recall_bit (MI-Prometheus's names).
struct ControlBits {
  int64_t encoding = 0, solving = 1;
};

inline ControlBits read_control_bits(const mip::sdk::ParamView& p,
                                     int64_t input_size) {
  ControlBits bits;
  const std::pair<const char*, const char*> keys[] = {
      {"encoding_bit", "store_bit"}, {"solving_bit", "recall_bit"}};
  for (const auto& [key, problem_key] : keys) {
    MIP_CHECK(p.has(key) || p.has(problem_key), mip::ParameterError, "[",
              p.path(), ".", key, "] is required: the problem gives no ",
              problem_key, " to default it to");
    const int64_t v =
        p.has(key) ? p.get<int64_t>(key) : p.get<int64_t>(problem_key);
    MIP_CHECK(v >= 0 && v < input_size, mip::ParameterError, "[", p.path(), ".",
              key, "] must index a bit of the input item (0..", input_size - 1,
              "), got ", v);
    (std::string(key) == "encoding_bit" ? bits.encoding : bits.solving) = v;
  }
  MIP_CHECK(bits.encoding != bits.solving, mip::ParameterError, "[", p.path(),
            ".solving_bit] must differ from encoding_bit, both are ",
            bits.encoding);
  return bits;
}

/// The step plan of `sequences` [B, T, I]. The model starts in the encoder;
/// the recall bit alone switches to the solver; with `store_switches_back`
/// (EncoderSolverLSTM) the store bit alone switches back to the encoder,
/// without it (MAES) the solver stays. Both bits on at one step is an error.
inline std::vector<Step> plan_steps(const at::Tensor& sequences,
                                    const ControlBits& bits,
                                    bool store_switches_back,
                                    const char* model) {
  const at::Tensor first = sequences.select(0, 0);
  const at::Tensor on =
      at::stack({first.select(1, bits.encoding), first.select(1, bits.solving)},
                1)
          .ne(0)
          .to(at::kCPU)
          .contiguous();
  const auto a = on.accessor<bool, 2>();
  std::vector<Step> plan(static_cast<size_t>(on.size(0)));
  bool solve = false;
  for (int64_t t = 0; t < on.size(0); ++t) {
    const bool store = a[t][0], recall = a[t][1];
    MIP_CHECK(!(store && recall), mip::DataError, model,
              ": the store bit (encoding_bit ", bits.encoding,
              ") and the recall bit (solving_bit ", bits.solving,
              ") are both on at step ", t, " of the first sample");
    if (recall) {
      solve = true;
    } else if (store && store_switches_back) {
      solve = false;
    }
    plan[static_cast<size_t>(t)] = {solve, recall};
  }
  return plan;
}

}  // namespace mip::encoder_solver
