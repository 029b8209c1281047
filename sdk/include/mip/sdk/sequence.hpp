#pragma once

/// Sequence problems: what every algorithmic task (copy, reverse, repeat,
/// compare, the dual tasks, ...) needs, so that a new task is its generator
/// alone. Include <mip/sdk/sequence.hpp>, derive from
/// AlgorithmicSeqToSeqProblem and write generate_batch():
///
///   class Copy final : public mip::sdk::seq::AlgorithmicSeqToSeqProblem {
///    public:
///     explicit Copy(mip::sdk::Context& ctx) : AlgorithmicSeqToSeqProblem(ctx)
///     {}
///    protected:
///     mip::sdk::DataDict generate_batch(int64_t batch,
///                                       at::Generator& gen) override {
///       const int64_t line = draw_command_line(2, gen);
///       const int64_t len = draw_length(gen);
///       const at::Tensor bits = random_bits({batch, len, data_bits()}, gen);
///       return builder(batch).marker(store_bit()).present(bits)
///           .marker(recall_bit()).answer(bits, line).build(len);
///     }
///   };
///   MIP_REGISTER_PROBLEM(Copy, "Copy", "copy task")
///
/// The base reads MI-Prometheus's parameters (control_bits, data_bits,
/// min/max_sequence_length, batch_size, size, bias, use_control_lines,
/// randomize_control_lines, generation_mode, use_mask: the defaults .yml must
/// hold them all), declares the batch (sequences, targets, masks,
/// sequences_length, num_subsequences), computes the masked loss and accuracy,
/// collects acc / seq_length / max_seq_length / batch_size with their
/// aggregates, and runs the length curriculum.

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <mip/sdk/context.hpp>
#include <mip/sdk/data.hpp>
#include <mip/sdk/error.hpp>
#include <mip/sdk/problem.hpp>
#include <mip/sdk/statistics.hpp>

namespace mip::sdk::seq {

// --- random draws (all from the batch's generator) --------------------------

/// A uniform integer in [lo, hi] (both included).
inline int64_t draw_int(int64_t lo, int64_t hi, at::Generator& gen) {
  return at::randint(lo, hi + 1, {1}, gen, at::kLong).item<int64_t>();
}

/// Bits (0./1. floats) of `shape`, each 1 with probability `bias`.
inline at::Tensor random_bits(at::IntArrayRef shape,
                              double bias,
                              at::Generator& gen) {
  return at::bernoulli(at::full(shape, bias, at::kFloat), gen);
}

// --- manipulations
// ------------------------------------------------------------

/// `x` rotated by `amount` along `dim`: element i moves to i + amount (mod the
/// size). An amount with |amount| < 1 is a fraction of the size, rounded to
/// the nearest integer (halves to even), as MI-Prometheus's rotations.
inline at::Tensor rotate(const at::Tensor& x, double amount, int64_t dim) {
  const int64_t n = x.size(dim);
  if (n == 0)
    return x;
  if (amount > -1.0 && amount < 1.0)
    amount *= static_cast<double>(n);
  const int64_t shift =
      ((static_cast<int64_t>(std::nearbyint(amount)) % n) + n) % n;
  return shift == 0 ? x.clone() : at::roll(x, {shift}, {dim});
}

// --- loss and accuracy (MI-Prometheus's MaskedBCEWithLogitsLoss)
// --------------

/// Mean binary cross-entropy with logits over the steps where `masks`
/// [B, T, 1] is set and over every output bit.
inline at::Tensor masked_bce_with_logits(const at::Tensor& logits,
                                         const at::Tensor& targets,
                                         const at::Tensor& masks) {
  const at::Tensor per_bit = at::binary_cross_entropy_with_logits(
      logits, targets, {}, {}, at::Reduction::None);
  const at::Tensor m = masks.to(logits.scalar_type());
  return (per_bit * m).sum() / (m.sum() * logits.size(-1)).clamp_min(1.0);
}

/// Fraction of output bits whose rounded sigmoid equals the target, over the
/// masked steps (all steps when `masks` is undefined).
inline double bit_accuracy(const at::Tensor& logits,
                           const at::Tensor& targets,
                           const at::Tensor& masks = {}) {
  const at::Tensor correct =
      1.0 - (at::sigmoid(logits.detach()).round() - targets).abs();
  if (!masks.defined())
    return correct.mean().item<double>();
  const at::Tensor m = masks.to(logits.scalar_type());
  const double counted = (m.sum() * logits.size(-1)).item<double>();
  return counted > 0 ? (correct * m).sum().item<double>() / counted : 0.0;
}

// --- building sequences step by step -----------------------------------------

/// Builds a batch's sequences, targets and masks by appending runs of steps
/// along time. Input items are [control lines | data lines]; targets have
/// `output_bits` lines; a step counts in the loss and the accuracy when its
/// mask is set (answer() and steps() with a mask).
/// Example (serial recall): store marker, L items, recall marker, L answers:
///   SequenceBuilder(b, 2, 8, 8).marker(0).present(bits).marker(1)
///       .answer(bits).build(len);
class SequenceBuilder {
 public:
  SequenceBuilder(int64_t batch,
                  int64_t control_bits,
                  int64_t data_bits,
                  int64_t output_bits)
      : batch_(batch),
        control_bits_(control_bits),
        data_bits_(data_bits),
        output_bits_(output_bits) {}

