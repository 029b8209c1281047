// The temporal manipulation family: recall a stored sequence with its items
// reordered in time. ReverseRecallCommandLines,
// RepeatReverseRecallCommandLines, SkipRecallCommandLines and
// ManipulationTemporalRotation.
#include <mip/sdk/sdk.hpp>
#include <mip/sdk/sequence.hpp>

#include "../recall/recall_task.hpp"

namespace {

using mip::recall::RecallTask;
using mip::sdk::DataDict;

/// ReverseRecallCommandLines: a store marker, L items, a recall marker, then
/// L steps whose answer is the items last first.
class ReverseRecall final : public RecallTask {
 public:
  explicit ReverseRecall(mip::sdk::Context& ctx) : RecallTask(ctx) {}

 protected:
  DataDict generate_batch(int64_t batch, at::Generator& gen) override {
    // Draw order: command line, length, bits.
    const int64_t line = draw_command_line(2, gen);
    const int64_t len = draw_length(gen);
    const at::Tensor bits = random_bits({batch, len, data_bits()}, gen);
    return store_then_recall(bits, bits.flip({1}), line).build(len);
  }
};

/// RepeatReverseRecallCommandLines: reverse recall N times in a row.
using RepeatReverseRecall = mip::recall::RepeatedRecall</*kReversed=*/true>;

/// SkipRecallCommandLines: a store marker, L items, a recall marker, then
/// one step per recalled item: every skip_step-th item from item seq_start
/// (0-based), in order.
class SkipRecall final : public RecallTask {
 public:
  explicit SkipRecall(mip::sdk::Context& ctx) : RecallTask(ctx) {
    const mip::sdk::ParamView& p = ctx.params();
    seq_start_ = p.get<int64_t>("seq_start");
    skip_step_ = p.get<int64_t>("skip_step");
    MIP_CHECK(seq_start_ >= 0 && seq_start_ < min_length(), mip::ParameterError,
              "[", where(), "seq_start] (", seq_start_,
              ") must be >= 0 and < min_sequence_length (", min_length(),
              "), so that every sequence has an item to recall");
    MIP_CHECK(skip_step_ >= 1, mip::ParameterError, "[", where(),
              "skip_step] must be >= 1, got ", skip_step_);
  }

 protected:
  DataDict generate_batch(int64_t batch, at::Generator& gen) override {
    // Draw order: command line, length, bits.
    const int64_t line = draw_command_line(2, gen);
    const int64_t len = draw_length(gen);
    const at::Tensor bits = random_bits({batch, len, data_bits()}, gen);
    const at::Tensor picked = bits.slice(1, seq_start_, len, skip_step_);
    return store_then_recall(bits, picked, line).build(len);
  }

 private:
  int64_t seq_start_ = 0, skip_step_ = 2;
};

/// ManipulationTemporalRotation: a store marker, L items, a recall marker,
/// then L steps whose answer is the items rotated by num_items to the right
/// (item i answered at step i + num_items mod L; |num_items| < 1 is a
/// fraction of L).
class TemporalRotation final : public RecallTask {
 public:
  explicit TemporalRotation(mip::sdk::Context& ctx)
      : RecallTask(ctx), num_items_(ctx.params().get<double>("num_items")) {}

 protected:
  DataDict generate_batch(int64_t batch, at::Generator& gen) override {
    // Draw order: command line, length, bits.
    const int64_t line = draw_command_line(2, gen);
    const int64_t len = draw_length(gen);
    const at::Tensor bits = random_bits({batch, len, data_bits()}, gen);
    const at::Tensor rotated = mip::sdk::seq::rotate(bits, num_items_, 1);
    return store_then_recall(bits, rotated, line).build(len);
  }

 private:
  double num_items_ = 0.5;
};

}  // namespace

MIP_REGISTER_PROBLEM(ReverseRecall,
                     "ReverseRecallCommandLines",
                     "reverse recall: store L random bit items, recall them "
                     "last first",
                     "ReverseRecall",
                     "reverse_recall",
                     "reverse_recall_cl")
MIP_REGISTER_PROBLEM(RepeatReverseRecall,
                     "RepeatReverseRecallCommandLines",
                     "repeat reverse recall: store L random bit items, recall "
                     "them last first N times in a row",
                     "RepeatReverseRecall",
                     "repeat_reverse_recall",
                     "repeat_reverse_recall_cl")
MIP_REGISTER_PROBLEM(SkipRecall,
                     "SkipRecallCommandLines",
                     "skip recall: store L random bit items, recall every "
                     "skip_step-th one from seq_start",
                     "SkipRecall",
                     "skip_recall",
                     "skip_recall_cl",
                     "odd_recall")
MIP_REGISTER_PROBLEM(TemporalRotation,
                     "ManipulationTemporalRotation",
                     "temporal rotation: store L random bit items, recall "
                     "them rotated by num_items",
                     "ManipulationTemporalSwap",
                     "manipulation_temporal_rotation",
                     "manipulation_temporal_swap")
