#pragma once

#include <string>

namespace mip::sdk {

/// Severity of a log message (as spdlog's levels).
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kCritical };

/// The log a component writes to; the host routes it to console and
/// training.log. Example:
///   ctx.logger().info("generated " + std::to_string(n) + " samples");
class Logger {
 public:
  virtual ~Logger() = default;
  /// Writes one message at the given level.
  virtual void log(LogLevel level, const std::string& message) = 0;
  /// Shorthands for log().
  void debug(const std::string& m) { log(LogLevel::kDebug, m); }
  void info(const std::string& m) { log(LogLevel::kInfo, m); }
  void warn(const std::string& m) { log(LogLevel::kWarn, m); }
  void error(const std::string& m) { log(LogLevel::kError, m); }
};

}  // namespace mip::sdk
