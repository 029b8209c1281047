#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <mip/sdk/error.hpp>

namespace mip::sdk {

/// Shape and dtype of one named tensor; -1 marks a dimension known only at
/// run time (batch size, sequence length).
/// Example:
///   DataDefinition{{-1, -1, 10}, torch::kFloat32, "input sequences [B, T,
///   C+D]"}
struct DataDefinition {
  std::vector<int64_t> shape;
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::string description;

  /// "[-1, -1, 10] Float" — the form used in handshake messages.
  std::string to_string() const {
    std::ostringstream os;
    os << "[";
    for (size_t i = 0; i < shape.size(); ++i)
      os << (i ? ", " : "") << shape[i];
    os << "] " << c10::toString(dtype);
    return os.str();
  }
};

/// Named definitions, ordered by name.
using DataDefinitions = std::map<std::string, DataDefinition>;

/// A batch or a set of predictions: named tensors. at() names the missing key.
/// Example:
///   DataDict batch;
///   batch["sequences"] = torch::zeros({4, 10, 10});
///   const auto& x = batch.at("sequences");
class DataDict {
 public:
  using Map = std::map<std::string, at::Tensor>;

  /// The tensor under `key`, created empty when absent.
  at::Tensor& operator[](const std::string& key) { return map_[key]; }
  /// The tensor under `key`; throws mip::DataError listing the keys present.
  const at::Tensor& at(const std::string& key) const {
    auto it = map_.find(key);
    if (it == map_.end()) {
      std::string present;
      for (const auto& kv : map_)
        present += (present.empty() ? "" : ", ") + kv.first;
      throw DataError("data dict has no key [" + key + "]; it holds [" +
                      present + "]");
    }
    return it->second;
  }
  /// True when `key` is present.
  bool contains(const std::string& key) const { return map_.count(key) != 0; }
  /// Number of tensors.
  size_t size() const { return map_.size(); }
  Map::const_iterator begin() const { return map_.begin(); }
  Map::const_iterator end() const { return map_.end(); }
  Map::iterator begin() { return map_.begin(); }
  Map::iterator end() { return map_.end(); }

  /// A copy with every defined tensor moved to `device`.
  DataDict to(c10::Device device, bool non_blocking = false) const {
    DataDict out;
    for (const auto& kv : map_) {
      out.map_[kv.first] =
          kv.second.defined()
              ? kv.second.to(kv.second.options().device(device), non_blocking)
              : kv.second;
    }
    return out;
  }

 private:
  Map map_;
};

}  // namespace mip::sdk
