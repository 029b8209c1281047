#include <mip/core/logging.hpp>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>

#include <mip/core/files.hpp>
#include <mip/core/terminal.hpp>
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

/// The log file. A failed write (a full disk) neither stops nor crashes the
/// run: the file is given up, the console (which has every line of info and
/// above) says so once, and the run goes on; CSV and checkpoint writes are
/// the ones that stop a run on a full disk.
class GuardedFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  GuardedFileSink(const std::string& path,
                  std::shared_ptr<spdlog::sinks::sink> console)
      : path_(path), file_(path, false), console_(std::move(console)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (failed_)
      return;
    try {
      file_.log(msg);
    } catch (const std::exception&) {
      give_up(errno);
    }
  }
  void flush_() override {
    if (failed_)
      return;
    try {
      file_.flush();
    } catch (const std::exception&) {
      give_up(errno);
    }
  }
  void set_pattern_(const std::string& pattern) override {
    file_.set_pattern(pattern);
  }
  void set_formatter_(std::unique_ptr<spdlog::formatter> f) override {
    file_.set_formatter(std::move(f));
  }

 private:
  void give_up(int err) {
    failed_ = true;
    const std::string text = "the log file [" + path_ +
                             "] can no longer be written (" +
                             write_error_text(path_, err ? err : EIO) +
                             "); the log goes on on the console only";
    console_->log(
        spdlog::details::log_msg("logging", spdlog::level::warn, text));
    console_->flush();
  }

  std::string path_;
  spdlog::sinks::basic_file_sink_st file_;
  std::shared_ptr<spdlog::sinks::sink> console_;
  bool failed_ = false;
};

/// stderr (coloured on a terminal) under the status line of
/// mip/core/terminal.hpp, which it hides while it writes a line.
class ConsoleSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    ConsoleWriteGuard guard;
    stderr_.log(msg);
  }
  void flush_() override { stderr_.flush(); }
  void set_pattern_(const std::string& pattern) override {
    stderr_.set_pattern(pattern);
  }
  void set_formatter_(std::unique_ptr<spdlog::formatter> f) override {
    stderr_.set_formatter(std::move(f));
  }

 private:
  spdlog::sinks::stderr_color_sink_st stderr_;
};

struct Sinks {
  std::shared_ptr<spdlog::sinks::dist_sink_mt> all =
      std::make_shared<spdlog::sinks::dist_sink_mt>();
  std::shared_ptr<ConsoleSink> console = std::make_shared<ConsoleSink>();
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

void Logger::log_split(sdk::LogLevel level,
                       const std::string& console,
                       const std::string& file) {
  auto& s = sinks();
  const auto l = to_spdlog(level);
  const std::string& name = impl_->log->name();
  if (!console.empty() && s.console->should_log(l))
    s.console->log(spdlog::details::log_msg(name, l, console));
  if (!file.empty() && s.file && s.file->should_log(l))
    s.file->log(spdlog::details::log_msg(name, l, file));
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

bool logging_console_shows(sdk::LogLevel level) {
  return sinks().console->should_log(to_spdlog(level));
}

void logging_add_file(const std::string& path) {
  auto& s = sinks();
  if (s.file)
    s.all->remove_sink(s.file);
  try {
    s.file = std::make_shared<GuardedFileSink>(path, s.console);
  } catch (const spdlog::spdlog_ex&) {
    throw_write_error(path, errno);
  }
  s.file->set_pattern("[%Y-%m-%d %H:%M:%S] - %l - %n >>> %v");
  s.file->set_level(spdlog::level::debug);
  s.all->add_sink(s.file);
}

void logging_flush() noexcept {
  try {
    sinks().all->flush();
  } catch (const std::exception&) {
    // The file sink reports its own failures; the console has nothing to lose.
  }
}

}  // namespace mip
