#pragma once

// A problem for the batch tests: sample i is the number i, plus noise drawn
// from the batch's generator (so that determinism shows), and it records the
// largest sample it was asked for.

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include <mip/sdk/error.hpp>
#include <mip/sdk/problem.hpp>

namespace mip::test {

class IndexProblem final : public sdk::Problem {
 public:
  explicit IndexProblem(int64_t size, int64_t fail_at = -1)
      : size_(size), fail_at_(fail_at) {}
  sdk::DataDefinitions data_definitions() const override {
    return {{"index", {{-1}, torch::kLong, "sample numbers"}},
            {"noise", {{-1}, torch::kFloat32, "from the batch's generator"}}};
  }
  sdk::DataDefinitions prediction_definitions() const override { return {}; }
  int64_t size() const override { return size_; }
  sdk::DataDict get_batch(const std::vector<int64_t>& idx,
                          at::Generator& gen) override {
    for (int64_t i : idx) {
      int64_t seen = max_seen.load();
      while (i > seen && !max_seen.compare_exchange_weak(seen, i)) {
      }
      MIP_CHECK(i != fail_at_, DataError, "sample ", i, " is unreadable");
    }
    sdk::DataDict d;
    d["index"] = torch::tensor(idx, torch::kLong);
    d["noise"] = torch::rand({static_cast<int64_t>(idx.size())}, gen);
    return d;
  }
  at::Tensor evaluate_loss(const sdk::DataDict&,
                           const sdk::DataDict&) override {
    return torch::zeros({});
  }
  /// The largest sample number asked for so far (-1: none).
  std::atomic<int64_t> max_seen{-1};

 private:
  int64_t size_;
  int64_t fail_at_;
};

/// The sample numbers of a batch.
inline std::vector<int64_t> indices_of(const sdk::DataDict& batch) {
  const at::Tensor t = batch.at("index").contiguous();
  return {t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel()};
}

/// True when two batches hold the same tensors, bit for bit.
inline bool same_batch(const sdk::DataDict& a, const sdk::DataDict& b) {
  return torch::equal(a.at("index"), b.at("index")) &&
         torch::equal(a.at("noise"), b.at("noise"));
}

}  // namespace mip::test
