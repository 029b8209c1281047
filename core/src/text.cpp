#include <mip/core/text.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <utility>

#include <mip/sdk/error.hpp>

namespace mip {

size_t edit_distance(const std::string& a, const std::string& b) {
  const auto lower = [](char c) {
    return std::tolower(static_cast<unsigned char>(c));
  };
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t sub =
          prev[j - 1] + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> closest(const std::string& word,
                                 const std::vector<std::string>& candidates) {
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    const bool prefix = c.size() > 2 && word.size() > 2 &&
                        (c.rfind(word, 0) == 0 || word.rfind(c, 0) == 0);
    if (d <= limit || prefix)
      scored.emplace_back(d, c);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (const auto& s : scored) {
    if (out.size() == 3)
      break;
    if (std::find(out.begin(), out.end(), s.second) == out.end())
      out.push_back(s.second);
  }
  return out;
}

std::string did_you_mean(const std::string& word,
                         const std::vector<std::string>& candidates) {
  const auto best = closest(word, candidates);
  return best.empty() ? "" : "; did you mean [" + best[0] + "]?";
}

std::string did_you_mean_any(const std::string& word,
                             const std::vector<std::string>& candidates) {
  const auto best = closest(word, candidates);
  if (best.empty())
    return "";
  std::string hint = "did you mean";
  for (size_t i = 0; i < best.size(); ++i)
    hint += (i ? " or [" : " [") + best[i] + "]";
  return hint + "?";
}

std::string trim(const std::string& text) {
  const auto b = text.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return "";
  const auto e = text.find_last_not_of(" \t\r\n");
  return text.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  size_t begin = 0;
  for (;;) {
    const size_t end = text.find(separator, begin);
    if (end == std::string::npos) {
      out.push_back(text.substr(begin));
      return out;
    }
    out.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
}

std::vector<std::string> split_list(const std::string& text, char separator) {
  std::vector<std::string> out;
  for (const auto& item : split(text, separator))
    if (auto t = trim(item); !t.empty())
      out.push_back(std::move(t));
  return out;
}

std::vector<std::string> split_skip_empty(const std::string& text,
                                          char separator) {
  std::vector<std::string> out;
  for (auto& item : split(text, separator))
    if (!item.empty())
      out.push_back(std::move(item));
  return out;
}

std::string expand_user(const std::string& path) {
  if (path.empty() || path[0] != '~' || (path.size() > 1 && path[1] != '/'))
    return path;
  const char* home = std::getenv("HOME");
  // Without HOME, "~/x" would become "/x": a run written under the root.
  MIP_CHECK(home && *home, ConfigError, "[", path, "] starts with ~ but HOME ",
            home ? "is empty" : "is not set",
            "; set HOME or write the full path");
  return std::string(home) + path.substr(1);
}

}  // namespace mip
