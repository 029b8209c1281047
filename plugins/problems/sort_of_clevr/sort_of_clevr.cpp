// SortOfCLEVR and ShapeColorQuery: MI-Prometheus's generated visual question
// answering problems (image_text_to_class). Both ask the same 7 questions
// about the objects of the same scenes (scenes.hpp) and differ only in how a
// question is encoded.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <mip/sdk/sdk.hpp>

#include "../../common/image_to_class.hpp"
#include "scenes.hpp"

namespace {

namespace sc = mip::plugins::scenes;

/// A set of scenes with one question per sample: reads the parameters,
/// loads the set from its cache file (or draws and caches it), shares it
/// with every problem of the process over the same parameters and file, and
/// makes the batches. Subclasses encode the questions.
class SceneProblem : public mip::plugins::ClassificationProblem {
 public:
  mip::sdk::DataDefinitions data_definitions() const override {
    const int64_t img = set_->params.img_size;
    return {
        {"images",
         {{-1, 3, img, img}, at::kFloat, "RGB images in [0, 1] [B, 3, H, W]"}},
        {"questions", question_definition()},
        {"targets_classes",
         {{-1, sc::kClasses},
          at::kFloat,
          "answers one-hot [B, 10]: 6 colours, rectangle, circle, yes, no"}},
        {"targets", {{-1}, at::kLong, "answer class indices [B]"}},
        {"scenes_description",
         {{-1, sc::kMaxObjects, sc::kFields},
          at::kLong,
          "each scene's objects (x, y, colour, shape), rows of -1 after the "
          "last object [B, 6, 4]"}}};
  }

  mip::sdk::DataDefinitions prediction_definitions() const override {
    return {{"predictions",
             {{-1, sc::kClasses}, at::kFloat, "answer logits [B, 10]"}}};
  }

  std::map<std::string, double> default_values() const override {
    const auto img = double(set_->params.img_size);
    return {{"height", img},
            {"width", img},
            {"depth", 3.0},
            {"num_channels", 3.0},
            {"num_classes", double(sc::kClasses)}};
  }

  int64_t size() const override { return set_->params.size; }

  /// acc and batch_size, then the accuracy on each kind of question:
  /// non-relational (types 0-2) and relational (3-6), and how many of the
  /// batch's questions are relational. A batch without questions of a kind
  /// gives NaN for it.
  void add_statistics(mip::sdk::StatisticsCollector& col) override {
    ClassificationProblem::add_statistics(col);
    col.add_statistic("acc_non_relational", "{:12.10f}");
    col.add_statistic("acc_relational", "{:12.10f}");
    col.add_statistic("relational_questions", "{:06d}");
  }

  void collect_statistics(mip::sdk::StatisticsCollector& col,
                          const mip::sdk::DataDict& batch,
                          const mip::sdk::DataDict& predictions) override {
    ClassificationProblem::collect_statistics(col, batch, predictions);
    const at::Tensor correct =
        predictions.at("predictions").argmax(1).eq(batch.at("targets"));
    const at::Tensor relational =
        question_types(batch.at("questions")).ge(sc::kFirstRelational);
    const auto total = double(correct.size(0));
    const auto n = double(relational.sum().item<int64_t>());
    const auto right = double(correct.sum().item<int64_t>());
    const auto right_relational =
        double(correct.logical_and(relational).sum().item<int64_t>());
    col.collect(
        "acc_non_relational",
        n < total ? (right - right_relational) / (total - n) : std::nan(""));
    col.collect("acc_relational", n > 0 ? right_relational / n : std::nan(""));
    col.collect("relational_questions", n);
  }

  /// The accuracy aggregates, then acc_non_relational and acc_relational:
  /// the share of all the questions of that kind answered right (weighted
  /// by each batch's count).
  void add_aggregators(mip::sdk::StatisticsAggregator& agg) override {
    ClassificationProblem::add_aggregators(agg);
    agg.add_aggregator("acc_non_relational", "{:12.10f}");
    agg.add_aggregator("acc_relational", "{:12.10f}");
  }

  void aggregate_statistics(const mip::sdk::StatisticsCollector& col,
                            mip::sdk::StatisticsAggregator& agg) override {
    ClassificationProblem::aggregate_statistics(col, agg);
    const auto& sizes = col.values("batch_size");
    const auto& counts = col.values("relational_questions");
    const auto& non_relational = col.values("acc_non_relational");
    const auto& relational = col.values("acc_relational");
    double right[2] = {0, 0}, asked[2] = {0, 0};
    for (size_t i = 0; i < counts.size() && i < sizes.size(); ++i) {
      const double n[2] = {sizes[i] - counts[i], counts[i]};
      const double acc[2] = {non_relational[i], relational[i]};
      for (int k = 0; k < 2; ++k)
        if (n[k] > 0) {
          right[k] += acc[k] * n[k];
          asked[k] += n[k];
        }
    }
    agg.set("acc_non_relational",
            asked[0] > 0 ? right[0] / asked[0] : std::nan(""));
    agg.set("acc_relational",
            asked[1] > 0 ? right[1] / asked[1] : std::nan(""));
  }

