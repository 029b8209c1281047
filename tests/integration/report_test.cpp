// mip-report and --visualize: real trainings and tests by the workers, the
// report written by the real tool, opened in Debian's headless Chromium
// (screenshot and DOM after its scripts ran).
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/grid_runs.hpp"

namespace mip::test {
// Named: each test executable is one unity build.
namespace report_test {

const std::string kReport = kBin + "/mip-report";
const std::string kNtmConfig = kSource + "/configs/ntm/serial_recall.yaml";

/// Chromium's path, or "" when it is not installed.
std::string chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(p))
      return p;
  return "";
}

#define SKIP_WITHOUT_CHROMIUM()                                    \
  if (chromium().empty())                                          \
  GTEST_SKIP() << "Debian's chromium is not installed (packaging/" \
                  "install-deps.sh installs it): the page cannot be opened"

std::string chromium_flags() {
  return chromium() +
         " --headless --no-sandbox --disable-gpu --hide-scrollbars "
         "--no-first-run --disable-extensions --virtual-time-budget=3000 ";
}

/// The DOM of `page` (an HTML file) after its scripts ran.
std::string dom_of(const fs::path& page, const std::string& fragment = "") {
  const RunResult r = run("(" + chromium_flags() + "--dump-dom 'file://" +
                          page.string() + fragment + "' 2>/dev/null)");
  EXPECT_EQ(r.code, 0) << r.output;
  return r.output;
}

/// Pixels of a screenshot of `page`: {not white, near `rgb`}.
std::pair<long, long> screenshot_pixels(const TempDir& d,
                                        const fs::path& page,
                                        const std::string& rgb,
                                        const std::string& fragment = "") {
  const std::string png = (d.path() / "shot.png").string();
  fs::remove(png);
  const RunResult shot =
      run(chromium_flags() + "--window-size=1280,2400 --screenshot=" + png +
          " 'file://" + page.string() + fragment + "'");
  EXPECT_TRUE(fs::exists(png)) << shot.output;
  // A PNG decoder in Debian's python3 standard library (zlib, struct).
  const std::string script = d.write("pixels.py", R"py(
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
rows, prev, i = [], bytearray(stride), 0
for y in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line
want = [int(v) for v in sys.argv[2].split(",")]
nonwhite = near = 0
for line in rows:
    for x in range(0, stride, bpp):
        px = line[x:x + 3]
        if min(px) < 245: nonwhite += 1
        if all(abs(px[k] - want[k]) <= 40 for k in range(3)): near += 1
print(nonwhite, near)
)py");
  const RunResult r = run("python3 " + script + " " + png + " " + rgb);
  EXPECT_EQ(r.code, 0) << r.output;
  long nonwhite = 0, near = 0;
  std::istringstream(r.output) >> nonwhite >> near;
  return {nonwhite, near};
}

/// A screenshot of the page's visualisation part shows heat map cells.
void expect_heatmaps_drawn(const TempDir& d, const fs::path& page) {
  const auto [nonwhite, dark] =
      screenshot_pixels(d, page, "68,1,84", "#focus=visualisation");
  EXPECT_GT(nonwhite, 20000) << "the page is blank";
  EXPECT_GT(dark, 200) << "no heat map cells (the colour map's dark end)";
}

/// The CSV statistics of a folder: {section, column}, episode excluded;
/// the sections without rows in `empty`.
std::vector<std::pair<std::string, std::string>> statistics_of(
    const fs::path& dir, std::vector<std::string>* empty = nullptr) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string f = e.path().filename().string();
    const std::string suffix = "_statistics.csv";
    if (f.size() <= suffix.size() ||
        f.compare(f.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const auto rows = csv_rows(e.path());
    const std::string section = f.substr(0, f.size() - suffix.size());
    if (rows.size() < 2) {
      if (empty)
        empty->push_back(section);
      continue;
    }
    for (const auto& c : rows[0])
      if (c != "episode")
        out.emplace_back(section, c);
  }
  return out;
}

/// A short serial-recall LSTM training (online) under `d`/`sub`.
fs::path lstm_run(const TempDir& d,
                  const std::string& sub,
                  const std::string& extra = "") {
  const RunResult r =
      run(kOnline + " --config " + kSerialRecall + " --expdir " + d.str() +
          "/" + sub +
          " --set training.terminal_conditions.episode_limit=60"
          " --set validation.partial_validation_interval=20 --li 20 " +
          extra);
  EXPECT_EQ(r.code, 0) << r.output;
  return only_experiment(d.path() / sub, "training_configuration.yaml");
}

