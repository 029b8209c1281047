// The text helpers: suggestions, splitting and trimming lists, `~` expansion.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <mip/core/text.hpp>
#include <mip/sdk/error.hpp>

namespace mip {
// Named: each test executable is one unity build.
namespace text_test {

using Strings = std::vector<std::string>;

/// Sets (or unsets, with nullopt) $HOME for one test; restores it after.
class HomeGuard {
 public:
  explicit HomeGuard(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("HOME"))
      old_ = old;
    if (value)
      ::setenv("HOME", value->c_str(), 1);
    else
      ::unsetenv("HOME");
  }
  ~HomeGuard() {
    if (old_)
      ::setenv("HOME", old_->c_str(), 1);
    else
      ::unsetenv("HOME");
  }
  HomeGuard(const HomeGuard&) = delete;
  HomeGuard& operator=(const HomeGuard&) = delete;

 private:
  std::optional<std::string> old_;
};

TEST(EditDistance, CountsEditsIgnoringCase) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("LSTM", "lstm"), 0u);
}

TEST(Closest, BestFirstAtMostThreeAndNoneWhenFar) {
  EXPECT_EQ(closest("SerialRecal", {"SerialRecall", "ReverseRecall", "LSTM"}),
            Strings({"SerialRecall"}));
  EXPECT_TRUE(closest("zzz", {"SerialRecall", "LSTM"}).empty());
  EXPECT_TRUE(closest("lr", {}).empty());
  EXPECT_TRUE(closest("", {"abcdef"}).empty());
  EXPECT_EQ(closest("ab", {"ab", "ac", "ad", "ae"}),
            Strings({"ab", "ac", "ad"}));
  // A prefix counts however far (both longer than 2 characters).
  EXPECT_EQ(closest("episode", {"episode_limit"}), Strings({"episode_limit"}));
  // Duplicates are named once.
  EXPECT_EQ(closest("Adma", {"Adam", "Adam"}), Strings({"Adam"}));
}

TEST(DidYouMean, NamesTheClosestOrNothing) {
  EXPECT_EQ(did_you_mean("StepLr", {"StepLR", "MultiStepLR"}),
            "; did you mean [StepLR]?");
  EXPECT_EQ(did_you_mean("zzz", {"StepLR", "MultiStepLR"}), "");
  EXPECT_EQ(did_you_mean("StepLR", {}), "");
}

TEST(DidYouMeanAny, NamesEveryCloseCandidate) {
  EXPECT_EQ(did_you_mean_any("max_lenth", {"max_length", "min_length", "zzz"}),
            "did you mean [max_length] or [min_length]?");
  EXPECT_EQ(did_you_mean_any("LSTN", {"LSTM"}), "did you mean [LSTM]?");
  EXPECT_EQ(did_you_mean_any("zzz", {"LSTM"}), "");
  EXPECT_EQ(did_you_mean_any("", {}), "");
}

TEST(Trim, StripsSpacesTabsAndLineEnds) {
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" \t\r\n"), "");
  EXPECT_EQ(trim("  a b\t"), "a b");
  EXPECT_EQ(trim("\ta\r\n"), "a");
  EXPECT_EQ(trim("x"), "x");
}

TEST(Split, KeepsEveryItemEmptyOnesToo) {
  EXPECT_EQ(split("", ','), Strings({""}));
  EXPECT_EQ(split(",", ','), Strings({"", ""}));
  EXPECT_EQ(split("a,,b,", ','), Strings({"a", "", "b", ""}));
  EXPECT_EQ(split(" a , b ", ','), Strings({" a ", " b "}));
  EXPECT_EQ(split("a:b", ','), Strings({"a:b"}));
}

TEST(SplitList, TrimsAndDropsEmptyItems) {
  EXPECT_TRUE(split_list("", ',').empty());
  EXPECT_TRUE(split_list(",,,", ',').empty());
  EXPECT_TRUE(split_list(" , \t ,", ',').empty());
  EXPECT_EQ(split_list(" a, b,,c ", ','), Strings({"a", "b", "c"}));
  EXPECT_EQ(split_list("a.yaml,\tb c.yaml\r\n", ','),
            Strings({"a.yaml", "b c.yaml"}));
  EXPECT_EQ(split_list("1:2", ':'), Strings({"1", "2"}));
}

TEST(SplitSkipEmpty, DropsEmptyItemsTrimsNothing) {
  EXPECT_TRUE(split_skip_empty("", ':').empty());
  EXPECT_TRUE(split_skip_empty(":::", ':').empty());
  EXPECT_EQ(split_skip_empty("/a::/b c:", ':'), Strings({"/a", "/b c"}));
  EXPECT_EQ(split_skip_empty(" a , b", ','), Strings({" a ", " b"}));
  EXPECT_EQ(split_skip_empty("a..b.", '.'), Strings({"a", "b"}));
}

TEST(ExpandUser, ExpandsALeadingTildeWithHomeSet) {
  HomeGuard home(std::string("/home/tester"));
  EXPECT_EQ(expand_user("~"), "/home/tester");
  EXPECT_EQ(expand_user("~/x"), "/home/tester/x");
  EXPECT_EQ(expand_user("~/"), "/home/tester/");
  EXPECT_EQ(expand_user("~user/x"), "~user/x");
  EXPECT_EQ(expand_user("a/~/x"), "a/~/x");
  EXPECT_EQ(expand_user("/abs"), "/abs");
  EXPECT_EQ(expand_user(""), "");
}

TEST(ExpandUser, RefusesATildeWithHomeUnsetOrEmpty) {
  // An empty HOME made "~/x" into "/x" (a run written under the root); an
  // unset one into a folder named "~" in the current directory.
  for (const std::optional<std::string>& value :
       {std::optional<std::string>(), std::optional<std::string>("")}) {
    HomeGuard home(value);
    const std::string state = value ? "HOME is empty" : "HOME is not set";
    for (const std::string path : {"~", "~/x", "~/"}) {
      try {
        expand_user(path);
        ADD_FAILURE() << path << ": no error with " << state;
      } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "[" + path + "] starts with ~ but " + state +
                      "; set HOME or write the full path");
      }
    }
    EXPECT_EQ(expand_user("x"), "x");
    EXPECT_EQ(expand_user("~user/x"), "~user/x");
    EXPECT_EQ(expand_user("/abs"), "/abs");
  }
}

}  // namespace text_test
}  // namespace mip
