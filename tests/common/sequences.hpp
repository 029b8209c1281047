#pragma once

// Checks shared by the tests of the algorithmic sequence tasks: what every
// batch of an AlgorithmicSeqToSeqProblem must look like, whatever the task.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include <mip/sdk/data.hpp>

namespace mip::test {

/// Layout, dtypes and values every sequence batch has: sequences
/// [B, T, control+data], targets [B, T, out], masks [B, T, 1] of 0/1, bits
/// 0/1 everywhere, targets zero where the mask is off (padding and
/// non-answer steps carry nothing), lengths within [lo, hi].
inline void expect_sequence_batch(const sdk::DataDict& b,
                                  int64_t batch,
                                  int64_t control_bits,
                                  int64_t data_bits,
                                  int64_t output_bits,
                                  int64_t lo,
                                  int64_t hi) {
  const at::Tensor& x = b.at("sequences");
  const at::Tensor& y = b.at("targets");
  const at::Tensor& m = b.at("masks");
  ASSERT_EQ(x.dim(), 3);
  EXPECT_EQ(x.size(0), batch);
  EXPECT_EQ(x.size(2), control_bits + data_bits);
  EXPECT_EQ(y.sizes(), (at::IntArrayRef{batch, x.size(1), output_bits}));
  EXPECT_EQ(m.sizes(), (at::IntArrayRef{batch, x.size(1), 1}));
  EXPECT_EQ(x.scalar_type(), at::kFloat);
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_EQ(m.scalar_type(), at::kByte);
  EXPECT_TRUE(((x == 0) | (x == 1)).all().item<bool>()) << "inputs not bits";
  EXPECT_TRUE(((y == 0) | (y == 1)).all().item<bool>()) << "targets not bits";
  EXPECT_TRUE(((m == 0) | (m == 1)).all().item<bool>()) << "masks not 0/1";
  EXPECT_TRUE((y * (1 - m.to(at::kFloat))).eq(0).all().item<bool>())
      << "a target is set where the mask is off";
  const at::Tensor& len = b.at("sequences_length");
  EXPECT_EQ(len.sizes(), (at::IntArrayRef{batch, 1}));
  EXPECT_EQ(len.scalar_type(), at::kInt);
  EXPECT_GE(len.min().item<int64_t>(), lo);
  EXPECT_LE(len.max().item<int64_t>(), hi);
  EXPECT_EQ(b.at("num_subsequences").sizes(), (at::IntArrayRef{batch, 1}));
  EXPECT_EQ(b.at("num_subsequences").scalar_type(), at::kChar);
}

/// True when both batches hold the same keys with equal tensors.
inline bool same_batch(const sdk::DataDict& a, const sdk::DataDict& b) {
  if (a.size() != b.size())
    return false;
  for (const auto& kv : a)
    if (!b.contains(kv.first) || !kv.second.equal(b.at(kv.first)))
      return false;
  return true;
}

}  // namespace mip::test