YAML::Node json(const fs::path& p) {
  return YAML::LoadFile(p.string());
}

std::vector<fs::path> recordings(const fs::path& dir) {
  std::vector<fs::path> out;
  if (fs::is_directory(dir / "visualization"))
    for (const auto& e : fs::directory_iterator(dir / "visualization"))
      if (e.path().extension() == ".json")
        out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// The shape of the tensor `name` in `list` of a recording ({} if absent).
std::vector<int64_t> shape_of(const YAML::Node& list, const std::string& name) {
  for (const auto& t : list)
    if (t["name"].as<std::string>() == name)
      return t["shape"].as<std::vector<int64_t>>();
  return {};
}

/// What follows the first tag of `text` that starts with `tag_start` (after
/// its '>'), up to the next `close` ("" when absent). Not std::regex's
/// (.*?): it recurses once per character and overflows the stack on pages
/// this size (under AddressSanitizer's larger frames).
std::string inside(const std::string& text,
                   const std::string& tag_start,
                   const std::string& close) {
  const size_t tag = text.find(tag_start);
  if (tag == std::string::npos)
    return "";
  const size_t begin = text.find('>', tag);
  const size_t end = text.find(close, begin);
  if (begin == std::string::npos || end == std::string::npos)
    return "";
  return text.substr(begin + 1, end - begin - 1);
}

TEST(Report, SerialRecallLstmCurvesEveryStatisticDrawnInChromium) {
  TempDir d;
  const fs::path exp = lstm_run(d, "exp");
  ASSERT_FALSE(exp.empty());
  EXPECT_FALSE(fs::exists(exp / "visualization"))
      << "nothing is recorded without --visualize";
  const RunResult test = run(kTester + " --model " + exp.string());
  ASSERT_EQ(test.code, 0) << test.output;
  d.write(exp.string() + "/provenance.yaml",
          "command: mip-online-trainer --config lstm.yaml\nhost: here\n");

  const RunResult r = run(kReport + " " + exp.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path page = exp / "report.html";
  ASSERT_TRUE(fs::exists(page)) << r.output;
  const std::string html = read(page);
  for (const char* fetch : {"src=", "href=", "@import", "url("})
    EXPECT_EQ(html.find(fetch), std::string::npos) << "nothing is fetched";

  // One curve per statistic and section, training's and the test's; no
  // epoch ended in 60 episodes, so training_set_agg has no rows.
  std::vector<std::string> empty;
  auto stats = statistics_of(exp, &empty);
  EXPECT_EQ(empty, std::vector<std::string>{"training_set_agg"});
  EXPECT_HAS(html,
             "<section class=\"curves\" data-section=\"training_set_agg\">"
             "<h3>training_set_agg</h3>\n<p class=\"note\">No rows yet.</p>");
  const fs::path test_dir = only_experiment(exp, "testing_configuration.yaml");
  for (const auto& s : statistics_of(test_dir))
    stats.push_back(s);
  ASSERT_GE(stats.size(), 20u);
  std::set<std::string> sections;
  for (const auto& [section, stat] : stats) {
    sections.insert(section);
    EXPECT_EQ(occurrences(html, "<path class=\"curve\" data-section=\"" +
                                    section + "\" data-stat=\"" + stat + "\""),
              1u)
        << section << " " << stat;
  }
  EXPECT_TRUE(sections.count("testing_set_agg")) << "the test's statistics";
  EXPECT_EQ(occurrences(html, "<path class=\"curve\""), stats.size());
  // The best model, marked on the curves.
  const YAML::Node status = YAML::LoadFile((exp / "status.yaml").string());
  const auto best = status["best_episode"].as<int64_t>();
  EXPECT_HAS(html, "episode " + std::to_string(best) + ", validation loss");
  EXPECT_GE(occurrences(html, "<line class=\"best\""), 10u);
  EXPECT_EQ(occurrences(html, "<circle class=\"best-point\""), 1u)
      << "on the validation loss curve";
  // Status, configuration, provenance, test results.
  EXPECT_HAS(html, "<th>state</th><td>finished</td>");
  EXPECT_HAS(html, "hidden_state_size: 64");
  EXPECT_HAS(html, "host: here");
  EXPECT_HAS(html, "<table class=\"results\" data-section=\"testing_set_agg\"");

  SKIP_WITHOUT_CHROMIUM();
  const std::string dom = dom_of(page);
  EXPECT_EQ(occurrences(dom, "<path class=\"curve\""), stats.size());
  const auto [nonwhite, blue] = screenshot_pixels(d, page, "31,119,180");
  EXPECT_GT(nonwhite, 20000) << "the page is blank";
  EXPECT_GT(blue, 1500) << "the curves (#1f77b4) are not drawn";
}

TEST(Report, VisualizeRecordsLstmGatesWithoutChangingTheRun) {
  TempDir d;
  const fs::path plain = lstm_run(d, "plain");
  const fs::path vis = lstm_run(d, "vis", "--visualize 1");
  ASSERT_FALSE(plain.empty());
  ASSERT_FALSE(vis.empty());
  // Recording (training batches included) changes nothing of the run.
  for (const char* f : {"training_statistics.csv", "validation_statistics.csv",
                        "validation_set_agg_statistics.csv"})
    EXPECT_EQ(read(plain / f), read(vis / f)) << f;
  EXPECT_EQ(checkpoint_digest((plain / "models/model_best.pt").string()),
            checkpoint_digest((vis / "models/model_best.pt").string()));

  // Level 1: training every --li (0, 20, 40), partial validations (0, 20,
  // 40, 59 final) and the first batch of the final full validation.
  const auto files = recordings(vis);
  std::multiset<std::string> kinds;
  for (const auto& f : files)
    kinds.insert(json(f)["kind"].as<std::string>());
  EXPECT_EQ(kinds.count("training"), 3u);
  EXPECT_EQ(kinds.count("partial validation"), 3u);
  EXPECT_EQ(kinds.count("final partial validation"), 1u);
  EXPECT_EQ(kinds.count("final full validation"), 1u);
  ASSERT_EQ(files.size(), 8u);

  const YAML::Node v = json(vis / "visualization/validation_000000.json");
  EXPECT_EQ(v["kind"].as<std::string>(), "partial validation");
  const auto seq = shape_of(v["inputs"], "sequences");
  ASSERT_EQ(seq.size(), 2u);
  const int64_t t = seq[0];
  EXPECT_EQ(t, 12) << "validation: 5 items, T = 2L+2";
  EXPECT_EQ(shape_of(v["inputs"], "targets"), (std::vector<int64_t>{t, 8}));
  EXPECT_EQ(shape_of(v["predictions"], "predictions"),
            (std::vector<int64_t>{t, 8}));
  for (const char* g : {"input_gate", "forget_gate", "output_gate",
                        "cell_state", "hidden_state"})
    EXPECT_EQ(shape_of(v["steps"], g), (std::vector<int64_t>{t, 64})) << g;
  // Gates are sigmoids; the hidden state is o * tanh(c).
  for (const auto& s : v["steps"]) {
    const std::string name = s["name"].as<std::string>();
    for (const auto& x : s["data"]) {
      const double val = x.as<double>();
      if (name.find("gate") != std::string::npos)
        ASSERT_TRUE(val >= 0.0 && val <= 1.0) << name << " " << val;
      if (name == "hidden_state")
        ASSERT_LE(std::abs(val), 1.0) << val;
    }
  }

  const RunResult r = run(kReport + " " + vis.string() + " --output " +
                          d.str() + "/out/page.html");
  EXPECT_NE(r.code, 0) << "the --output folder does not exist";
  EXPECT_HAS(r.output, d.str() + "/out");
  fs::create_directories(d.path() / "out");
  const RunResult ok = run(kReport + " " + vis.string() + " --output " +
                           d.str() + "/out/page.html");
  ASSERT_EQ(ok.code, 0) << ok.output;
  const fs::path page = d.path() / "out/page.html";
  const std::string html = read(page);
  EXPECT_EQ(occurrences(html, "<section class=\"recording\""), 8u);
  EXPECT_EQ(occurrences(html, "data-tensor=\"forget_gate\""), 8u);
  EXPECT_EQ(occurrences(html, "data-tensor=\"sequences\""), 8u);
  EXPECT_EQ(occurrences(html, "data-tensor=\"predictions\""), 8u);
  EXPECT_FALSE(fs::exists(vis / "report.html")) << "--output was given";

  SKIP_WITHOUT_CHROMIUM();
  // The page's slider, moved by the URL (#step=N): the step heat maps are
  // recoloured and the cursors move.
  const std::string at0 = dom_of(page);
  const std::string at5 = dom_of(page, "#step=5");
  EXPECT_HAS(at5, "step 5 of");
  EXPECT_HAS(at0, "step 0 of");
  const std::string gate0 = inside(at0, "data-tensor=\"cell_state\"", "</svg>");
  const std::string gate5 = inside(at5, "data-tensor=\"cell_state\"", "</svg>");
  ASSERT_NE(gate0, "");
  ASSERT_NE(gate5, "");
  EXPECT_NE(gate0, gate5) << "the slider recolours the cells";
  expect_heatmaps_drawn(d, page);
}

TEST(Report, NtmMemoryAndWeightingsRecordedAndDrawn) {
  TempDir d;
  const RunResult r =
      run(kOnline + " --config " + kNtmConfig + " --expdir " + d.str() +
          "/exp --set training.terminal_conditions.episode_limit=6"
          " --set validation.partial_validation_interval=5"
          " --set validation.problem.size=64"
          " --set validation.problem.min_sequence_length=6"
          " --set validation.problem.max_sequence_length=6 --visualize 2");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp =
      only_experiment(d.path() / "exp", "training_configuration.yaml");
  const auto files = recordings(exp);
  // Partial validations at 0 and 5, the final one, the final full one.
  ASSERT_EQ(files.size(), 4u);
  const YAML::Node v = json(files.front());
  const int64_t t = 14, a = 14;  // 6 items: T = 2L+2, as many addresses
  EXPECT_EQ(shape_of(v["steps"], "memory"), (std::vector<int64_t>{t, a, 10}));
  EXPECT_EQ(shape_of(v["steps"], "read_weights"),
            (std::vector<int64_t>{t, 1, a}));
  EXPECT_EQ(shape_of(v["steps"], "write_weights"),
            (std::vector<int64_t>{t, 1, a}));
  // Each weighting is a distribution over the addresses.
  for (const auto& s : v["steps"]) {
    if (s["name"].as<std::string>() == "memory")
      continue;
    const auto data = s["data"].as<std::vector<double>>();
    for (int64_t step = 0; step < t; ++step) {
      double sum = 0;
      for (int64_t i = 0; i < a; ++i)
        sum += data[static_cast<size_t>(step * a + i)];
      EXPECT_NEAR(sum, 1.0, 1e-3) << s["name"] << " step " << step;
    }
  }
  const RunResult rep = run(kReport + " " + exp.string());
  ASSERT_EQ(rep.code, 0) << rep.output;
  const fs::path page = exp / "report.html";
  const std::string html = read(page);
  for (const char* n : {"memory", "read_weights", "write_weights"})
    EXPECT_EQ(occurrences(html, std::string("data-tensor=\"") + n + "\""), 4u)
        << n;
  // The memory's heat map: 14 x 10 cells.
  const std::string mem = inside(html, "data-tensor=\"memory\"", "</g>");
  ASSERT_EQ(mem.rfind("<g class=\"cells\">", 0), 0u) << mem.substr(0, 200);
  EXPECT_EQ(occurrences(mem, "<rect"), static_cast<size_t>(a * 10));

  SKIP_WITHOUT_CHROMIUM();
  EXPECT_EQ(occurrences(dom_of(page), "data-tensor=\"memory\""), 4u);
  expect_heatmaps_drawn(d, page);
}

/// A memory model's experiment (MI-Prometheus's file) and what it publishes
/// at each step with 4 items (T = 10): {name, shape}.
struct Publisher {
  const char* config;
  std::vector<std::pair<std::string, std::vector<int64_t>>> steps;
};

class MemoryModelPublishes : public ::testing::TestWithParam<Publisher> {};

TEST_P(MemoryModelPublishes, ItsMemoryAndWeightingsOnTheLastValidation) {
  const Publisher& p = GetParam();
  TempDir d;
  // --visualize 3: only the first batch of the last full validation.
  const RunResult r =
      run("cd " + kSource + " && " + kOnline + " --config configs/" + p.config +
          " --expdir " + d.str() +
          " --set training.terminal_conditions.episode_limit=2"
          " --set validation.partial_validation_interval=1"
          " --set validation.problem.size=64"
          " --set validation.problem.min_sequence_length=4"
          " --set validation.problem.max_sequence_length=4 --visualize 3");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path(), "training_configuration.yaml");
  const auto files = recordings(exp);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename(), "last_validation.json");
  const YAML::Node v = json(files[0]);
  EXPECT_EQ(v["kind"].as<std::string>(), "final full validation");
  ASSERT_EQ(v["steps"].size(), p.steps.size());
  for (const auto& [name, shape] : p.steps)
    EXPECT_EQ(shape_of(v["steps"], name), shape) << name;
  ASSERT_EQ(run(kReport + " " + exp.string()).code, 0);
  const std::string html = read(exp / "report.html");
  for (const auto& [name, shape] : p.steps)
    EXPECT_EQ(
        occurrences(html, "data-tensor=\"" + name + "\" data-kind=\"step\""),
        1u)
        << name;
}

