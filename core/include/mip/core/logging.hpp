#pragma once

#include <memory>
#include <string>

#include <mip/sdk/logger.hpp>

namespace mip {

/// A named log (spdlog underneath); every log writes to the console and, once
/// logging_add_file() is called, to that file too.
class Logger final : public sdk::Logger {
 public:
  explicit Logger(const std::string& name);
  ~Logger() override;
  void log(sdk::LogLevel level, const std::string& message) override;
  /// Logs `console` on the console and `file` in the log file (either may be
  /// "": not logged there): statistics lines are shortened on the console
  /// and keep full precision in the file.
  void log_split(sdk::LogLevel level,
                 const std::string& console,
                 const std::string& file);
  bool enabled(sdk::LogLevel level) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The process-wide named log `name` (created on first use).
Logger& logger(const std::string& name);

/// Parses a level name: spdlog's (trace, debug, info, warn, error, critical,
/// off) and MI-Prometheus's (DEBUG, INFO, WARNING, ERROR, CRITICAL, NOTSET).
sdk::LogLevel parse_log_level(const std::string& name);

/// Sets the console level (the file always gets debug and above).
void logging_set_console_level(sdk::LogLevel level);
/// Whether the console shows lines of `level` (--ll).
bool logging_console_shows(sdk::LogLevel level);
/// Adds a log file (appended to); replaces the previous one. A later failed
/// write to it only gives the file up (the console warns once).
void logging_add_file(const std::string& path);
/// Flushes every sink; never throws.
void logging_flush() noexcept;

}  // namespace mip
