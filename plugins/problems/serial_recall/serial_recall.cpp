// SerialRecallCommandLines: MI-Prometheus's serial recall (copy) task.
#include <torch/torch.h>

#include <atomic>

#include <mip/sdk/sdk.hpp>

namespace {

using mip::sdk::DataDefinition;
using mip::sdk::DataDefinitions;
using mip::sdk::DataDict;

class SerialRecall final : public mip::sdk::Problem {
 public:
  explicit SerialRecall(mip::sdk::Context& ctx) {
    const auto& p = ctx.params();
    control_bits_ = p.get<int64_t>("control_bits");
    data_bits_ = p.get<int64_t>("data_bits");
    min_length_ = p.get<int64_t>("min_sequence_length");
    max_max_length_ = p.get<int64_t>("max_sequence_length");
    size_ = p.get<int64_t>("size");
    batch_size_ = p.get<int64_t>("batch_size");
    bias_ = p.get<double>("bias");
    use_control_lines_ = p.get<bool>("use_control_lines");
    randomize_control_lines_ = p.get<bool>("randomize_control_lines");
    use_mask_ = p.get<bool>("use_mask");
    const std::string where = p.path() + ".";
    MIP_CHECK(control_bits_ >= 2, mip::ParameterError, "[", where,
              "control_bits] must be >= 2 (store and recall markers), got ",
              control_bits_);
    MIP_CHECK(data_bits_ >= 1, mip::ParameterError, "[", where,
              "data_bits] must be >= 1, got ", data_bits_);
    MIP_CHECK(min_length_ >= 1 && min_length_ <= max_max_length_,
              mip::ParameterError, "[", where, "min_sequence_length] (",
              min_length_, ") must be >= 1 and <= max_sequence_length (",
              max_max_length_, ")");
    MIP_CHECK(bias_ >= 0.0 && bias_ <= 1.0, mip::ParameterError, "[", where,
              "bias] must be a probability, got ", bias_);
    MIP_CHECK(size_ > 0 && batch_size_ > 0, mip::ParameterError, "[", where,
              "size] and [", where, "batch_size] must be > 0");
    const std::string mode = p.get<std::string>("generation_mode");
    MIP_CHECK(mode == "optimized", mip::ParameterError, "[", where,
              "generation_mode] = ", mode,
              ": only 'optimized' (one length per batch) is supported");
    max_length_.store(max_max_length_);
  }

  DataDefinitions data_definitions() const override {
    const int64_t in = control_bits_ + data_bits_;
    return {
        {"sequences", {{-1, -1, in}, torch::kFloat32, "inputs [B, 2L+2, C+D]"}},
        {"targets",
         {{-1, -1, data_bits_}, torch::kFloat32, "targets [B, 2L+2, D]"}},
        {"masks",
         {{-1, -1, 1},
          torch::kUInt8,
          "1 where the target counts [B, 2L+2, 1]"}},
        {"sequences_length", {{-1, 1}, torch::kInt32, "L [B, 1]"}},
        {"num_subsequences", {{-1, 1}, torch::kInt8, "1 [B, 1]"}},
    };
  }

  DataDefinitions prediction_definitions() const override {
    return {{"predictions",
             {{-1, -1, data_bits_}, torch::kFloat32, "logits [B, 2L+2, D]"}}};
  }

  std::map<std::string, double> default_values() const override {
    return {{"input_item_size", double(control_bits_ + data_bits_)},
            {"output_item_size", double(data_bits_)},
            {"store_bit", 0.0},
            {"recall_bit", 1.0}};
  }

  int64_t size() const override { return size_; }

  DataDict get_batch(const std::vector<int64_t>& indices,
                     at::Generator& gen) override {
    const int64_t b = static_cast<int64_t>(indices.size());
    // Draw order: command line, length, bits (as MI-Prometheus).
    int64_t command_line = -1;
    if (use_control_lines_ && control_bits_ > 2) {
      command_line =
          randomize_control_lines_
              ? torch::randint(2, control_bits_, {1}, gen).item<int64_t>()
              : control_bits_ - 1;
    }
    const int64_t max_len = max_length_.load();
    const int64_t len =
        torch::randint(min_length_, max_len + 1, {1}, gen).item<int64_t>();
    const auto bits =
        torch::bernoulli(torch::full({b, len, data_bits_}, bias_), gen);
    const int64_t t = 2 * len + 2;
    using torch::indexing::Slice;
    auto inputs = torch::zeros({b, t, control_bits_ + data_bits_});
    inputs.index_put_({Slice(), 0, 0}, 1.0);  // store marker
    inputs.index_put_({Slice(), Slice(1, len + 1), Slice(control_bits_, None)},
                      bits);
    inputs.index_put_({Slice(), len + 1, 1}, 1.0);  // recall marker
    if (command_line >= 0)
      inputs.index_put_({Slice(), Slice(len + 2, None), command_line}, 1.0);
    auto targets = torch::zeros({b, t, data_bits_});
    targets.index_put_({Slice(), Slice(len + 2, None), Slice()}, bits);
    auto masks = torch::zeros({b, t, 1}, torch::kUInt8);
    masks.index_put_({Slice(), Slice(len + 2, None), 0}, 1);
    DataDict out;
    out["sequences"] = inputs;
    out["targets"] = targets;
    out["masks"] = masks;
    out["sequences_length"] = torch::full({b, 1}, len, torch::kInt32);
    out["num_subsequences"] = torch::ones({b, 1}, torch::kInt8);
    return out;
  }

