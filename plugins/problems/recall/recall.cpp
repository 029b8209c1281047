// The recall family beyond serial recall (plugins/problems/serial_recall):
// RepeatSerialRecallCommandLines (recall one sequence several times) and
// ScratchPadCommandLines (see several sequences, recall only the last).
#include <mip/sdk/sdk.hpp>
#include <mip/sdk/sequence.hpp>

#include <algorithm>
#include <vector>

#include "recall_task.hpp"

namespace {

using mip::recall::Range;
using mip::recall::RecallTask;
using mip::sdk::DataDict;
using mip::sdk::seq::draw_int;

/// RepeatSerialRecallCommandLines: serial recall N times in a row.
using RepeatSerialRecall = mip::recall::RepeatedRecall</*kReversed=*/false>;

/// ScratchPadCommandLines: K subsequences (K in [num_subseq_min,
/// num_subseq_max]), each a store marker and its items, then a recall marker
/// and the steps whose answer is the last subsequence alone: each new
/// subsequence overwrites the memory.
class ScratchPad final : public RecallTask {
 public:
  explicit ScratchPad(mip::sdk::Context& ctx)
      : RecallTask(ctx),
        // num_subsequences is stored as int8.
        subsequences_(read_range(
            ctx.params(), "num_subseq_min", "num_subseq_max", 127)) {}

 protected:
  DataDict generate_batch(int64_t batch, at::Generator& gen) override {
    // Draw order: command line, number of subsequences, their lengths, then
    // their bits one subsequence after the other.
    const int64_t line = draw_command_line(2, gen);
    const int64_t count = draw_int(subsequences_.lo, subsequences_.hi, gen);
    std::vector<int64_t> lengths;
    for (int64_t k = 0; k < count; ++k)
      lengths.push_back(draw_length(gen));
    mip::sdk::seq::SequenceBuilder b = builder(batch);
    at::Tensor last;
    for (const int64_t len : lengths) {
      last = random_bits({batch, len, data_bits()}, gen);
      b.marker(store_bit()).present(last);
    }
    b.marker(recall_bit()).answer(last, line);
    // sequences_length: the longest subsequence, as MI-Prometheus's tasks
    // made of several subsequences report it.
    return b.build(*std::max_element(lengths.begin(), lengths.end()), count);
  }

 private:
  Range subsequences_;
};

}  // namespace

MIP_REGISTER_PROBLEM(RepeatSerialRecall,
                     "RepeatSerialRecallCommandLines",
                     "repeat serial recall: store L random bit items, recall "
                     "them N times in a row",
                     "RepeatSerialRecall",
                     "repeat_serial_recall",
                     "repeat_serial_recall_cl",
                     "SerialRepeatRecallCommandLines",
                     "serial_repeat_recall_cl")
MIP_REGISTER_PROBLEM(ScratchPad,
                     "ScratchPadCommandLines",
                     "scratch pad: store several sequences one after the "
                     "other, recall only the last",
                     "ScratchPad",
                     "scratch_pad")
