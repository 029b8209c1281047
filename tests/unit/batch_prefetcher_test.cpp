// BatchPrefetcher: the same batches as made in line, errors carried with
// their batch, and never a batch past the end it was allowed.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <mip/core/batches.hpp>

#include "common/test_util.hpp"
#include "unit/index_problem.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace batch_prefetcher_test {

using test::IndexProblem;
using test::same_batch;

PrefetchSpec ahead(int depth) {
  PrefetchSpec spec;
  spec.mode = PrefetchSpec::Mode::kOn;
  spec.depth = depth;
  return spec;
}

TEST(BatchPrefetcher, MakesTheSameBatchesAsInLine) {
  auto problem = std::make_shared<IndexProblem>(10);
  BatchStream reference(problem, 3, 11, 0, {});
  for (PrefetchSpec::Mode mode :
       {PrefetchSpec::Mode::kOn, PrefetchSpec::Mode::kOff,
        PrefetchSpec::Mode::kAuto}) {
    BatchStream stream(problem, 3, 11, 0, {});
    PrefetchSpec spec = ahead(3);
    spec.mode = mode;
    BatchPrefetcher batches(stream, spec);
    const int64_t per_epoch = stream.batches_per_epoch();
    for (int64_t i = 0; i < 3 * per_epoch; ++i) {
      if (i % per_epoch == 0)
        batches.make_ahead_until(i + per_epoch);
      EXPECT_TRUE(same_batch(batches.take(i), reference.batch(i)))
          << "batch " << i << " (mode " << static_cast<int>(mode) << ")";
    }
  }
}

TEST(BatchPrefetcher, AnErrorComesWithItsBatchAndNotBefore) {
  // Batch size 1 without shuffling: batch i is sample i.
  auto problem = std::make_shared<IndexProblem>(20, /*fail_at=*/6);
  SamplerSpec in_order;
  in_order.shuffle = false;
  BatchStream stream(problem, 1, 1, 0, in_order);
  BatchPrefetcher batches(stream, ahead(8));
  batches.make_ahead_until(20);
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_EQ(test::indices_of(batches.take(i)), std::vector<int64_t>{i});
  EXPECT_HAS(test::error_of([&] { batches.take(6); }),
             "sample 6 is unreadable");
}

TEST(BatchPrefetcher, NeverMakesABatchPastTheEndItWasAllowed) {
  auto problem = std::make_shared<IndexProblem>(100);
  SamplerSpec in_order;
  in_order.shuffle = false;
  BatchStream stream(problem, 1, 1, 0, in_order);
  BatchPrefetcher batches(stream, ahead(64));
  batches.make_ahead_until(10);
  batches.take(0);
  // The thread has time to run ahead; it must stop at the end.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LE(problem->max_seen.load(), 9);
  for (int64_t i = 1; i < 10; ++i)
    batches.take(i);
  batches.make_ahead_until(15);
  batches.take(10);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(problem->max_seen.load(), 14);
}

TEST(BatchPrefetcher, TakingABatchOutOfOrderMakesItInLine) {
  auto problem = std::make_shared<IndexProblem>(12);
  BatchStream reference(problem, 2, 3, 0, {});
  BatchStream stream(problem, 2, 3, 0, {});
  BatchPrefetcher batches(stream, ahead(4));
  batches.make_ahead_until(6);
  EXPECT_TRUE(same_batch(batches.take(0), reference.batch(0)));
  EXPECT_TRUE(same_batch(batches.take(4), reference.batch(4)));
  EXPECT_TRUE(same_batch(batches.take(5), reference.batch(5)));
}

}  // namespace batch_prefetcher_test
}  // namespace mip
