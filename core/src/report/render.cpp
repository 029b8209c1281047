// mip-report: the page. Curves are inline SVG paths (one
// <path class="curve" data-section=... data-stat=...> per statistic and run),
// heat maps are SVG rectangles coloured for step 0, and a few lines of
// inline JavaScript recolour them when a time slider moves.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "report_data.hpp"

namespace mip::report {

namespace {

constexpr double kChartW = 360, kChartH = 200;
constexpr double kLeft = 62, kRight = 12, kTop = 24, kBottom = 30;
/// Curves with more points are drawn from each bucket's min and max.
constexpr size_t kMaxPoints = 2400;
/// Colour levels of the heat maps (one character each in the page's data).
constexpr int kLevels = 64;
constexpr const char* kLevelChars =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/";
/// Configuration keys that differ between runs shown in the runs table.
constexpr size_t kMaxKeyColumns = 12;
constexpr const char* kRunColours[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string esc(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v, const char* fmt = "%.4g") {
  if (!std::isfinite(v))
    return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string coord(double v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

const char* run_colour(size_t i) {
  return kRunColours[i % (sizeof kRunColours / sizeof *kRunColours)];
}

/// A colour map from dark blue through green to yellow (viridis-like).
std::string level_colour(int level) {
  static const double stops[][3] = {{68, 1, 84},
                                    {59, 82, 139},
                                    {33, 145, 140},
                                    {94, 201, 98},
                                    {253, 231, 37}};
  const double x = static_cast<double>(level) / (kLevels - 1) * 4.0;
  const int i = std::min(3, static_cast<int>(x));
  const double f = x - i;
  char buf[8];
  std::snprintf(
      buf, sizeof buf, "#%02x%02x%02x",
      static_cast<int>(stops[i][0] + f * (stops[i + 1][0] - stops[i][0])),
      static_cast<int>(stops[i][1] + f * (stops[i + 1][1] - stops[i][1])),
      static_cast<int>(stops[i][2] + f * (stops[i + 1][2] - stops[i][2])));
  return buf;
}

// --- curves
// -------------------------------------------------------------------

struct Line {
  const std::vector<double>* x;
  const std::vector<double>* y;
  std::string colour;
  std::string run;  ///< the run's name (several runs), else ""
};

/// The indices drawn of a curve of `n` points.
std::vector<size_t> drawn_points(const std::vector<double>& y) {
  std::vector<size_t> idx;
  if (y.size() <= kMaxPoints) {
    for (size_t i = 0; i < y.size(); ++i)
      idx.push_back(i);
    return idx;
  }
  const size_t buckets = kMaxPoints / 2;
  for (size_t b = 0; b < buckets; ++b) {
    const size_t from = b * y.size() / buckets,
                 to = (b + 1) * y.size() / buckets;
    size_t lo = from, hi = from;
    for (size_t i = from; i < to; ++i) {
      if (y[i] < y[lo])
        lo = i;
      if (y[i] > y[hi])
        hi = i;
    }
    idx.push_back(std::min(lo, hi));
    if (lo != hi)
      idx.push_back(std::max(lo, hi));
  }
  return idx;
}

/// One chart: a statistic of a section over the episodes, one curve per
/// line; the best model's episode marked when given.
std::string chart(const std::string& section,
                  const std::string& stat,
                  const std::vector<Line>& lines,
                  int64_t best_episode,
                  const std::string& best_text) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0,
         y1 = -x0;
  for (const auto& l : lines)
    for (size_t i = 0; i < l.y->size(); ++i) {
      const double x = (*l.x)[i], y = (*l.y)[i];
      if (!std::isfinite(x) || !std::isfinite(y))
        continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  if (!std::isfinite(x0)) {
    x0 = 0;
    x1 = 1;
    y0 = 0;
    y1 = 1;
  }
  if (x1 == x0) {  // one episode: in the middle
    x0 -= 1;
    x1 += 1;
  }
  if (y1 == y0) {  // a constant: in the middle
    const double pad = y0 != 0 ? 0.5 * std::abs(y0) : 1.0;
    y0 -= pad;
    y1 += pad;
  }
  const double w = kChartW - kLeft - kRight, h = kChartH - kTop - kBottom;
  const auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * w; };
  const auto py = [&](double y) { return kTop + (y1 - y) / (y1 - y0) * h; };

  std::ostringstream os;
  os << "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
        "width=\""
     << kChartW << "\" height=\"" << kChartH << "\" viewBox=\"0 0 " << kChartW
     << " " << kChartH << "\" data-section=\"" << esc(section)
     << "\" data-stat=\"" << esc(stat) << "\">"
     << "<text class=\"title\" x=\"" << kLeft << "\" y=\"15\">" << esc(stat)
     << "</text>"
     << "<rect class=\"frame\" x=\"" << kLeft << "\" y=\"" << kTop
     << "\" width=\"" << w << "\" height=\"" << h << "\"/>";
  for (int k = 0; k <= 2; ++k) {
    const double y = y0 + (y1 - y0) * k / 2.0;
    os << "<text class=\"tick\" x=\"" << kLeft - 4 << "\" y=\""
       << coord(py(y) + 4) << "\" text-anchor=\"end\">" << num(y) << "</text>";
  }
  os << "<text class=\"tick\" x=\"" << kLeft << "\" y=\"" << kChartH - 12
     << "\">" << num(x0, "%.0f") << "</text><text class=\"tick\" x=\""
     << kLeft + w << "\" y=\"" << kChartH - 12 << "\" text-anchor=\"end\">"
     << num(x1, "%.0f") << "</text><text class=\"tick\" x=\"" << kLeft + w / 2
     << "\" y=\"" << kChartH - 2 << "\" text-anchor=\"middle\">episode</text>";
  if (best_episode >= 0 && best_episode >= x0 && best_episode <= x1)
    os << "<line class=\"best\" x1=\"" << coord(px(best_episode)) << "\" x2=\""
       << coord(px(best_episode)) << "\" y1=\"" << kTop << "\" y2=\""
       << kTop + h << "\"><title>" << esc(best_text) << "</title></line>";
  std::string dots;
  for (const auto& l : lines) {
    std::string d;
    bool pen = false;
    for (const size_t i : drawn_points(*l.y)) {
      const double x = (*l.x)[i], y = (*l.y)[i];
      if (!std::isfinite(x) || !std::isfinite(y)) {
        pen = false;
        continue;
      }
      const std::string p = coord(px(x)) + "," + coord(py(y));
      d += (pen ? " L" : (d.empty() ? "M" : " M")) + p;
      pen = true;
      if (l.y->size() == 1)  // one row (an aggregate): a marker too
        dots += "<circle class=\"point\" cx=\"" + coord(px(x)) + "\" cy=\"" +
                coord(py(y)) + "\" r=\"3\" fill=\"" + l.colour + "\"/>";
    }
    os << "<path class=\"curve\" data-section=\"" << esc(section)
       << "\" data-stat=\"" << esc(stat) << "\"";
    if (!l.run.empty())
      os << " data-run=\"" << esc(l.run) << "\"";
    os << " stroke=\"" << l.colour << "\" d=\"" << d << "\">";
    if (!l.run.empty())
      os << "<title>" << esc(l.run) << "</title>";
    os << "</path>";
    if (section.rfind("validation", 0) == 0 && stat == "loss" &&
        best_episode >= 0 && l.run.empty())
      for (size_t i = 0; i < l.y->size(); ++i)
        if ((*l.x)[i] == best_episode && std::isfinite((*l.y)[i])) {
          os << "<circle class=\"best-point\" cx=\"" << coord(px(best_episode))
             << "\" cy=\"" << coord(py((*l.y)[i])) << "\" r=\"4\"><title>"
             << esc(best_text) << "</title></circle>";
          break;
        }
  }
  os << dots << "</svg></figure>\n";
  return os.str();
}

/// The x axis of a table: its episode column, else the row number.
std::vector<double> x_of(const Table& t) {
  if (const auto* e = t.column("episode"))
    return *e;
  std::vector<double> x(t.rows());
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<double>(i);
  return x;
}

/// The curves of every statistic of `sections` (one chart per statistic),
/// overlaid across `runs` when there are several.
std::string curves(const std::vector<const RunData*>& runs, bool several) {
  // Sections and their statistics, in the order first met.
  std::vector<std::string> sections;
  std::map<std::string, std::vector<std::string>> stats;
  for (const RunData* r : runs)
    for (const auto& t : r->tables) {
      if (std::find(sections.begin(), sections.end(), t.section) ==
          sections.end())
        sections.push_back(t.section);
      auto& s = stats[t.section];
      for (const auto& c : t.columns)
        if (c != "episode" && std::find(s.begin(), s.end(), c) == s.end())
          s.push_back(c);
    }
  // The usual sections first, in the loop's order; others after.
  const auto rank = [](const std::string& s) {
    static const char* order[] = {"training",         "validation",
                                  "training_set_agg", "validation_set_agg",
                                  "testing",          "testing_set_agg"};
    for (size_t i = 0; i < sizeof order / sizeof *order; ++i)
      if (s == order[i])
        return i;
    return sizeof order / sizeof *order;
  };
  std::stable_sort(sections.begin(), sections.end(),
                   [&](const std::string& a, const std::string& b) {
                     return rank(a) < rank(b);
                   });
  std::ostringstream os;
  std::vector<std::vector<double>> xs(runs.size());
  for (const auto& section : sections) {
    bool rows = false;
    for (const RunData* r : runs)
      if (const Table* t = r->table(section))
        rows = rows || t->rows() > 0;
    os << "<section class=\"curves\" data-section=\"" << esc(section)
       << "\"><h3>" << esc(section) << "</h3>\n";
    if (!rows) {
      os << "<p class=\"note\">No rows yet.</p></section>\n";
      continue;
    }
    for (size_t i = 0; i < runs.size(); ++i)
      if (const Table* t = runs[i]->table(section))
        xs[i] = x_of(*t);
    for (const auto& stat : stats[section]) {
      std::vector<Line> lines;
      for (size_t i = 0; i < runs.size(); ++i)
        if (const Table* t = runs[i]->table(section))
          if (const auto* y = t->column(stat))
            lines.push_back({&xs[i], y, several ? run_colour(i) : "#1f77b4",
                             several ? runs[i]->name : ""});
      const RunData& r = *runs.front();
      const int64_t best = several ? -1 : r.best_episode;
      os << chart(section, stat, lines, best,
                  "best model (model_best.pt): episode " +
                      std::to_string(r.best_episode) + ", validation loss " +
                      num(r.best_loss, "%.6g"));
    }
    for (const RunData* r : runs)
      if (const Table* t = r->table(section); t && t->cut_last_line)
        os << "<p class=\"note\">" << esc(r->name) << "/" << esc(t->file)
           << ": the last row was being written and is left out.</p>";
    os << "</section>\n";
  }
  return os.str();
}

// --- tables
// -------------------------------------------------------------------

std::string key_value_table(
    const std::vector<std::pair<std::string, std::string>>& rows,
    const char* css) {
  std::ostringstream os;
  os << "<table class=\"" << css << "\">";
  for (const auto& [k, v] : rows)
    os << "<tr><th>" << esc(k) << "</th><td>" << esc(v) << "</td></tr>";
  os << "</table>\n";
  return os.str();
}

/// The last row of each aggregate table of a test (its results).
std::string test_results(const RunData& test) {
  std::ostringstream os;
  for (const auto& t : test.tables) {
    if (t.section.find("_set_agg") == std::string::npos || t.rows() == 0)
      continue;
    os << "<table class=\"results\" data-section=\"" << esc(t.section)
       << "\"><tr>";
    for (const auto& c : t.columns)
      os << "<th>" << esc(c) << "</th>";
    os << "</tr>";
    for (size_t r = 0; r < t.rows(); ++r) {
      os << "<tr>";
      for (const auto& v : t.values)
        os << "<td>" << num(v[r], "%.6g") << "</td>";
      os << "</tr>";
    }
    os << "</table>\n";
  }
  return os.str();
}

std::string pre_block(const std::string& title, const std::string& text) {
  return "<details class=\"file\"><summary>" + esc(title) + "</summary><pre>" +
         esc(text) + "</pre></details>\n";
}

// --- heat maps
// ----------------------------------------------------------------

/// Colour levels of `data` between its min and max (NaN: -1).
std::vector<int> levels(const std::vector<double>& data,
                        size_t from,
                        size_t count,
                        double lo,
                        double hi) {
  std::vector<int> out(count);
  for (size_t i = 0; i < count; ++i) {
    const double v = data[from + i];
    if (!std::isfinite(v)) {
      out[i] = -1;
      continue;
    }
    const double f = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    out[i] =
        std::clamp(static_cast<int>(f * (kLevels - 1) + 0.5), 0, kLevels - 1);
  }
  return out;
}

std::string level_string(const std::vector<int>& lv) {
  std::string s;
  for (const int l : lv)
    s += l < 0 ? '.' : kLevelChars[l];
  return s;
}

std::pair<double, double> range_of(const std::vector<double>& data) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const double v : data)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  if (!std::isfinite(lo))
    return {0, 0};
  return {lo, hi};
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// A heat map of `rows` x `cols` cells coloured by `lv` (row-major).
/// `column_major`: `lv` holds the cells column after column.
std::string heatmap_svg(const std::string& id,
                        const std::string& tensor,
                        const std::string& kind,
                        int64_t rows,
                        int64_t cols,
                        const std::vector<int>& lv,
                        bool column_major,
                        bool cursor) {
  const double cell =
      std::max(2.0, std::min({14.0, 420.0 / static_cast<double>(cols),
                              260.0 / static_cast<double>(rows)}));
  const double w = cell * cols, h = cell * rows;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"heatmap\" id=\""
     << id << "\" data-tensor=\"" << esc(tensor) << "\" data-kind=\"" << kind
     << "\" width=\"" << coord(w) << "\" height=\"" << coord(h) << "\">";
  os << "<g class=\"cells\">";
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i =
          static_cast<size_t>(column_major ? c * rows + r : r * cols + c);
      const int l = lv[i];
      os << "<rect x=\"" << coord(c * cell) << "\" y=\"" << coord(r * cell)
         << "\" width=\"" << coord(cell) << "\" height=\"" << coord(cell)
         << "\" fill=\"" << (l < 0 ? "#bbbbbb" : level_colour(l)) << "\"/>";
    }
  os << "</g>";
  if (cursor)
    os << "<rect class=\"cursor\" x=\"0\" y=\"0\" width=\"" << coord(cell)
       << "\" height=\"" << coord(h) << "\" data-cell=\"" << coord(cell)
       << "\"/>";
  os << "</svg>";
  return os.str();
}

/// rows x cols of a matrix of `shape` (leading dimensions as rows).
std::pair<int64_t, int64_t> matrix_of(const std::vector<int64_t>& shape,
                                      size_t from) {
  if (shape.size() <= from)
    return {1, 1};
  int64_t rows = 1;
  for (size_t d = from; d + 1 < shape.size(); ++d)
    rows *= shape[d];
  return {rows, shape.back()};
}

struct Heatmaps {
  std::ostringstream html;
  std::ostringstream data;  ///< the JavaScript data of the step tensors
  int next_id = 0;
};

/// A tensor of the batch or the predictions: [T, D] with time along x (a
/// cursor follows the slider when it has `steps` steps), else a matrix.
void sequence_heatmap(const RecordedTensor& t,
                      const std::string& group,
                      int64_t steps,
                      Heatmaps& out) {
  if (t.shape.empty())
    return;
  const auto [lo, hi] = range_of(t.data);
  const std::vector<int> lv = levels(t.data, 0, t.data.size(), lo, hi);
  const std::string id = "hm" + std::to_string(out.next_id++);
  std::string svg;
  if (t.shape.size() <= 2) {
    const int64_t len = t.shape[0],
                  width = t.shape.size() == 2 ? t.shape[1] : 1;
    svg = heatmap_svg(id, t.name, group, width, len, lv, true,
                      steps > 1 && len == steps);
  } else {
    const auto [rows, cols] = matrix_of(t.shape, 0);
    svg = heatmap_svg(id, t.name, group, rows, cols, lv, false, false);
  }
  out.html << "<figure class=\"tensor\"><figcaption>" << esc(group) << ": "
           << esc(t.name) << " " << shape_text(t.shape) << ", " << num(lo)
           << " … " << num(hi) << "</figcaption>" << svg << "</figure>\n";
}

/// A tensor published at each step: one matrix per step, recoloured by the
/// slider.
void step_heatmap(const RecordedTensor& t, Heatmaps& out) {
  if (t.shape.empty() || t.shape[0] == 0)
    return;
  const int64_t steps = t.shape[0];
  const auto [rows, cols] = matrix_of(t.shape, 1);
  const size_t per_step = static_cast<size_t>(rows * cols);
  const auto [lo, hi] = range_of(t.data);
  const std::string id = "hm" + std::to_string(out.next_id++);
  out.data << "\"" << id << "\":[";
  std::vector<int> first;
  for (int64_t s = 0; s < steps; ++s) {
    const std::vector<int> lv =
        levels(t.data, static_cast<size_t>(s) * per_step, per_step, lo, hi);
    if (s == 0)
      first = lv;
    out.data << (s ? "," : "") << "\"" << level_string(lv) << "\"";
  }
  out.data << "],\n";
  out.html << "<figure class=\"tensor\"><figcaption>" << esc(t.name) << " "
           << shape_text(t.shape) << " (steps first), " << num(lo) << " … "
           << num(hi) << "</figcaption>"
           << heatmap_svg(id, t.name, "step", rows, cols, first, false, false)
           << "</figure>\n";
}

std::string recordings_html(const std::vector<Recording>& recs,
                            Heatmaps& maps) {
  std::ostringstream os;
  for (const auto& r : recs) {
    int64_t steps = 0;
    for (const auto& t : r.steps)
      steps = std::max(steps, t.shape.empty() ? 0 : t.shape[0]);
    if (steps == 0)
      for (const auto& t : r.inputs)
        if (t.shape.size() == 2)
          steps = std::max(steps, t.shape[0]);
    os << "<section class=\"recording\" data-file=\"" << esc(r.file)
       << "\" data-section=\"" << esc(r.section) << "\"><h4>" << esc(r.kind)
       << ", episode " << r.episode << ", batch " << r.batch << ", sample "
       << r.sample << " <span class=\"note\">(" << esc(r.file)
       << ")</span></h4>\n";
    if (steps > 1)
      os << "<p><input type=\"range\" class=\"time\" min=\"0\" max=\""
         << steps - 1 << "\" value=\"0\"> <span class=\"step\">step 0 of "
         << steps << "</span></p>\n";
    maps.html.str("");
    for (const auto& t : r.inputs)
      sequence_heatmap(t, "input", steps, maps);
    for (const auto& t : r.predictions)
      sequence_heatmap(t, "prediction", steps, maps);
    for (const auto& t : r.steps)
      step_heatmap(t, maps);
    os << "<div class=\"maps\">" << maps.html.str() << "</div>\n";
    if (r.steps.empty())
      os << "<p class=\"note\">The model (" << esc(r.model)
         << ") publishes no per-step tensors.</p>";
    for (const auto& s : r.skipped)
      os << "<p class=\"note\">Left out: " << esc(s) << "</p>";
    os << "</section>\n";
  }
  return os.str();
}

// --- the page
// -----------------------------------------------------------------

constexpr const char* kStyle = R"css(
body{font-family:sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.4em}h2{border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:2px 8px;text-align:left;font-size:.9em}
.chart{display:inline-block;margin:4px}svg .frame{fill:none;stroke:#999}
svg .title{font-size:12px;font-weight:bold}svg .tick{font-size:10px;fill:#555}
path.curve{fill:none;stroke-width:1.6;stroke-linejoin:round;stroke-linecap:round}
line.best{stroke:#e45756;stroke-dasharray:4 3;stroke-width:1.5}circle.best-point{fill:#e45756}
.note{color:#777;font-size:.85em}pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:.85em}
.tensor{display:inline-block;vertical-align:top;margin:4px 10px 4px 0}.tensor figcaption{font-size:.8em}
rect.cursor{fill:none;stroke:#e45756;stroke-width:2}.swatch{display:inline-block;width:1em;height:.6em}
table.sortable th[data-column]{cursor:pointer}th[data-order=ascending]:after{content:" \25B2"}th[data-order=descending]:after{content:" \25BC"}
)css";

/// Recolours the step heat maps and moves the cursors when a slider moves.
constexpr const char* kScript = R"js(
(function(){
var C="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/";
var P=JSON.parse(document.getElementById("palette").textContent);
var D=JSON.parse(document.getElementById("steps").textContent);
var H=location.hash.match(/step=(\d+)/),F=location.hash.match(/focus=([\w-]+)/);
if(F)document.querySelectorAll("section.part").forEach(function(p){if(p.id!=F[1])p.style.display="none";});
document.querySelectorAll("section.recording").forEach(function(sec){
  var s=sec.querySelector("input.time");if(!s)return;
  s.addEventListener("input",function(){
    var t=+s.value;sec.querySelector(".step").textContent="step "+t+" of "+(+s.max+1);
    sec.querySelectorAll("svg.heatmap").forEach(function(svg){
      var cur=svg.querySelector("rect.cursor");
      if(cur)cur.setAttribute("x",t*cur.getAttribute("data-cell"));
      var d=D[svg.id];if(!d)return;var str=d[Math.min(t,d.length-1)];
      var r=svg.querySelectorAll("g.cells rect");
      for(var i=0;i<r.length;i++){var c=str.charAt(i);r[i].setAttribute("fill",c=="."?"#bbbbbb":P[C.indexOf(c)]);}
    });
  });
  if(H){s.value=Math.min(+H[1],+s.max);s.dispatchEvent(new Event("input"));}
});
document.querySelectorAll("table.sortable").forEach(function(t){
  var hs=t.tHead.rows[0].cells;
  Array.prototype.forEach.call(hs,function(h,i){
    if(!h.hasAttribute("data-column"))return;
    h.addEventListener("click",function(){
      var up=h.getAttribute("data-order")!="ascending";
      Array.prototype.forEach.call(hs,function(o){o.removeAttribute("data-order");});
      h.setAttribute("data-order",up?"ascending":"descending");
      var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);
      var key=function(r){var x=r.cells[i].textContent;return x===""?null:(isNaN(+x)?x:+x);};
      rows.sort(function(p,q){
        var a=key(p),c=key(q);
        if(a===null||c===null)return a===c?0:(a===null?1:-1);
        if(typeof a!=typeof c)return typeof a=="number"?-1:1;
        var d=typeof a=="number"?a-c:a.localeCompare(c);
        return up?d:-d;
      });
      rows.forEach(function(r){b.appendChild(r);});
    });
  });
});
var S=location.hash.match(/sort=(-?)([^&]+)/);
if(S)document.querySelectorAll("table.sortable th").forEach(function(h){
  if(h.getAttribute("data-column")!=decodeURIComponent(S[2]))return;
  h.click();if(S[1])h.click();
});
})();
)js";

/// The grid analysis (mip-grid-analyzer's rows) as a table sorted by a
/// click on a header (again: the other way); each row's swatch is its run's
/// colour on the curves.
std::string runs_table(const std::vector<RunData>& runs,
                       const GridAnalysis& analysis) {
  std::ostringstream os;
  os << "<p class=\"note\">mip-grid-analyzer's table: one row per test (per "
        "run without a test). Click a header to sort by it, again to "
        "reverse.</p>\n<table class=\"runs sortable\"><thead><tr><th></th>";
  for (const auto& c : analysis.columns)
    os << "<th data-column=\"" << esc(c) << "\">" << esc(c) << "</th>";
  os << "</tr></thead><tbody>\n";
  const int experiment = analysis.column("experiment");
  for (const auto& row : analysis.rows) {
    const std::string& name = row[static_cast<size_t>(experiment)];
    size_t colour = 0;
    while (colour < runs.size() && runs[colour].name != name)
      ++colour;
    os << "<tr class=\"run\" data-run=\"" << esc(name)
       << "\"><td><span class=\"swatch\" style=\"background:"
       << (colour < runs.size() ? run_colour(colour) : "#ffffff")
       << "\"></span></td>";
    for (const auto& v : row)
      os << "<td>" << esc(v) << "</td>";
    os << "</tr>\n";
  }
  os << "</tbody></table>\n";
  for (const auto& w : analysis.warnings)
    os << "<p class=\"note warning\">Could not read " << esc(w) << "</p>\n";
  return os.str();
}

/// A part of the page: `<section class="part" id=...><h2>title</h2>...`.
/// The page opened with #focus=<id> shows only that part.
std::string part(const std::string& id,
                 const std::string& title,
                 const std::string& content) {
  return "<section class=\"part\" id=\"" + id + "\"><h2>" + esc(title) +
         "</h2>\n" + content + "</section>\n";
}

/// One run's parts: status, curves, tests, recordings, files; their ids
/// start with `prefix`.
std::string run_html(const RunData& r,
                     Heatmaps& maps,
                     const std::string& prefix) {
  std::ostringstream status;
  if (r.status.empty())
    status << "<p class=\"note\">No status.yaml.</p>\n";
  else
    status << key_value_table(r.status, "status");
  if (r.best_episode >= 0)
    status << "<p class=\"best-model\">Best model (models/model_best.pt): "
              "episode "
           << r.best_episode << ", validation loss " << num(r.best_loss, "%.6g")
           << " — the dashed red line on the curves.</p>\n";
  std::string out = part(prefix + "status", "Status", status.str()) +
                    part(prefix + "curves", "Curves", curves({&r}, false));
  if (!r.tests.empty()) {
    std::ostringstream tests;
    for (const auto& t : r.tests) {
      tests << "<h3>" << esc(t.name) << "</h3>\n"
            << key_value_table(t.status, "status") << test_results(t)
            << curves({&t}, false);
      if (!t.recordings.empty())
        tests << "<h4>Visualisation (mip-tester --visualize)</h4>\n"
              << recordings_html(t.recordings, maps);
      tests << pre_block(t.config_file, t.config_text);
    }
    out += part(prefix + "tests", "Tests", tests.str());
  }
  if (!r.recordings.empty())
    out += part(prefix + "visualisation", "Visualisation (--visualize)",
                "<p class=\"note\">Sample 0 of each recorded batch: inputs "
                "and predictions along time (the red frame is the slider's "
                "step), and the tensors the model published at each "
                "step.</p>\n" +
                    recordings_html(r.recordings, maps));
  out += part(prefix + "configuration", "Configuration",
              "<pre class=\"config\">" + esc(r.config_text) + "</pre>\n");
  if (!r.other_yaml.empty()) {
    std::string files;
    for (const auto& [name, text] : r.other_yaml)
      files += "<h3>" + esc(name) + "</h3><pre class=\"yaml\" data-file=\"" +
               esc(name) + "\">" + esc(text) + "</pre>\n";
    out += part(prefix + "other-files", "Other files", files);
  }
  return out;
}

}  // namespace

std::string render_page(const std::string& title,
                        const std::vector<RunData>& runs,
                        const GridAnalysis* analysis) {
  Heatmaps maps;
  std::ostringstream body;
  if (runs.size() == 1) {
    body << run_html(runs.front(), maps, "");
  } else {
    body << part("runs", "Runs",
                 analysis ? runs_table(runs, *analysis)
                          : "<p class=\"note\">Only test folders: no "
                            "experiment to analyse.</p>\n");
    std::vector<const RunData*> all;
    for (const auto& r : runs)
      all.push_back(&r);
    body << part("curves", "Curves",
                 "<p class=\"note\">One colour per run (the table's).</p>\n" +
                     curves(all, true));
    std::string tests;
    for (const auto& r : runs)
      for (const auto& t : r.tests)
        tests += "<h3>" + esc(t.name) + "</h3>\n" + test_results(t);
    if (!tests.empty())
      body << part("tests", "Tests", tests);
    std::string details;
    for (size_t i = 0; i < runs.size(); ++i)
      details += "<details class=\"run\"><summary>" + esc(runs[i].name) +
                 "</summary>\n" +
                 run_html(runs[i], maps, "run" + std::to_string(i) + "-") +
                 "</details>\n";
    body << part("details", "Runs in detail", details);
  }
  std::ostringstream palette;
  palette << "[";
  for (int l = 0; l < kLevels; ++l)
    palette << (l ? "," : "") << "\"" << level_colour(l) << "\"";
  palette << "]";
  std::string steps = maps.data.str();
  if (steps.size() >= 2)
    steps.erase(steps.size() - 2, 1);  // the last comma
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
     << "<title>" << esc(title) << "</title><style>" << kStyle
     << "</style></head>\n<body>\n<h1>" << esc(title) << "</h1>\n"
     << body.str() << "<script type=\"application/json\" id=\"palette\">"
     << palette.str()
     << "</script>\n<script type=\"application/json\" id=\"steps\">{" << steps
     << "}</script>\n<script>" << kScript << "</script>\n"
     << "</body></html>\n";
  return os.str();
}

}  // namespace mip::report
