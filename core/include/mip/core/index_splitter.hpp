#pragma once

// mip-index-splitter: splits the indices of a data set into two index files
// (split_a.txt, split_b.txt) that a SubsetRandomSampler reads (its
// `indices:` key naming a file). docs/grids.md, "Index files".

#include <cstdint>
#include <string>
#include <vector>

namespace mip {

/// Two disjoint parts of 0..length-1.
struct IndexSplit {
  std::vector<int64_t> a, b;
};

/// With `random`: a permutation of 0..length-1 drawn from `seed` (the same
/// on every machine), its first `split` indices in `a`, the rest in `b`.
/// Without: the ranges [0, split) and [split, length), written as their two
/// ends ({0, split} and {split, length}), as MI-Prometheus writes them.
/// Throws mip::ConfigError unless 1 <= split <= length - 1, and for a random
/// part of exactly two indices (two numbers in a file read as a range).
IndexSplit split_indices(int64_t length,
                         int64_t split,
                         bool random,
                         uint64_t seed);

/// An index file's text: the indices comma-separated on one line.
std::string index_file_text(const std::vector<int64_t>& indices);

/// mip-index-splitter's command line.
int run_index_splitter(int argc, char** argv);

}  // namespace mip