  /// One step with control line `line` on and nothing to answer (a store,
  /// recall or other command marker).
  SequenceBuilder& marker(int64_t line) { return markers({line}); }

  /// One step with every control line of `lines` on, nothing to answer.
  SequenceBuilder& markers(const std::vector<int64_t>& lines) {
    at::Tensor in = at::zeros({batch_, 1, control_bits_ + data_bits_});
    for (int64_t line : lines)
      in.select(2, check_line(line)).fill_(1.0);
    return steps(in, at::zeros({batch_, 1, output_bits_}), false);
  }

  /// `items` [B, T, data_bits] on the data lines, control line `line` on at
  /// every step when >= 0; nothing to answer.
  SequenceBuilder& present(const at::Tensor& items, int64_t line = -1) {
    check_shape(items, data_bits_, "present");
    const int64_t t = items.size(1);
    at::Tensor in = at::zeros({batch_, t, control_bits_ + data_bits_});
    in.narrow(2, control_bits_, data_bits_).copy_(items);
    if (line >= 0)
      in.select(2, check_line(line)).fill_(1.0);
    return steps(in, at::zeros({batch_, t, output_bits_}), false);
  }

  /// T steps where the answer is `targets` [B, T, output_bits]: the inputs
  /// are zero but control line `line` (when >= 0); the steps count.
  SequenceBuilder& answer(const at::Tensor& targets, int64_t line = -1) {
    check_shape(targets, output_bits_, "answer");
    const int64_t t = targets.size(1);
    at::Tensor in = at::zeros({batch_, t, control_bits_ + data_bits_});
    if (line >= 0)
      in.select(2, check_line(line)).fill_(1.0);
    return steps(in, targets, true);
  }

  /// Any steps: `inputs` [B, T, control+data], `targets` [B, T, output_bits],
  /// counted in the loss when `counted`.
  SequenceBuilder& steps(const at::Tensor& inputs,
                         const at::Tensor& targets,
                         bool counted) {
    return steps(
        inputs, targets,
        at::full({batch_, inputs.size(1), 1}, counted ? 1 : 0, at::kByte));
  }

  /// Any steps with their own `masks` [B, T, 1] (nonzero = counted).
  SequenceBuilder& steps(const at::Tensor& inputs,
                         const at::Tensor& targets,
                         const at::Tensor& masks) {
    check_shape(inputs, control_bits_ + data_bits_, "steps (inputs)");
    check_shape(targets, output_bits_, "steps (targets)");
    MIP_CHECK(masks.dim() == 3 && masks.size(0) == batch_ &&
                  masks.size(1) == inputs.size(1) &&
                  targets.size(1) == inputs.size(1) && masks.size(2) == 1,
              DataError,
              "SequenceBuilder::steps: inputs, targets and masks must "
              "cover the same steps, masks [B, T, 1]");
    inputs_.push_back(inputs.to(at::kFloat));
    targets_.push_back(targets.to(at::kFloat));
    masks_.push_back(masks.to(at::kByte));
    steps_ += inputs.size(1);
    return *this;
  }

