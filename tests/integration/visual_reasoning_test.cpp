// SortOfCLEVR and ShapeColorQuery through the real plugin loader: the same
// set for a seed, images that show the objects the scene description lists,
// answers recomputed here from the description, the cache file in the data
// folder (reused, stale, truncated, corrupt), and a short training run.
#include <ATen/ATen.h>

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <mip/core/statistics.hpp>
#include <mip/sdk/problem.hpp>

#include "common/components.hpp"
#include "common/test_util.hpp"
#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace visual_reasoning_test {

/// MI-Prometheus's colours (blue, green, red, yellow, magenta, cyan) and
/// background.
const std::array<std::array<int, 3>, 6> kPalette{{{0, 0, 210},
                                                  {0, 210, 0},
                                                  {210, 0, 0},
                                                  {150, 150, 0},
                                                  {150, 0, 150},
                                                  {0, 150, 150}}};
const std::array<int, 3> kBackground{180, 180, 150};

/// Indices 0..n-1.
std::vector<int64_t> all(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

/// The inode of `file` (a rewrite through a rename changes it).
ino_t inode(const fs::path& file) {
  struct stat st {};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
  return st.st_ino;
}

/// The answer class of question `type` about the object of colour `colour`
/// in `scene` ([6, 4] rows x, y, colour, shape; -1 rows unused), from
/// MI-Prometheus's rules written out here on their own.
int64_t expected_answer(const at::Tensor& scene,
                        int64_t colour,
                        int64_t type,
                        int64_t img) {
  struct Obj {
    int64_t x, y, colour, shape;
  };
  std::vector<Obj> objs;
  for (int64_t i = 0; i < scene.size(0); ++i)
    if (scene[i][2].item<int64_t>() >= 0)
      objs.push_back({scene[i][0].item<int64_t>(), scene[i][1].item<int64_t>(),
                      scene[i][2].item<int64_t>(),
                      scene[i][3].item<int64_t>()});
  const auto self = std::find_if(objs.begin(), objs.end(), [&](const Obj& o) {
    return o.colour == colour;
  });
  EXPECT_NE(self, objs.end()) << "no object of colour " << colour;
  const int64_t kRectangle = 6, kYes = 8, kNo = 9;
  switch (type) {
    case 0:
      return kRectangle + self->shape;
    case 1:
      return self->y > img / 2 ? kYes : kNo;
    case 2:
      return self->x < img / 2 ? kYes : kNo;
    default:
      break;
  }
  // Others sorted by squared distance, ties in scene order (a stable sort).
  std::vector<Obj> others;
  for (const auto& o : objs)
    if (o.colour != colour)
      others.push_back(o);
  const auto d2 = [&](const Obj& o) {
    return (o.x - self->x) * (o.x - self->x) +
           (o.y - self->y) * (o.y - self->y);
  };
  std::stable_sort(others.begin(), others.end(),
                   [&](const Obj& a, const Obj& b) { return d2(a) < d2(b); });
  const Obj& nearest = others.front();
  const Obj& farthest = others.back();
  switch (type) {
    case 3:
      return kRectangle + nearest.shape;
    case 4:
      return kRectangle + farthest.shape;
    case 5:
      return nearest.colour;
    default:
      return farthest.colour;
  }
}

class VisualReasoning : public test::Components {
 protected:
  at::Generator gen_ = test::seeded(1);

  /// `name` over data folder `folder` (under the test's folder) with `extra`
  /// parameters (flow map entries).
  std::shared_ptr<sdk::Problem> make(const std::string& name,
                                     const std::string& folder,
                                     const std::string& extra) {
    return problem(name, "{data_folder: " + (dir_.path() / folder).string() +
                             (extra.empty() ? "" : ", " + extra) + "}");
  }

  sdk::DataDict batch(sdk::Problem& p, const std::vector<int64_t>& idx) {
    return p.get_batch(idx, gen_);
  }
};

TEST_F(VisualReasoning, SameSeedGivesTheSameSetAnotherSeedAnother) {
  const std::string params = "size: 150, img_size: 64";
  auto a = make("SortOfCLEVR", "a", params + ", seed: 4");
  auto b = make("SortOfCLEVR", "b", params + ", seed: 4");
  auto c = make("SortOfCLEVR", "c", params + ", seed: 5");
  auto v = make("SortOfCLEVR", "d", params + ", seed: 4, split: val");
  EXPECT_EQ(a->size(), 150);
  const auto idx = all(150);
  const auto ba = batch(*a, idx), bb = batch(*b, idx), bc = batch(*c, idx),
             bv = batch(*v, idx);
  for (const auto& key : {"images", "questions", "targets",
                          "scenes_description", "targets_classes"})
    EXPECT_TRUE(ba.at(key).equal(bb.at(key))) << key;
  EXPECT_FALSE(ba.at("images").equal(bc.at("images")));
  EXPECT_FALSE(ba.at("images").equal(bv.at("images")));
  // Two sets drawn in separate folders wrote byte-identical cache files.
  EXPECT_EQ(test::read(dir_.path() / "a" / "train_150_64_seed4.scenes"),
            test::read(dir_.path() / "b" / "train_150_64_seed4.scenes"));
}

TEST_F(VisualReasoning, BatchesHoldMiPrometheusKeysShapesAndTypes) {
  auto p = make("SortOfCLEVR", "s", "size: 40, img_size: 32");
  const auto d = p->data_definitions();
  for (const auto& key : {"images", "questions", "targets_classes", "targets",
                          "scenes_description"})
    EXPECT_EQ(d.count(key), 1u) << key;
  const auto b = batch(*p, {0, 5, 39});
  EXPECT_EQ(b.at("images").sizes(), (std::vector<int64_t>{3, 3, 32, 32}));
  EXPECT_EQ(b.at("images").scalar_type(), at::kFloat);
  EXPECT_EQ(b.at("questions").sizes(), (std::vector<int64_t>{3, 13}));
  EXPECT_EQ(b.at("targets_classes").sizes(), (std::vector<int64_t>{3, 10}));
  EXPECT_EQ(b.at("targets").scalar_type(), at::kLong);
  EXPECT_EQ(b.at("scenes_description").sizes(),
            (std::vector<int64_t>{3, 6, 4}));
  EXPECT_TRUE(b.at("targets_classes").argmax(1).equal(b.at("targets")));
  const auto dv = p->default_values();
  EXPECT_EQ(dv.at("question_encoding_size"), 13);
  EXPECT_EQ(dv.at("num_classes"), 10);
  EXPECT_EQ(dv.at("height"), 32);
  EXPECT_EQ(dv.at("depth"), 3);
  const std::string err = test::error_of([&] { batch(*p, {40}); });
  EXPECT_NE(err.find("sample index 40 out of range [0, 40)"), std::string::npos)
      << err;
}

TEST_F(VisualReasoning, ImagesShowEachDescribedObjectWithItsColourAndShape) {
  const int64_t img = 128, half = 10;  // MI-Prometheus's object half side
  auto p = make("SortOfCLEVR", "s", "size: 700");
  const auto b = batch(*p, all(700));
  const at::Tensor pixels = b.at("images").mul(255).round().to(at::kInt);
  const at::Tensor scenes = b.at("scenes_description");
  int checked = 0, circles = 0, squares = 0;
  for (int64_t s = 0; s < 700; s += 7) {
    const auto at_px = [&](int64_t x, int64_t y) {
      return std::array<int, 3>{pixels[s][0][y][x].item<int>(),
                                pixels[s][1][y][x].item<int>(),
                                pixels[s][2][y][x].item<int>()};
    };
    EXPECT_EQ(at_px(img - 1, img - 1), kBackground);
    for (int64_t i = 0; i < 6; ++i) {
      const auto o = scenes[s][i];
      const int64_t colour = o[2].item<int64_t>();
      if (colour < 0)
        continue;
      const int64_t x = o[0].item<int64_t>(), y = o[1].item<int64_t>();
      const bool circle = o[3].item<int64_t>() == 1;
      const auto& rgb = kPalette[size_t(colour)];
      ASSERT_EQ(at_px(x, y), rgb) << "scene sample " << s << " object " << i;
      EXPECT_EQ(at_px(x - half, y), rgb);
      EXPECT_EQ(at_px(x + half, y), rgb);
      EXPECT_EQ(at_px(x, y - half), rgb);
      EXPECT_EQ(at_px(x, y + half), rgb);
      EXPECT_EQ(at_px(x + half + 1, y), kBackground);
      EXPECT_EQ(at_px(x, y - half - 1), kBackground);
      // A square fills its corners; a circle leaves them empty.
      EXPECT_EQ(at_px(x + half, y + half), circle ? kBackground : rgb);
      EXPECT_EQ(at_px(x - half, y - half), circle ? kBackground : rgb);
      (circle ? circles : squares)++;
      ++checked;
    }
  }
  EXPECT_GT(circles, 10);
  EXPECT_GT(squares, 10);
  EXPECT_GT(checked, 100);
}

TEST_F(VisualReasoning, AnswersFollowFromTheSceneDescription) {
  const int64_t img = 64, n = 1400;
  auto p = make("SortOfCLEVR", "s", "size: 1400, img_size: 64, seed: 9");
  const auto b = batch(*p, all(n));
  const at::Tensor q = b.at("questions");
  std::array<int, 7> per_type{};
  std::array<int, 10> per_answer{};
  for (int64_t k = 0; k < n; ++k) {
    ASSERT_EQ(q[k].sum().item<float>(), 2.0f) << k;
    const int64_t colour = q[k].slice(0, 0, 6).argmax().item<int64_t>();
    const int64_t type = q[k].slice(0, 6, 13).argmax().item<int64_t>();
    const int64_t got = b.at("targets")[k].item<int64_t>();
    ASSERT_EQ(got,
              expected_answer(b.at("scenes_description")[k], colour, type, img))
        << "sample " << k << " colour " << colour << " type " << type;
    per_type[size_t(type)]++;
    per_answer[size_t(got)]++;
  }
  // Every type is asked as often (object by object, 7 questions each), and
  // every answer class occurs.
  for (int t = 0; t < 7; ++t)
    EXPECT_EQ(per_type[size_t(t)], n / 7) << t;
  for (int a = 0; a < 10; ++a)
    EXPECT_GT(per_answer[size_t(a)], 0) << a;
}

TEST_F(VisualReasoning, ShapeColorQueryAsksTheSameQuestionsAsThreeWords) {
  const std::string params = "size: 300, img_size: 48, seed: 2";
  auto sc = make("SortOfCLEVR", "a", params);
  auto scq = make("ShapeColorQuery", "b", params);
  const auto idx = all(300);
  const auto a = batch(*sc, idx), b = batch(*scq, idx);
  EXPECT_TRUE(a.at("images").equal(b.at("images")));
  EXPECT_TRUE(a.at("targets").equal(b.at("targets")));
  const at::Tensor q = b.at("questions");
  ASSERT_EQ(q.sizes(), (std::vector<int64_t>{300, 3, 7}));
  EXPECT_EQ(scq->default_values().at("question_encoding_size"), 7);
  EXPECT_EQ(scq->default_values().at("seq_length"), 3);
  for (int64_t k = 0; k < 300; ++k) {
    const int64_t colour =
        a.at("questions")[k].slice(0, 0, 6).argmax().item<int64_t>();
    const int64_t type =
        a.at("questions")[k].slice(0, 6, 13).argmax().item<int64_t>();
    EXPECT_EQ(q[k][1].argmax().item<int64_t>(), colour);
    EXPECT_EQ(q[k][2].argmax().item<int64_t>(), type);
    EXPECT_EQ(q[k][1].sum().item<float>(), 1.0f);
    EXPECT_EQ(q[k][2].sum().item<float>(), 1.0f);
    // The shape word: the object's shape, never given when it is asked.
    const auto scene = a.at("scenes_description")[k];
    int64_t shape = -1;
    for (int64_t i = 0; i < 6; ++i)
      if (scene[i][2].item<int64_t>() == colour)
        shape = scene[i][3].item<int64_t>();
    if (type == 0) {
      EXPECT_EQ(q[k][0].sum().item<float>(), 0.0f) << k;
    } else {
      EXPECT_EQ(q[k][0].sum().item<float>(), 1.0f) << k;
      EXPECT_EQ(q[k][0].argmax().item<int64_t>(), shape) << k;
    }
  }
}

TEST_F(VisualReasoning, CacheIsReusedAndAStaleTruncatedOrCorruptOneRemade) {
  const std::string params = "size: 200, img_size: 40, seed: 3";
  const fs::path file = dir_.path() / "c" / "train_200_40_seed3.scenes";
  at::Tensor images;
  {
    auto p = make("SortOfCLEVR", "c", params);
    images = batch(*p, all(200)).at("images");
  }
  ASSERT_TRUE(fs::exists(file));
  const std::string good = test::read(file);
  const auto reread = [&]() {
    auto p = make("SortOfCLEVR", "c", params);
    return batch(*p, all(200)).at("images");
  };
  const auto check_remade = [&](const std::string& what) {
    const ino_t before = inode(file);
    EXPECT_TRUE(reread().equal(images)) << what;
    EXPECT_NE(inode(file), before) << what << ": not rewritten";
    EXPECT_EQ(test::read(file), good) << what;
  };
  // Reused: the same file (no rewrite), the same data.
  const ino_t first = inode(file);
  EXPECT_TRUE(reread().equal(images));
  EXPECT_EQ(inode(file), first);
  // Truncated (a write that stopped half way).
  fs::resize_file(file, good.size() / 2);
  check_remade("truncated");
  // Corrupt: one image byte flipped.
  {
    std::string bad = good;
    bad[bad.size() - 100] = char(bad[bad.size() - 100] ^ 0x5a);
    dir_.write("c/train_200_40_seed3.scenes", bad);
  }
  check_remade("corrupt");
  // Stale: a set of other parameters under this name.
  {
    auto other = make("SortOfCLEVR", "o", "size: 200, img_size: 40, seed: 7");
    batch(*other, {0});
  }
  fs::copy_file(dir_.path() / "o" / "train_200_40_seed7.scenes", file,
                fs::copy_options::overwrite_existing);
  check_remade("stale");
  // Not a cache file at all.
  dir_.write("c/train_200_40_seed3.scenes", "hello");
  check_remade("foreign");
  // regenerate: true rewrites a good file.
  {
    const ino_t before = inode(file);
    auto p = make("SortOfCLEVR", "c", params + ", regenerate: true");
    EXPECT_TRUE(batch(*p, all(200)).at("images").equal(images));
    EXPECT_NE(inode(file), before);
  }
  // No temporary file is left behind.
  for (const auto& e : fs::directory_iterator(file.parent_path()))
    EXPECT_EQ(e.path().extension(), ".scenes") << e.path();
}

TEST_F(VisualReasoning, ProblemsOfOneProcessShareOneSet) {
  const std::string params = "size: 100, img_size: 32";
  auto a = make("SortOfCLEVR", "s", params);
  const fs::path file = dir_.path() / "s" / "train_100_32_seed0.scenes";
  fs::remove(file);
  // The second problem takes the set the first holds: no file is read or made.
  auto b = make("SortOfCLEVR", "s", params);
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(
      batch(*a, all(100)).at("images").equal(batch(*b, all(100)).at("images")));
}

TEST_F(VisualReasoning, BadParametersAreNamed) {
  const auto err = [&](const std::string& extra) {
    return test::error_of([&] { make("SortOfCLEVR", "s", extra); });
  };
  std::string e = err("split: training");
  EXPECT_NE(e.find("[training.problem.split] must be train, val or test, got "
                   "[training]"),
            std::string::npos)
      << e;
  e = err("img_size: 8");
  EXPECT_NE(e.find("[training.problem.img_size] must be in [16, 4096]"),
            std::string::npos)
      << e;
  e = err("size: 100, dataset_size: 200");
  EXPECT_NE(e.find("[training.problem.size] is 100 but "
                   "[training.problem.dataset_size] is 200"),
            std::string::npos)
      << e;
  // MI-Prometheus's configs name the size dataset_size.
  auto p = make("ShapeColorQuery", "q", "dataset_size: 30, img_size: 16");
  EXPECT_EQ(p->size(), 30);
}

TEST_F(VisualReasoning, AccuracyIsReportedPerKindOfQuestion) {
  // Sample k asks question type k % 7 (types 3-6 are relational). The
  // predictions are right on even samples and wrong on odd ones, so the
  // accuracy on each kind is known from the indices alone.
  for (const std::string name : {"SortOfCLEVR", "ShapeColorQuery"}) {
    SCOPED_TRACE(name);
    auto p = make(name, name, "size: 70, img_size: 16");
    StatisticsCollector col;
    StatisticsAggregator agg;
    p->add_statistics(col);
    p->add_aggregators(agg);
    int64_t right[2] = {0, 0}, asked[2] = {0, 0};
    for (const auto& idx : {all(10), std::vector<int64_t>{0, 1, 2, 7, 9}}) {
      const sdk::DataDict b = batch(*p, idx);
      const at::Tensor targets = b.at("targets");
      at::Tensor answers = targets.clone();
      int64_t r[2] = {0, 0}, n[2] = {0, 0};
      for (size_t i = 0; i < idx.size(); ++i) {
        const int kind = idx[i] % 7 >= 3 ? 1 : 0;
        const bool ok = idx[i] % 2 == 0;
        if (!ok)
          answers[int64_t(i)] = (targets[int64_t(i)].item<int64_t>() + 1) % 10;
        r[kind] += ok;
        ++n[kind];
      }
      sdk::DataDict pred;
      pred["predictions"] = at::one_hot(answers, 10).to(at::kFloat);
      p->collect_statistics(col, b, pred);
      const auto last = [&](const char* key) { return col.values(key).back(); };
      EXPECT_DOUBLE_EQ(last("relational_questions"), double(n[1]));
      EXPECT_DOUBLE_EQ(last("acc_non_relational"), double(r[0]) / n[0]);
      if (n[1] > 0)
        EXPECT_DOUBLE_EQ(last("acc_relational"), double(r[1]) / n[1]);
      else
        EXPECT_TRUE(std::isnan(last("acc_relational")))
            << last("acc_relational");
      EXPECT_DOUBLE_EQ(last("acc"), double(r[0] + r[1]) / (n[0] + n[1]));
      for (int k = 0; k < 2; ++k) {
        right[k] += r[k];
        asked[k] += n[k];
      }
    }
    // Aggregated over every question of the kind, not batch by batch.
    p->aggregate_statistics(col, agg);
    EXPECT_DOUBLE_EQ(agg.get("acc_non_relational"),
                     double(right[0]) / asked[0]);
    EXPECT_DOUBLE_EQ(agg.get("acc_relational"), double(right[1]) / asked[1]);
    EXPECT_EQ(agg.csv_header().find("acc_non_relational,acc_relational"),
              agg.csv_header().size() - 33)
        << agg.csv_header();
  }
}

TEST(VisualReasoningRun, SimpleConvNetTrainsOnSortOfClevrThroughTheWorker) {
  test::TempDir d;
  const std::string problem =
      "{name: SortOfCLEVR, batch_size: 16, size: 400, img_size: 32, "
      "data_folder: " +
      d.str() + "/scenes}";
  const fs::path exp = test::short_run(d, problem, "{name: SimpleConvNet}", 30);
  ASSERT_FALSE(exp.empty());
  const auto loss = test::csv_column(exp / "training_statistics.csv", "loss");
  ASSERT_GE(loss.size(), 2u);
  EXPECT_TRUE(fs::exists(d.path() / "scenes" / "train_400_32_seed0.scenes"));
  const auto acc = test::csv_column(exp / "training_statistics.csv", "acc");
  for (double v : acc)
    EXPECT_TRUE(v >= 0.0 && v <= 1.0) << v;
}

}  // namespace visual_reasoning_test
}  // namespace mip
