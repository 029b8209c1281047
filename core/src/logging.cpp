#include <mip/core/logging.hpp>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>

#include <mip/sdk/error.hpp>

namespace mip {

namespace {

constexpr const char* kPattern = "[%Y-%m-%d %H:%M:%S] - %^%l%$ - %n >>> %v";

spdlog::level::level_enum to_spdlog(sdk::LogLevel l) {
  switch (l) {
    case sdk::LogLevel::kTrace:
      return spdlog::level::trace;
    case sdk::LogLevel::kDebug:
      return spdlog::level::debug;
    case sdk::LogLevel::kInfo:
      return spdlog::level::info;
    case sdk::LogLevel::kWarn:
      return spdlog::level::warn;
    case sdk::LogLevel::kError:
      return spdlog::level::err;
    case sdk::LogLevel::kCritical:
      return spdlog::level::critical;
  }
  return spdlog::level::info;
}

struct Sinks {
  std::shared_ptr<spdlog::sinks::dist_sink_mt> all =
      std::make_shared<spdlog::sinks::dist_sink_mt>();
  std::shared_ptr<spdlog::sinks::stderr_color_sink_mt> console =
      std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  std::shared_ptr<spdlog::sinks::sink> file;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Logger>> loggers;

  Sinks() {
    console->set_pattern(kPattern);
    console->set_level(spdlog::level::info);
    all->add_sink(console);
  }
};

Sinks& sinks() {
  static Sinks s;
  return s;
}

}  // namespace

struct Logger::Impl {
  std::shared_ptr<spdlog::logger> log;
};

Logger::Logger(const std::string& name) : impl_(std::make_unique<Impl>()) {
  impl_->log = std::make_shared<spdlog::logger>(name, sinks().all);
  impl_->log->set_level(spdlog::level::trace);
  impl_->log->flush_on(spdlog::level::warn);
}

Logger::~Logger() = default;

void Logger::log(sdk::LogLevel level, const std::string& message) {
  impl_->log->log(to_spdlog(level), "{}", message);
}

bool Logger::enabled(sdk::LogLevel level) const {
  const auto l = to_spdlog(level);
  auto& s = sinks();
  return s.console->should_log(l) || (s.file && s.file->should_log(l));
}

Logger& logger(const std::string& name) {
  auto& s = sinks();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto& slot = s.loggers[name];
  if (!slot)
    slot = std::make_unique<Logger>(name);
  return *slot;
}

sdk::LogLevel parse_log_level(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (n == "trace" || n == "notset")
    return sdk::LogLevel::kTrace;
  if (n == "debug")
    return sdk::LogLevel::kDebug;
  if (n == "info")
    return sdk::LogLevel::kInfo;
  if (n == "warn" || n == "warning")
    return sdk::LogLevel::kWarn;
  if (n == "error" || n == "err")
    return sdk::LogLevel::kError;
  if (n == "critical" || n == "fatal")
    return sdk::LogLevel::kCritical;
  throw ConfigError("log level [" + name +
                    "] is not one of trace, debug, info, warning, error, "
                    "critical (or MI-Prometheus's DEBUG, INFO, WARNING, "
                    "ERROR, CRITICAL, NOTSET)");
}

void logging_set_console_level(sdk::LogLevel level) {
  sinks().console->set_level(to_spdlog(level));
}

void logging_add_file(const std::string& path) {
  auto& s = sinks();
  if (s.file)
    s.all->remove_sink(s.file);
  s.file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false);
  s.file->set_pattern("[%Y-%m-%d %H:%M:%S] - %l - %n >>> %v");
  s.file->set_level(spdlog::level::debug);
  s.all->add_sink(s.file);
}

void logging_flush() {
  sinks().all->flush();
}

}  // namespace mip
