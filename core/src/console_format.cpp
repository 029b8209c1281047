// Short statistics and the progress line (mip/core/console_format.hpp).
#include <mip/core/console_format.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include <mip/core/statistics.hpp>

namespace mip {

namespace {

bool integral(const std::string& format) {
  return format.size() >= 3 && format[format.size() - 2] == 'd' &&
         format.back() == '}';
}

/// The width an integer format asks for ("{:06d}" gives 6, "{:d}" 0); a
/// float's width is that of its long form, so it gives 0.
size_t spec_width(const std::string& format) {
  if (!integral(format))
    return 0;
  const size_t colon = format.find(':');
  if (colon == std::string::npos)
    return 0;
  size_t i = colon + 1;
  while (i < format.size() && format[i] == '0')
    ++i;
  size_t width = 0;
  for (; i < format.size() && format[i] >= '0' && format[i] <= '9'; ++i)
    width = width * 10 + static_cast<size_t>(format[i] - '0');
  return width;
}

std::string printf_string(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

}  // namespace

std::string short_value(const std::string& format, double value) {
  if (integral(format))
    return std::to_string(std::llround(value));
  const double a = std::fabs(value);
  if (a == 0.0 || !std::isfinite(value) || (a >= 1e-3 && a < 1e5))
    return printf_string("%.4f", value);
  return printf_string("%.3e", value);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "--:--";
  const auto s = static_cast<long long>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60,
                  s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  return buf;
}

std::string shell_quote(const std::string& word) {
  const bool plain =
      !word.empty() &&
      std::all_of(word.begin(), word.end(), [](unsigned char c) {
        return std::isalnum(c) ||
               std::string("_-./:=@%+,").find(static_cast<char>(c)) !=
                   std::string::npos;
      });
  if (plain)
    return word;
  std::string out = "'";
  for (char c : word)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string main_statistic(const StatisticsTable& table) {
  if (table.declared("acc"))
    return "acc";
  for (const auto& key : table.keys())
    if (key != "loss" && key != "episode" && key != "epoch" &&
        !integral(table.format(key)))
      return key;
  return "";
}

std::string ConsoleLines::cell(const std::string& key,
                               std::string value,
                               size_t min) {
  size_t& width = width_[key];
  width = std::max({width, min, value.size()});
  return std::string(width - value.size(), ' ') + value;
}

std::string ConsoleLines::line(const StatisticsCollector& col,
                               const std::string& tag) {
  std::string out;
  for (const auto& key : col.keys()) {
    const auto& values = col.values(key);
    if (values.empty())
      continue;
    const std::string& format = col.format(key);
    out += key + " " +
           cell(key, short_value(format, values.back()), spec_width(format)) +
           "; ";
  }
  return out + "[" + tag + "]";
}

std::string ConsoleLines::line(const StatisticsAggregator& agg,
                               const std::string& tag) {
  std::string out;
  for (const auto& key : agg.keys()) {
    const std::string& format = agg.format(key);
    out += key + " " +
           cell(key, short_value(format, agg.get(key)), spec_width(format)) +
           "; ";
  }
  return out + "[" + tag + "]";
}

std::string render_progress(const ProgressView& v, int width) {
  const size_t room = static_cast<size_t>(std::max(width - 1, 10));
  const bool bounded = v.total > 0;
  const double fraction = bounded ? std::clamp(static_cast<double>(v.done) /
                                                   static_cast<double>(v.total),
                                               0.0, 1.0)
                                  : 0.0;
  char buf[64];
  // The label, the percentage and the counter always show; the bar and the
  // other parts where they fit.
  std::string head = v.label;
  head.resize(std::max<size_t>(head.size(), 10), ' ');
  if (bounded) {
    std::snprintf(buf, sizeof buf, "%3d%% ",
                  static_cast<int>(std::floor(100.0 * fraction)));
    head += buf;
  }
  std::string counter = std::to_string(v.done);
  if (bounded)
    counter += "/" + std::to_string(v.total);
  // Each part with how much it matters: space runs out, the least goes.
  std::vector<std::pair<int, std::string>> parts;
  if (v.epochs > 0)
    parts.emplace_back(
        2, "epoch " + std::to_string(v.epoch) + "/" + std::to_string(v.epochs));
  if (v.has_loss)
    parts.emplace_back(4, "loss " + short_value("{}", v.loss));
  if (v.has_stat && !v.stat.empty())
    parts.emplace_back(3,
                       v.stat + " " + short_value(v.stat_format, v.stat_value));
  if (v.rate > 0) {
    std::snprintf(buf, sizeof buf, v.rate < 10 ? "%.2f " : "%.1f ", v.rate);
    parts.emplace_back(1, buf + v.rate_unit);
  }
  if (bounded)
    parts.emplace_back(
        5, "ETA " + (v.rate > 0
                         ? format_duration(
                               static_cast<double>(v.total - v.done) / v.rate)
                         : std::string("--:--")));
  size_t bar = bounded ? 20 : 0;
  auto length = [&] {
    size_t n = head.size() + (bar ? bar + 3 : 0) + counter.size();
    for (const auto& p : parts)
      n += 2 + p.second.size();
    return n;
  };
  auto shrink_bar = [&](size_t least) {
    while (bar > least && length() > room)
      --bar;
  };
  auto drop_below = [&](int level) {
    while (length() > room) {
      auto least = std::min_element(
          parts.begin(), parts.end(),
          [](const auto& a, const auto& b) { return a.first < b.first; });
      if (least == parts.end() || least->first >= level)
        return;
      parts.erase(least);
    }
  };
  shrink_bar(std::min<size_t>(bar, 10));
  drop_below(4);  // the rate, the statistic, the epoch
  shrink_bar(std::min<size_t>(bar, 5));
  if (length() > room)
    bar = 0;
  drop_below(6);  // the loss, then the ETA
  std::string out = head;
  if (bar) {
    const auto filled = static_cast<size_t>(std::floor(fraction * bar));
    out +=
        "[" + std::string(filled, '#') + std::string(bar - filled, '.') + "] ";
  }
  out += counter;
  for (const auto& p : parts)
    out += "  " + p.second;
  if (out.size() > room)
    out.resize(room);
  return out;
}

}  // namespace mip