  /// Number of steps appended so far.
  int64_t length() const { return steps_; }

  /// The batch: sequences, targets, masks, sequences_length (`length` for
  /// every sample, [B, 1] int32) and num_subsequences ([B, 1] int8).
  DataDict build(int64_t length, int64_t num_subsequences = 1) const {
    return build(at::full({batch_, 1}, length, at::kInt),
                 at::full({batch_, 1}, num_subsequences, at::kChar));
  }

  /// The batch with per-sample `lengths` [B, 1] and `num_subsequences`
  /// [B, 1].
  DataDict build(const at::Tensor& lengths,
                 const at::Tensor& num_subsequences) const {
    MIP_CHECK(steps_ > 0, DataError, "SequenceBuilder::build: no steps");
    DataDict out;
    out["sequences"] = at::cat(inputs_, 1);
    out["targets"] = at::cat(targets_, 1);
    out["masks"] = at::cat(masks_, 1);
    out["sequences_length"] = lengths.to(at::kInt);
    out["num_subsequences"] = num_subsequences.to(at::kChar);
    return out;
  }

 private:
  int64_t check_line(int64_t line) const {
    MIP_CHECK(line >= 0 && line < control_bits_, DataError,
              "SequenceBuilder: control line ", line, " is not in [0, ",
              control_bits_, ")");
    return line;
  }
  void check_shape(const at::Tensor& t, int64_t last, const char* what) const {
    MIP_CHECK(t.dim() == 3 && t.size(0) == batch_ && t.size(2) == last,
              DataError, "SequenceBuilder::", what, ": expected [", batch_,
              ", T, ", last, "], got ", t.sizes());
  }

  int64_t batch_, control_bits_, data_bits_, output_bits_, steps_ = 0;
  std::vector<at::Tensor> inputs_, targets_, masks_;
};

/// Pads samples built one by one (DataDicts with a batch of 1, or more) to
/// the longest and stacks them: MI-Prometheus's "not_optimized" collation.
/// Padded steps are zero and not counted.
inline DataDict collate_padded(const std::vector<DataDict>& samples) {
  MIP_CHECK(!samples.empty(), DataError, "collate_padded: no samples");
  int64_t longest = 0;
  for (const DataDict& s : samples)
    longest = std::max(longest, s.at("sequences").size(1));
  DataDict out;
  for (const auto& kv : samples.front()) {
    std::vector<at::Tensor> parts;
    for (const DataDict& s : samples) {
      at::Tensor t = s.at(kv.first);
      if (t.dim() == 3 && t.size(1) < longest)
        t = at::constant_pad_nd(t, {0, 0, 0, longest - t.size(1)}, 0);
      parts.push_back(t);
    }
    out[kv.first] = at::cat(parts, 0);
  }
  return out;
}

// --- statistics
// ---------------------------------------------------------------

/// Declares the statistics of a sequence problem: acc, seq_length,
/// max_seq_length and batch_size (MI-Prometheus's columns).
inline void add_sequence_statistics(StatisticsCollector& col) {
  col.add_statistic("acc", "{:12.10f}");
  col.add_statistic("seq_length", "{:d}");
  col.add_statistic("max_seq_length", "{:d}");
  col.add_statistic("batch_size", "{:06d}");
}

// --- the base class
// -------------------------------------------------------------

/// What a task tells the base about itself.
struct SequenceTaskSpec {
  /// Output lines: -1 for data_bits (most tasks), 1 for the comparison tasks.
  int64_t output_bits = -1;
  /// Fewest control lines the task needs (its markers); control_bits below
  /// it is a parameter error naming the key.
  int64_t min_control_bits = 2;
};

/// MI-Prometheus's AlgorithmicSeqToSeqProblem: the parameters, data
/// definitions, loss, statistics, curriculum and generation modes of every
/// algorithmic task. A task writes generate_batch() and reads its extra keys
/// in its constructor through ctx.params() (the view lives only as long as
/// the constructor).
class AlgorithmicSeqToSeqProblem : public Problem {
 public:
  explicit AlgorithmicSeqToSeqProblem(Context& ctx, SequenceTaskSpec spec = {})
      : where_(ctx.params().path() + ".") {
    const ParamView& p = ctx.params();
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
    output_bits_ = spec.output_bits < 0 ? data_bits_ : spec.output_bits;
    MIP_CHECK(control_bits_ >= spec.min_control_bits, ParameterError, "[",
              where_, "control_bits] must be >= ", spec.min_control_bits,
              " (this task's markers), got ", control_bits_);
    MIP_CHECK(data_bits_ >= 1, ParameterError, "[", where_,
              "data_bits] must be >= 1, got ", data_bits_);
    MIP_CHECK(min_length_ >= 1 && min_length_ <= max_max_length_,
              ParameterError, "[", where_, "min_sequence_length] (",
              min_length_, ") must be >= 1 and <= max_sequence_length (",
              max_max_length_, ")");
    MIP_CHECK(bias_ >= 0.0 && bias_ <= 1.0, ParameterError, "[", where_,
              "bias] must be a probability, got ", bias_);
    MIP_CHECK(size_ > 0 && batch_size_ > 0, ParameterError, "[", where_,
              "size] and [", where_, "batch_size] must be > 0");
    const std::string mode = p.get<std::string>("generation_mode");
    MIP_CHECK(mode == "optimized" || mode == "not_optimized", ParameterError,
              "[", where_, "generation_mode] = ", mode,
              ": use 'optimized' (one length per batch) or 'not_optimized' "
              "(one length per sample, zero-padded)");
    per_sample_ = mode == "not_optimized";
    max_length_.store(max_max_length_);
  }