  at::Tensor evaluate_loss(const DataDict& batch,
                           const DataDict& predictions) override {
    const auto& logits = predictions.at("predictions");
    const auto& targets = batch.at("targets");
    if (!use_mask_)
      return torch::binary_cross_entropy_with_logits(logits, targets);
    const auto per_bit = torch::binary_cross_entropy_with_logits(
        logits, targets, {}, {}, at::Reduction::None);
    const auto mask = batch.at("masks").to(logits.scalar_type());
    return (per_bit * mask).sum() / (mask.sum() * logits.size(-1));
  }

  void add_statistics(mip::sdk::StatisticsCollector& col) override {
    col.add_statistic("acc", "{:12.10f}");
    col.add_statistic("seq_length", "{:d}");
    col.add_statistic("max_seq_length", "{:d}");
    col.add_statistic("batch_size", "{:06d}");
  }

  void collect_statistics(mip::sdk::StatisticsCollector& col,
                          const DataDict& batch,
                          const DataDict& predictions) override {
    const auto& logits = predictions.at("predictions");
    const auto correct =
        1.0 - (torch::sigmoid(logits).round() - batch.at("targets")).abs();
    double acc;
    if (use_mask_) {
      const auto mask = batch.at("masks").to(logits.scalar_type());
      acc = ((correct * mask).sum() / (mask.sum() * logits.size(-1)))
                .item<double>();
    } else {
      acc = correct.mean().item<double>();
    }
    col.collect("acc", acc);
    col.collect("seq_length",
                static_cast<double>(
                    batch.at("sequences_length").max().item<int32_t>()));
    col.collect("max_seq_length", static_cast<double>(max_length_.load()));
    col.collect("batch_size", static_cast<double>(logits.size(0)));
  }

  void add_aggregators(mip::sdk::StatisticsAggregator& agg) override {
    mip::sdk::add_accuracy_aggregators(agg);
  }

  void aggregate_statistics(const mip::sdk::StatisticsCollector& col,
                            mip::sdk::StatisticsAggregator& agg) override {
    mip::sdk::aggregate_accuracy(col, agg);
  }

  void curriculum_learning_initialize(
      const mip::sdk::ParamView& section) override {
    if (!section.has("initial_max_sequence_length"))
      return;
    initial_max_length_ = section.get<int64_t>("initial_max_sequence_length");
    MIP_CHECK(initial_max_length_ >= min_length_, mip::ParameterError, "[",
              section.path(), ".initial_max_sequence_length] (",
              initial_max_length_, ") must be >= min_sequence_length (",
              min_length_, ")");
  }

  /// max length = initial + completed epochs, capped; done once past the cap
  /// (the rule MI-Prometheus intended; its HEAD froze at initial + 1).
  bool curriculum_learning_update_params(int64_t episode) override {
    if (initial_max_length_ < 0)
      return true;
    const int64_t epoch_size = (size_ + batch_size_ - 1) / batch_size_;
    int64_t len = initial_max_length_ + (episode + 1) / epoch_size;
    bool done = false;
    if (len > max_max_length_) {
      len = max_max_length_;
      done = true;
    }
    max_length_.store(len);
    return done;
  }

 private:
  static constexpr auto None = torch::indexing::None;
  int64_t control_bits_ = 2, data_bits_ = 8, min_length_ = 1,
          max_max_length_ = 1;
  int64_t size_ = 0, batch_size_ = 1, initial_max_length_ = -1;
  double bias_ = 0.5;
  bool use_control_lines_ = true, randomize_control_lines_ = true,
       use_mask_ = true;
  std::atomic<int64_t> max_length_{1};
};

}  // namespace

MIP_REGISTER_PROBLEM(
    SerialRecall,
    "SerialRecallCommandLines",
    "serial recall (copy task): store L random bit items, recall "
    "them after a marker",
    "SerialRecall")
