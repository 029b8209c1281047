#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

/// Exported so that the host catches plugin-thrown errors by type.
#define MIP_SDK_VISIBLE __attribute__((visibility("default")))

namespace mip {

/// Base of every error MI-Prometheus C++ reports to users.
class MIP_SDK_VISIBLE Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A configuration file, key or value is wrong (carries file, line, key path).
class MIP_SDK_VISIBLE ConfigError : public Error {
 public:
  using Error::Error;
};

/// A component read a parameter that is missing or of the wrong type.
class MIP_SDK_VISIBLE ParameterError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

/// Data is missing, malformed or does not match its definition.
class MIP_SDK_VISIBLE DataError : public Error {
 public:
  using Error::Error;
};

/// A plugin library could not be found, opened or used.
class MIP_SDK_VISIBLE PluginLoadError : public Error {
 public:
  using Error::Error;
};

/// A plugin was built against another SDK, LibTorch or C++ ABI.
class MIP_SDK_VISIBLE PluginAbiError : public PluginLoadError {
 public:
  using PluginLoadError::PluginLoadError;
};

namespace detail {
/// Concatenates its arguments with operator<< (used by MIP_CHECK).
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace mip

/// Throws `ErrorType(message)` when `cond` is false; for errors users can fix.
#define MIP_CHECK(cond, ErrorType, ...)                 \
  do {                                                  \
    if (!(cond))                                        \
      throw ErrorType(::mip::detail::str(__VA_ARGS__)); \
  } while (0)

/// Internal invariant; a failure is a bug in MI-Prometheus C++.
#define MIP_INTERNAL_ASSERT(cond)                                              \
  do {                                                                         \
    if (!(cond))                                                               \
      throw ::mip::Error(::mip::detail::str("internal error: ", #cond, " at ", \
                                            __FILE__, ":", __LINE__,           \
                                            " (please report it)"));           \
  } while (0)
