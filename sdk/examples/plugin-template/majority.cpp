// MajorityBits: a generated problem. Input: `bits` random bits; target: 1 when
// more than half of them are set. A plugin of its own, built against the SDK.
#include <torch/torch.h>

#include <mip/sdk/sdk.hpp>

namespace {

class MajorityBits final : public mip::sdk::Problem {
 public:
  explicit MajorityBits(mip::sdk::Context& ctx)
      : bits_(ctx.params().get<int64_t>("bits")),
        size_(ctx.params().get<int64_t>("size")) {
    MIP_CHECK(bits_ % 2 == 1, mip::ParameterError, "[", ctx.params().path(),
              ".bits] must be odd (no ties), got ", bits_);
  }

  mip::sdk::DataDefinitions data_definitions() const override {
    return {{"inputs", {{-1, bits_}, torch::kFloat32, "random bits [B, N]"}},
            {"targets", {{-1}, torch::kInt64, "1 when most bits are set [B]"}}};
  }
  mip::sdk::DataDefinitions prediction_definitions() const override {
    return {{"predictions", {{-1, 2}, torch::kFloat32, "logits [B, 2]"}}};
  }
  std::map<std::string, double> default_values() const override {
    return {{"input_size", double(bits_)}, {"num_classes", 2.0}};
  }
  int64_t size() const override { return size_; }

  mip::sdk::DataDict get_batch(const std::vector<int64_t>& indices,
                               at::Generator& gen) override {
    const int64_t b = static_cast<int64_t>(indices.size());
    mip::sdk::DataDict d;
    d["inputs"] = torch::bernoulli(torch::full({b, bits_}, 0.5), gen);
    d["targets"] = (d["inputs"].sum(1) > bits_ / 2).to(torch::kInt64);
    return d;
  }

  at::Tensor evaluate_loss(const mip::sdk::DataDict& batch,
                           const mip::sdk::DataDict& predictions) override {
    return torch::cross_entropy_loss(predictions.at("predictions"),
                                     batch.at("targets"));
  }

  void add_statistics(mip::sdk::StatisticsCollector& col) override {
    col.add_statistic("acc", "{:12.10f}");
  }
  void collect_statistics(mip::sdk::StatisticsCollector& col,
                          const mip::sdk::DataDict& batch,
                          const mip::sdk::DataDict& predictions) override {
    const auto hits =
        predictions.at("predictions").argmax(1).eq(batch.at("targets"));
    col.collect("acc", hits.to(torch::kDouble).mean().item<double>());
  }
  void add_aggregators(mip::sdk::StatisticsAggregator& agg) override {
    mip::sdk::add_mean_std_aggregators(agg, "acc", "{:12.10f}");
  }
  void aggregate_statistics(const mip::sdk::StatisticsCollector& col,
                            mip::sdk::StatisticsAggregator& agg) override {
    mip::sdk::aggregate_mean_std(col, agg, "acc");
  }

 private:
  int64_t bits_, size_;
};

}  // namespace

MIP_REGISTER_PROBLEM(MajorityBits,
                     "MajorityBits",
                     "template: is the majority of random bits set?")