INSTANTIATE_TEST_SUITE_P(
    Report,
    MemoryModelPublishes,
    ::testing::Values(
        Publisher{"maes_baselines/dnc/dnc_serial_recall.yaml",
                  {{"memory", {10, 10, 15}},
                   {"read_weights", {10, 1, 10}},
                   {"write_weights", {10, 1, 10}},
                   {"usage", {10, 10}}}},
        Publisher{"dwm_baselines/dwm/serial_recall.yaml",
                  {{"read_weights", {10, 1, 10}},
                   {"write_weights", {10, 1, 10}},
                   {"memory", {10, 10, 10}},
                   {"bookmark_weights", {10, 1, 10}}}},
        Publisher{"thalnet/serial_recall.yaml",
                  {{"center", {10, 4, 32}},
                   {"module_state_0", {10, 32}},
                   {"module_state_1", {10, 32}},
                   {"module_state_2", {10, 32}},
                   {"module_state_3", {10, 40}}}},
        Publisher{"maes_baselines/es_ntm/es_ntm_serial_recall.yaml",
                  {{"memory", {10, 10, 15}},
                   {"read_weights", {10, 1, 10}},
                   {"write_weights", {10, 1, 10}}}},
        Publisher{"maes_baselines/es_lstm/es_lstm_serial_recall.yaml",
                  {{"input_gate", {10, 256}},
                   {"forget_gate", {10, 256}},
                   {"output_gate", {10, 256}},
                   {"cell_state", {10, 256}},
                   {"hidden_state", {10, 256}},
                   {"solver", {10, 1}}}},
        Publisher{"maes_baselines/maes/maes_serial_recall.yaml",
                  {{"memory", {10, 10, 15}},
                   {"write_weights", {10, 1, 10}},
                   {"read_weights", {10, 1, 10}}}}),
    [](const ::testing::TestParamInfo<Publisher>& info) {
      std::string n = fs::path(info.param.config).parent_path().filename();
      for (char& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c)))
          c = '_';
      return n;
    });

