// ReadingSpan: read n subsequences, then recall the last item of each, in
// order (as a reading span test asks for the last word of each sentence).
#include "dual_distraction.hpp"

namespace mip::plugins::dual_distraction {
namespace {

class ReadingSpan final : public DualTaskProblem {
 public:
  explicit ReadingSpan(sdk::Context& ctx) : DualTaskProblem(ctx, 2) {}

 protected:
  /// A store marker before each subsequence X_i, then the recall marker and
  /// n answer steps: the last item of X_1, ..., of X_n.
  sdk::DataDict generate_batch(int64_t batch, at::Generator& gen) override {
    const int64_t n = draw_count(gen);
    const Subsequences x = draw_subsequences(batch, n, gen);
    sdk::seq::SequenceBuilder b = builder(batch);
    std::vector<at::Tensor> last;
    for (const at::Tensor& xi : x.items) {
      b.marker(store_bit()).present(xi);
      last.push_back(xi.narrow(1, xi.size(1) - 1, 1));
    }
    return b.marker(recall_bit())
        .answer(at::cat(last, 1))
        .build(x.longest(), n);
  }
};

}  // namespace
}  // namespace mip::plugins::dual_distraction

MIP_REGISTER_PROBLEM(
    mip::plugins::dual_distraction::ReadingSpan,
    "ReadingSpan",
    "reading span: read several subsequences, then recall the last item of "
    "each, in order",
    "reading_span")