  DataDefinitions data_definitions() const override {
    const int64_t in = control_bits_ + data_bits_;
    return {
        {"sequences", {{-1, -1, in}, at::kFloat, "input items [B, T, C+D]"}},
        {"targets", {{-1, -1, output_bits_}, at::kFloat, "targets [B, T, O]"}},
        {"masks", {{-1, -1, 1}, at::kByte, "1 where the target counts"}},
        {"sequences_length", {{-1, 1}, at::kInt, "L per sample [B, 1]"}},
        {"num_subsequences", {{-1, 1}, at::kChar, "subsequences [B, 1]"}},
    };
  }

  DataDefinitions prediction_definitions() const override {
    return {{"predictions",
             {{-1, -1, output_bits_}, at::kFloat, "logits [B, T, O]"}}};
  }

  std::map<std::string, double> default_values() const override {
    return {{"input_item_size", double(control_bits_ + data_bits_)},
            {"output_item_size", double(output_bits_)},
            {"store_bit", double(store_bit())},
            {"recall_bit", double(recall_bit())}};
  }

  int64_t size() const override { return size_; }

  /// One length for the batch ("optimized"), or one per sample, padded
  /// ("not_optimized").
  DataDict get_batch(const std::vector<int64_t>& indices,
                     at::Generator& gen) override {
    const auto b = static_cast<int64_t>(indices.size());
    if (!per_sample_)
      return generate_batch(b, gen);
    std::vector<DataDict> samples;
    samples.reserve(indices.size());
    for (int64_t i = 0; i < b; ++i)
      samples.push_back(generate_batch(1, gen));
    return collate_padded(samples);
  }

  at::Tensor evaluate_loss(const DataDict& batch,
                           const DataDict& predictions) override {
    const at::Tensor& logits = predictions.at("predictions");
    if (!use_mask_)
      return at::binary_cross_entropy_with_logits(logits, batch.at("targets"));
    return masked_bce_with_logits(logits, batch.at("targets"),
                                  batch.at("masks"));
  }

  void add_statistics(StatisticsCollector& col) override {
    add_sequence_statistics(col);
  }