/// The cells of the runs table's rows in `html`, in page order (the
/// swatch's cell left out).
std::vector<std::vector<std::string>> table_rows(const std::string& html) {
  std::vector<std::vector<std::string>> rows;
  const std::regex cell("<td>(.*?)</td>");  // a cell is short
  const std::string open = "<tr class=\"run\"";
  for (size_t at = html.find(open); at != std::string::npos;
       at = html.find(open, at + 1)) {
    const std::string r = inside(html.substr(at), open, "</tr>");
    rows.emplace_back();
    for (auto c = std::sregex_iterator(r.begin(), r.end(), cell);
         c != std::sregex_iterator(); ++c)
      rows.back().push_back((*c)[1].str());
    if (!rows.back().empty())
      rows.back().erase(rows.back().begin());  // the swatch
  }
  return rows;
}

TEST(Report, GridSortableAnalysisTableAndOneCurvePerRun) {
  TempDir d;
  const Grid g = make_grid(d);
  ASSERT_EQ(g.runs.size(), 4u);
  const RunResult a = run(kGridAnalyzer + " " + g.root.string() + " --output " +
                          d.str() + "/analysis.csv");
  ASSERT_EQ(a.code, 0) << a.output;
  const auto analysis = quoted_csv_rows(d.path() / "analysis.csv");
  const RunResult r = run(kReport + " " + g.root.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path page = g.root / "report.html";
  const std::string html = read(page);
  EXPECT_HAS(html, "(5 runs)");
  // The analysis's table: its columns, its rows (one per test).
  std::string header;
  for (const auto& c : analysis[0])
    header += "<th data-column=\"" + c + "\">" + c + "</th>";
  EXPECT_HAS(html, "<table class=\"runs sortable\"><thead><tr><th></th>" +
                       header + "</tr></thead>");
  const auto rows = table_rows(html);
  ASSERT_EQ(rows.size(), analysis.size() - 1);
  for (size_t i = 0; i < rows.size(); ++i)
    EXPECT_EQ(rows[i], analysis[i + 1]) << "row " << i;
  // Each overlaid chart: one curve per run, told apart by data-run.
  for (const char* stat : {"loss", "acc"}) {
    const std::regex path(
        std::string("<path class=\"curve\" data-section=\"training\" "
                    "data-stat=\"") +
        stat + "\" data-run=\"([^\"]+)\"");
    std::set<std::string> runs;
    for (auto it = std::sregex_iterator(html.begin(), html.end(), path);
         it != std::sregex_iterator(); ++it)
      runs.insert((*it)[1].str());
    EXPECT_EQ(runs.size(), 5u) << stat;
    for (const auto& p : g.runs)
      EXPECT_EQ(runs.count(fs::relative(p, g.root).generic_string()), 1u);
  }

  SKIP_WITHOUT_CHROMIUM();
  // A click on a header sorts the rows by it (the page clicks the header
  // #sort= names; "-" clicks twice: the other way).
  const auto column = [&](const std::vector<std::vector<std::string>>& rs,
                          const std::string& name) {
    const size_t c = static_cast<size_t>(
        std::find(analysis[0].begin(), analysis[0].end(), name) -
        analysis[0].begin());
    std::vector<std::string> v;
    for (const auto& row : rs)
      v.push_back(c < row.size() ? row[c] : "?");
    return v;
  };
  const auto plain = table_rows(dom_of(page));
  const auto lr = column(plain, "training.optimizer.lr");
  EXPECT_EQ(lr, column(rows, "training.optimizer.lr"))
      << "unsorted: the analysis's order (by folder)";
  std::vector<std::string> ascending = lr;
  std::stable_sort(ascending.begin(), ascending.end(),
                   [](const std::string& x, const std::string& y) {
                     return std::stod(x) < std::stod(y);
                   });
  EXPECT_NE(ascending, lr) << "the grid's folder order is not by lr";
  EXPECT_EQ(column(table_rows(dom_of(page, "#sort=training.optimizer.lr")),
                   "training.optimizer.lr"),
            ascending);
  const std::vector<std::string> descending(ascending.rbegin(),
                                            ascending.rend());
  EXPECT_EQ(column(table_rows(dom_of(page, "#sort=-training.optimizer.lr")),
                   "training.optimizer.lr"),
            descending);
  // Numbers sort as numbers; empty cells (runs without a test) last.
  const auto by_loss =
      column(table_rows(dom_of(page, "#sort=test_loss")), "test_loss");
  ASSERT_EQ(by_loss.size(), 6u);
  EXPECT_EQ(by_loss[4], "");
  EXPECT_EQ(by_loss[5], "");
  for (size_t i = 1; i < 4; ++i)
    EXPECT_LE(std::stod(by_loss[i - 1]), std::stod(by_loss[i]));
  EXPECT_HAS(dom_of(page, "#sort=test_loss"),
             "<th data-column=\"test_loss\" data-order=\"ascending\">");
}

TEST(Report, BadFoldersAndFilesAreClearErrors) {
  TempDir d;
  fs::create_directories(d.path() / "empty/a");
  RunResult r = run(kReport + " " + d.str() + "/empty");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output, d.str() + "/empty] is not an experiment folder");
  r = run(kReport + " " + d.str() + "/missing");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_HAS(r.output, "does not exist");
  r = run(kReport);
  EXPECT_EQ(r.code, 2) << r.output;
  r = run(kOnline + " --config " + kSerialRecall + " --visualize 4");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_HAS(r.output, "--visualize must be -1 (off), 0 (training)");

  // A damaged statistics file: named with its line; the old report stays.
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  ASSERT_EQ(run(kReport + " " + exp.string()).code, 0);
  const std::string before = read(exp / "report.html");
  const std::string csv = read(exp / "training_statistics.csv");
  std::ofstream(exp / "training_statistics.csv")
      << csv.substr(0, csv.find('\n') + 1) << "0.5,000000,00,x1\n";
  r = run(kReport + " " + exp.string());
  EXPECT_NE(r.code, 0);
  EXPECT_HAS(r.output, (exp / "training_statistics.csv").string() + ":2:");
  EXPECT_EQ(read(exp / "report.html"), before);
  for (const auto& e : fs::directory_iterator(exp))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos);
}

