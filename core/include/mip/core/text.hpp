#pragma once

// Text helpers shared by the framework: "did you mean" suggestions, splitting
// and trimming lists, `~` expansion. No LibTorch here.

#include <cstddef>
#include <string>
#include <vector>

namespace mip {

/// Case-insensitive Levenshtein distance between `a` and `b`.
size_t edit_distance(const std::string& a, const std::string& b);

/// The candidates close to `word` (at most 3), best first: within an edit
/// distance of max(2, size / 3), or one a prefix of the other (both longer
/// than 2 characters). Empty when none is close enough.
std::vector<std::string> closest(const std::string& word,
                                 const std::vector<std::string>& candidates);

/// "; did you mean [best]?" naming the closest candidate, or "" when none is
/// close enough; appended to an error message as is.
std::string did_you_mean(const std::string& word,
                         const std::vector<std::string>& candidates);

/// "did you mean [a] or [b]?" naming every close candidate (at most 3), or ""
/// when none is close enough; no leading separator.
std::string did_you_mean_any(const std::string& word,
                             const std::vector<std::string>& candidates);

/// `text` without leading and trailing spaces, tabs, CRs and LFs.
std::string trim(const std::string& text);

/// Splits at every `separator`, keeping each item as is, empty ones too:
/// "a,,b," gives {"a", "", "b", ""} and "" gives {""} (CSV cells).
std::vector<std::string> split(const std::string& text, char separator);

/// Splits at every `separator`, trims each item and drops the empty ones:
/// " a, b,,c " gives {"a", "b", "c"} (user-written lists).
std::vector<std::string> split_list(const std::string& text, char separator);

/// Splits at every `separator` and drops the empty items, trimming nothing:
/// "a::b c" gives {"a", "b c"} with ':' (search paths, stored keys).
std::vector<std::string> split_skip_empty(const std::string& text,
                                          char separator);

/// Expands a leading `~` (alone or before '/') to $HOME; any other path comes
/// back unchanged ("~user" included). Throws mip::ConfigError when the path
/// needs HOME and HOME is unset or empty.
std::string expand_user(const std::string& path);

}  // namespace mip