  void collect_statistics(StatisticsCollector& col,
                          const DataDict& batch,
                          const DataDict& predictions) override {
    const at::Tensor& logits = predictions.at("predictions");
    col.collect("acc",
                bit_accuracy(logits, batch.at("targets"),
                             use_mask_ ? batch.at("masks") : at::Tensor()));
    col.collect("seq_length",
                batch.at("sequences_length").max().item<double>());
    col.collect("max_seq_length", static_cast<double>(max_length()));
    col.collect("batch_size", static_cast<double>(logits.size(0)));
  }

  void add_aggregators(StatisticsAggregator& agg) override {
    add_accuracy_aggregators(agg);
  }

  void aggregate_statistics(const StatisticsCollector& col,
                            StatisticsAggregator& agg) override {
    aggregate_accuracy(col, agg);
  }

  void curriculum_learning_initialize(const ParamView& section) override {
    if (!section.has("initial_max_sequence_length"))
      return;
    initial_max_length_ = section.get<int64_t>("initial_max_sequence_length");
    MIP_CHECK(initial_max_length_ >= min_length_, ParameterError, "[",
              section.path(), ".initial_max_sequence_length] (",
              initial_max_length_, ") must be >= min_sequence_length (",
              min_length_, ")");
  }

  /// Current maximum length = initial + completed epochs, capped at
  /// max_sequence_length; done once past the cap (the rule MI-Prometheus
  /// describes; its code froze at initial + 1). A function of `episode`
  /// alone, so that a resumed run continues it.
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

 protected:
  /// The task: `batch` samples drawn from `gen` alone (lengths through
  /// draw_length(), bits through random_bits()). Called on the batch
  /// thread, once per batch ("optimized") or once per sample with batch 1
  /// ("not_optimized").
  virtual DataDict generate_batch(int64_t batch, at::Generator& gen) = 0;

  /// A length in [min_sequence_length, current maximum].
  int64_t draw_length(at::Generator& gen) const {
    return draw_int(min_length_, max_length(), gen);
  }
  /// Bits of `shape`, each 1 with probability `bias`.
  at::Tensor random_bits(at::IntArrayRef shape, at::Generator& gen) const {
    return seq::random_bits(shape, bias_, gen);
  }
  /// The command line shown during a dummy (answer) part: -1 when there is
  /// none (use_control_lines off, or no line beyond the task's `first`
  /// markers), else a line in [first, control_bits) drawn at random
  /// (randomize_control_lines) or the last one. MI-Prometheus's
  /// generate_ctrl_aux().
  int64_t draw_command_line(int64_t first, at::Generator& gen) const {
    if (!use_control_lines_ || control_bits_ <= first)
      return -1;
    return randomize_control_lines_ ? draw_int(first, control_bits_ - 1, gen)
                                    : control_bits_ - 1;
  }
  /// A builder sized for this task.
  SequenceBuilder builder(int64_t batch) const {
    return SequenceBuilder(batch, control_bits_, data_bits_, output_bits_);
  }

  /// "training.problem." : prefix for error messages naming a key.
  const std::string& where() const { return where_; }
  int64_t control_bits() const { return control_bits_; }
  int64_t data_bits() const { return data_bits_; }
  int64_t output_bits() const { return output_bits_; }
  int64_t min_length() const { return min_length_; }
  /// The current maximum length (the curriculum moves it).
  int64_t max_length() const { return max_length_.load(); }
  double bias() const { return bias_; }
  bool use_mask() const { return use_mask_; }
  static constexpr int64_t store_bit() { return 0; }
  static constexpr int64_t recall_bit() { return 1; }

 private:
  std::string where_;
  int64_t control_bits_ = 2, data_bits_ = 8, output_bits_ = 8;
  int64_t min_length_ = 1, max_max_length_ = 1, initial_max_length_ = -1;
  int64_t size_ = 1, batch_size_ = 1;
  double bias_ = 0.5;
  bool use_control_lines_ = true, randomize_control_lines_ = true,
       use_mask_ = true, per_sample_ = false;
  std::atomic<int64_t> max_length_{1};
};

}  // namespace mip::sdk::seq