TEST(Report, TesterVisualizeRecordsEveryTestBatch) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  const RunResult t = run(kTester + " --model " + exp.string() +
                          " --visualize --set testing.problem.size=192");
  ASSERT_EQ(t.code, 0) << t.output;
  const fs::path test_dir = only_experiment(exp, "testing_configuration.yaml");
  const auto files = recordings(test_dir);
  ASSERT_EQ(files.size(), 3u) << "192 samples in batches of 64";
  const YAML::Node v = json(files.back());
  EXPECT_EQ(v["kind"].as<std::string>(), "test");
  EXPECT_EQ(v["batch"].as<int64_t>(), 2);
  EXPECT_EQ(shape_of(v["steps"], "cell_state"),
            (std::vector<int64_t>{22, 64}));  // 10 items
  ASSERT_EQ(run(kReport + " " + exp.string()).code, 0);
  const std::string html = read(exp / "report.html");
  EXPECT_HAS(html, "mip-tester --visualize");
  EXPECT_EQ(occurrences(html, "data-tensor=\"cell_state\""), 3u);
}

TEST(Report, VisualizeSampleChoosesWhichSampleOfTheBatchIsRecorded) {
  TempDir d;
  const fs::path exp = short_serial_recall_run(d);
  ASSERT_FALSE(exp.empty());
  // The tester's batches are the same at every run with one seed: sample 5
  // recorded twice is the same data, and not sample 0's.
  auto record = [&](const std::string& flags) {
    const RunResult t = run(kTester + " --model " + exp.string() +
                            " --seed 7 --set testing.problem.size=64 " + flags);
    EXPECT_EQ(t.code, 0) << t.output;
    fs::path newest;
    for (const auto& e : fs::directory_iterator(exp))
      if (fs::exists(e.path() / "testing_configuration.yaml") &&
          (newest.empty() || e.path().filename() > newest.filename()))
        newest = e.path();
    const auto files = recordings(newest);
    EXPECT_EQ(files.size(), 1u) << newest;
    return std::make_pair(t.output,
                          files.empty() ? YAML::Node() : json(files.front()));
  };
  const auto [out0, first] = record("--visualize --savetag s0");
  const auto [out5, fifth] =
      record("--visualize --visualize-sample 5 --savetag s5");
  const auto [again, fifth_again] =
      record("--visualize --visualize-sample 5 --savetag s5b");
  EXPECT_HAS(out5, "sample 5 of every test batch");
  EXPECT_EQ(first["sample"].as<int64_t>(), 0);
  EXPECT_EQ(fifth["sample"].as<int64_t>(), 5);
  // (Compared without printing: the recordings are long.)
  EXPECT_TRUE(YAML::Dump(fifth["inputs"]) == YAML::Dump(fifth_again["inputs"]));
  EXPECT_FALSE(YAML::Dump(fifth["inputs"]) == YAML::Dump(first["inputs"]));
  EXPECT_TRUE(YAML::Dump(fifth["steps"]) == YAML::Dump(fifth_again["steps"]));
  EXPECT_FALSE(YAML::Dump(fifth["steps"]) == YAML::Dump(first["steps"]));

  // Past the batch: said once, nothing recorded; without --visualize: an
  // error naming both flags.
  const RunResult big =
      run(kTester + " --model " + exp.string() +
          " --set testing.problem.size=128 --visualize --visualize-sample 64");
  ASSERT_EQ(big.code, 0) << big.output;
  EXPECT_EQ(occurrences(big.output,
                        "--visualize-sample 64: a testing batch "
                        "holds only 64 samples"),
            1u)
      << big.output;
  const RunResult alone =
      run(kTester + " --model " + exp.string() + " --visualize-sample 3");
  EXPECT_EQ(alone.code, 2) << alone.output;  // a usage error
  EXPECT_HAS(alone.output, "--visualize-sample chooses what --visualize");
  const RunResult negative = run(kTester + " --model " + exp.string() +
                                 " --visualize --visualize-sample -1");
  EXPECT_EQ(negative.code, 2) << negative.output;
  EXPECT_HAS(negative.output, "--visualize-sample must be");
}

}  // namespace report_test
}  // namespace mip::test
