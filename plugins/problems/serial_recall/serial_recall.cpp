// SerialRecallCommandLines: MI-Prometheus's serial recall (copy) task, the
// reference task of the sequence SDK (mip/sdk/sequence.hpp).
#include <mip/sdk/sdk.hpp>
#include <mip/sdk/sequence.hpp>

namespace {

class SerialRecall final : public mip::sdk::seq::AlgorithmicSeqToSeqProblem {
 public:
  explicit SerialRecall(mip::sdk::Context& ctx)
      : AlgorithmicSeqToSeqProblem(ctx) {}

 protected:
  /// A store marker, L random items, a recall marker, then L steps whose
  /// answer is the L items (with the command line, if any, on).
  mip::sdk::DataDict generate_batch(int64_t batch,
                                    at::Generator& gen) override {
    // Draw order: command line, length, bits (as MI-Prometheus).
    const int64_t line = draw_command_line(2, gen);
    const int64_t len = draw_length(gen);
    const at::Tensor bits = random_bits({batch, len, data_bits()}, gen);
    return builder(batch)
        .marker(store_bit())
        .present(bits)
        .marker(recall_bit())
        .answer(bits, line)
        .build(len);
  }
};

}  // namespace

MIP_REGISTER_PROBLEM(
    SerialRecall,
    "SerialRecallCommandLines",
    "serial recall (copy task): store L random bit items, recall "
    "them after a marker",
    "SerialRecall",
    "serial_recall")
