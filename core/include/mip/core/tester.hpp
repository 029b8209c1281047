#pragma once

// mip-tester: the loop without a backward pass, over the testing section's
// problem with a trained model, once or once per testing.multi_tests value.

#include <string>
#include <utility>
#include <vector>

#include <mip/core/episode.hpp>
#include <mip/core/observer.hpp>
#include <mip/core/run.hpp>

namespace mip {

class Tester {
 public:
  explicit Tester(WorkerOptions options);
  ~Tester();
  void setup();
  /// Tests; returns the exit code.
  int test();
  /// --dry-run (after setup()): the first batch of each test, forward only;
  /// prints the resolved configuration; returns the exit code.
  int dry_run();
  /// Records a failure in the test folder (status.yaml).
  void fail(const std::string& error);

 private:
  /// testing.multi_tests: {leaf: [v1, v2, ...]}, one test per index.
  void read_multi_tests();
  void prepare_test(size_t index);
  /// The episodes of one test of the current problem.
  int64_t episodes() const;

  Run run_;
  std::string checkpoint_;
  const Component* component_ = nullptr;
  std::vector<std::pair<std::string, std::vector<std::string>>> multi_tests_;
  Section test_;
  std::string dir_;
  Observers observers_;
};

}  // namespace mip
