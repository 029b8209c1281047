// MI-Prometheus's spatial manipulation tasks: every stored item is recalled
// with its bits transformed (negated, or rotated along the data lines).
#include <mip/sdk/sdk.hpp>
#include <mip/sdk/sequence.hpp>

namespace {

using mip::sdk::seq::AlgorithmicSeqToSeqProblem;

/// A store marker, L random items, a recall marker, then L steps whose
/// answer is transform() of the L items (with the command line, if any, on).
class SpatialManipulation : public AlgorithmicSeqToSeqProblem {
 public:
  using AlgorithmicSeqToSeqProblem::AlgorithmicSeqToSeqProblem;

 protected:
  /// The answer to the items [B, L, D].
  virtual at::Tensor transform(const at::Tensor& items) const = 0;

  mip::sdk::DataDict generate_batch(int64_t batch, at::Generator& gen) final {
    // Draw order: command line, length, bits (as MI-Prometheus).
    const int64_t line = draw_command_line(2, gen);
    const int64_t len = draw_length(gen);
    const at::Tensor bits = random_bits({batch, len, data_bits()}, gen);
    return builder(batch)
        .marker(store_bit())
        .present(bits)
        .marker(recall_bit())
        .answer(transform(bits), line)
        .build(len);
  }
};

class ManipulationSpatialNot final : public SpatialManipulation {
 public:
  explicit ManipulationSpatialNot(mip::sdk::Context& ctx)
      : SpatialManipulation(ctx) {}

 protected:
  /// Every bit negated: y(t) = NOT x(t).
  at::Tensor transform(const at::Tensor& items) const override {
    return 1.0 - items;
  }
};

class ManipulationSpatialRotation final : public SpatialManipulation {
 public:
  explicit ManipulationSpatialRotation(mip::sdk::Context& ctx)
      : SpatialManipulation(ctx) {
    const mip::sdk::ParamView& p = ctx.params();
    // num_bits: the key's older name (MI-Prometheus before February 2019;
    // its dwm_baselines files still write it); when set it is the shift.
    shift_ = p.has("num_bits") ? p.get<double>("num_bits")
                               : p.get<double>("num_bits_shifted");
    MIP_CHECK(data_bits() >= 2, mip::ParameterError, "[", where(),
              "data_bits] must be >= 2 (bits to rotate), got ", data_bits());
  }

 protected:
  /// The data bits rotated: bit i moves to i + num_bits_shifted (mod
  /// data_bits); |num_bits_shifted| < 1 is a fraction of data_bits.
  at::Tensor transform(const at::Tensor& items) const override {
    return mip::sdk::seq::rotate(items, shift_, 2);
  }

 private:
  double shift_ = 0.5;
};

}  // namespace

MIP_REGISTER_PROBLEM(ManipulationSpatialNot,
                     "ManipulationSpatialNot",
                     "spatial NOT: store L random bit items, recall each "
                     "with every bit negated",
                     "manipulation_spatial_not")
MIP_REGISTER_PROBLEM(ManipulationSpatialRotation,
                     "ManipulationSpatialRotation",
                     "spatial rotation: store L random bit items, recall "
                     "each with its bits rotated by num_bits_shifted",
                     "manipulation_spatial_rotation")
