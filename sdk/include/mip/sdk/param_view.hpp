#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace mip::sdk {

/// Read-only view of one section of the configuration (e.g.
/// `training.problem`). Values are the component's manifest defaults overridden
/// by the config files and `--set`. Getters throw mip::ParameterError naming
/// the full key path, the file and line it came from, and what was expected.
/// Keys may be dotted
/// (`conv1.out_channels`).
/// Example:
///   const int64_t bits = params.get<int64_t>("data_bits");
///   const double bias = params.get<double>("bias", 0.5);
class ParamView {
 public:
  virtual ~ParamView() = default;
  /// Full key path of this view, e.g. "training.problem".
  virtual std::string path() const = 0;
  /// True when `key` exists and is not null.
  virtual bool has(const std::string& key) const = 0;
  /// The keys directly below this view, in file order.
  virtual std::vector<std::string> keys() const = 0;
  /// A view of the map at `key`; throws when `key` is not a map.
  virtual std::unique_ptr<ParamView> child(const std::string& key) const = 0;

  /// Typed getters; throw when missing (and null) or of another type.
  virtual bool get_bool(const std::string& key) const = 0;
  virtual int64_t get_int(const std::string& key) const = 0;
  virtual double get_double(const std::string& key) const = 0;
  virtual std::string get_string(const std::string& key) const = 0;
  virtual std::vector<int64_t> get_int_list(const std::string& key) const = 0;
  virtual std::vector<double> get_double_list(const std::string& key) const = 0;
  virtual std::vector<std::string> get_string_list(
      const std::string& key) const = 0;

  /// Typed access: bool, any integer, float/double, std::string and vectors.
  template <typename T>
  T get(const std::string& key) const;
  /// Typed access with a fallback used when `key` is absent or null.
  template <typename T>
  T get(const std::string& key, const T& fallback) const {
    return has(key) ? get<T>(key) : fallback;
  }
};

template <typename T>
T ParamView::get(const std::string& key) const {
  if constexpr (std::is_same_v<T, bool>) {
    return get_bool(key);
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(get_int(key));
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(get_double(key));
  } else if constexpr (std::is_same_v<T, std::string>) {
    return get_string(key);
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    return get_int_list(key);
  } else if constexpr (std::is_same_v<T, std::vector<double>>) {
    return get_double_list(key);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    return get_string_list(key);
  } else {
    static_assert(sizeof(T) == 0,
                  "ParamView::get<T>: T must be bool, an integer, a floating "
                  "point type, std::string or a std::vector of int64_t, "
                  "double or std::string");
  }
}

}  // namespace mip::sdk