  mip::sdk::DataDict get_batch(const std::vector<int64_t>& indices,
                               at::Generator& /*gen*/) override {
    const at::Tensor rows =
        mip::plugins::select_samples(set_->samples, indices, name_);
    const at::Tensor scene = rows.select(1, 0).contiguous();
    const at::Tensor objects = set_->objects.index_select(0, scene);
    // The colour and shape of the object each question is about.
    const at::Tensor about =
        objects
            .gather(
                1,
                rows.select(1, 1).view({-1, 1, 1}).expand({-1, 1, sc::kFields}))
            .squeeze(1);
    const at::Tensor targets = rows.select(1, 3).contiguous();
    mip::sdk::DataDict out;
    out["images"] =
        set_->images.index_select(0, scene).to(at::kFloat).div_(255.0);
    out["questions"] =
        encode(about.select(1, 2), about.select(1, 3), rows.select(1, 2));
    out["targets_classes"] = at::one_hot(targets, sc::kClasses).to(at::kFloat);
    out["targets"] = targets;
    out["scenes_description"] = objects;
    return out;
  }

 protected:
  SceneProblem(mip::sdk::Context& ctx, std::string name)
      : name_(std::move(name)) {
    const auto& p = ctx.params();
    const std::string where = p.path().empty() ? "" : p.path() + ".";
    sc::Params params;
    params.size = read_size(p, where);
    params.img_size = p.get<int64_t>("img_size");
    MIP_CHECK(params.img_size >= 16 && params.img_size <= 4096,
              mip::ParameterError, "[", where,
              "img_size] must be in [16, 4096] ",
              "(objects of at least 2 pixels), got ", params.img_size);
    params.seed = p.get<int64_t>("seed");
    const auto split = p.get<std::string>("split");
    const auto& names = sc::splits();
    const auto found = std::find(names.begin(), names.end(), split);
    MIP_CHECK(found != names.end(), mip::ParameterError, "[", where,
              "split] must be train, val or test, got [", split, "]");
    params.split_index = found - names.begin();
    const std::string folder =
        mip::plugins::expand_user(p.get<std::string>("data_folder"));
    const auto file = sc::cache_path(folder, params);
    const bool regenerate = p.get<bool>("regenerate");
    auto& log = ctx.logger();
    std::string how;
    set_ = mip::plugins::shared_data<sc::SceneSet>(
        file.lexically_normal().string(), [&]() {
          sc::SceneSet set;
          const std::string why = regenerate
                                      ? "regenerate is true"
                                      : sc::read_cache(file, params, set);
          if (why.empty()) {
            how = "read from [" + file.string() + "]";
            return set;
          }
          if (regenerate || std::filesystem::exists(file))
            log.warn(name_ + ": " + why + "; generating the set again");
          set = sc::generate(params);
          const std::string failed = sc::write_cache(set, file);
          if (failed.empty())
            how = "generated and cached in [" + file.string() + "]";
          else
            log.warn(name_ + ": " + failed + " (" + where +
                     "data_folder); the set generated is used uncached");
          return set;
        });
    if (how.empty())
      how = "shared with " + std::to_string(set_.use_count() - 1) +
            " other problem(s) of this process";
    log.info(name_ + ": " + split + " set of " + std::to_string(params.size) +
             " questions about " + std::to_string(set_->counts.size(0)) +
             " scenes " + std::to_string(params.img_size) + "x" +
             std::to_string(params.img_size) + ", seed " +
             std::to_string(params.seed) + ", " + how);
  }

  /// The definition of the "questions" tensor.
  virtual mip::sdk::DataDefinition question_definition() const = 0;
  /// The question types (int64 [B], 0..6) of encoded questions.
  virtual at::Tensor question_types(const at::Tensor& questions) const = 0;
  /// The questions about objects of colours `colour` and shapes `shape`
  /// (int64 [B] each), of types `type` (int64 [B], 0..6).
  virtual at::Tensor encode(const at::Tensor& colour,
                            const at::Tensor& shape,
                            const at::Tensor& type) const = 0;

  std::pair<at::Tensor, at::Tensor> classified(
      const mip::sdk::DataDict& batch,
      const mip::sdk::DataDict& predictions) const override {
    return {predictions.at("predictions"), batch.at("targets")};
  }

 private:
  /// `size`, or `dataset_size` (the key MI-Prometheus's configs write), or
  /// 10000.
  static int64_t read_size(const mip::sdk::ParamView& p,
                           const std::string& where) {
    const bool has_size = p.has("size"), has_ds = p.has("dataset_size");
    const int64_t size = has_size ? p.get<int64_t>("size")
                         : has_ds ? p.get<int64_t>("dataset_size")
                                  : 10000;
    MIP_CHECK(!has_size || !has_ds ||
                  p.get<int64_t>("dataset_size") == p.get<int64_t>("size"),
              mip::ParameterError, "[", where, "size] is ", size, " but [",
              where, "dataset_size] is ", p.get<int64_t>("dataset_size", 0),
              ": give one of them");
    MIP_CHECK(size > 0 && size <= 100000000, mip::ParameterError, "[", where,
              has_size ? "size" : "dataset_size",
              "] must be in [1, 100000000], got ", size);
    return size;
  }

  std::string name_;
  std::shared_ptr<const sc::SceneSet> set_;
};

/// Sort-of-CLEVR: a question is the one-hot colour of the object asked about
/// then the one-hot question type [B, 6 + 7].
class SortOfClevr final : public SceneProblem {
 public:
  explicit SortOfClevr(mip::sdk::Context& ctx)
      : SceneProblem(ctx, "SortOfCLEVR") {}

  std::map<std::string, double> default_values() const override {
    auto v = SceneProblem::default_values();
    v["question_encoding_size"] = double(sc::kColors + sc::kQuestions);
    return v;
  }

 protected:
  mip::sdk::DataDefinition question_definition() const override {
    return {{-1, sc::kColors + sc::kQuestions},
            at::kFloat,
            "one-hot colour of the object (6) then one-hot question type (7) "
            "[B, 13]"};
  }

  at::Tensor question_types(const at::Tensor& questions) const override {
    return questions.narrow(1, sc::kColors, sc::kQuestions).argmax(1);
  }

  at::Tensor encode(const at::Tensor& colour,
                    const at::Tensor& /*shape*/,
                    const at::Tensor& type) const override {
    return at::cat({at::one_hot(colour, sc::kColors),
                    at::one_hot(type, sc::kQuestions)},
                   1)
        .to(at::kFloat);
  }
};

/// ShapeColorQuery: a question is three one-hot words of 7 bits [B, 3, 7]:
/// the shape of the object (all zeros when the question asks for the shape),
/// its colour, the question type.
class ShapeColorQuery final : public SceneProblem {
 public:
  explicit ShapeColorQuery(mip::sdk::Context& ctx)
      : SceneProblem(ctx, "ShapeColorQuery") {}

  std::map<std::string, double> default_values() const override {
    auto v = SceneProblem::default_values();
    v["question_encoding_size"] = double(kBits);
    v["seq_length"] = 3.0;
    return v;
  }

 protected:
  static constexpr int64_t kBits =
      std::max({sc::kColors, sc::kShapes, sc::kQuestions});

  mip::sdk::DataDefinition question_definition() const override {
    return {{-1, 3, kBits},
            at::kFloat,
            "words shape (zeros when asked), colour, question type, one-hot "
            "in 7 bits [B, 3, 7]"};
  }

  at::Tensor question_types(const at::Tensor& questions) const override {
    return questions.select(1, 2).narrow(1, 0, sc::kQuestions).argmax(1);
  }

  at::Tensor encode(const at::Tensor& colour,
                    const at::Tensor& shape,
                    const at::Tensor& type) const override {
    const at::Tensor shape_word =
        at::one_hot(shape, kBits).mul_(type.ne(0).to(at::kLong).unsqueeze(1));
    return at::stack({shape_word, at::one_hot(colour, kBits),
                      at::one_hot(type, kBits)},
                     1)
        .to(at::kFloat);
  }
};

}  // namespace

MIP_REGISTER_PROBLEM(SortOfClevr,
                     "SortOfCLEVR",
                     "Sort-of-CLEVR: generated scenes of coloured squares and "
                     "circles, 7 relational and non-relational questions per "
                     "object (cached in data_folder)")
MIP_REGISTER_PROBLEM(ShapeColorQuery,
                     "ShapeColorQuery",
                     "Shape-Color-Query: Sort-of-CLEVR's scenes, questions as "
                     "three words (shape, colour, query)")
