#include <mip/core/experiment.hpp>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <thread>

#include <mip/core/files.hpp>
#include <mip/core/summary.hpp>
#include <mip/core/text.hpp>
#include <mip/sdk/error.hpp>

namespace fs = std::filesystem;

namespace mip {

const char* to_string(RunState state) {
  switch (state) {
    case RunState::kRunning:
      return "running";
    case RunState::kFinished:
      return "finished";
    case RunState::kFailed:
      return "failed";
    case RunState::kInterrupted:
      return "interrupted";
    case RunState::kKilled:
      return "killed";
  }
  return "unknown";
}

namespace {
std::string time_string(const char* format) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}
}  // namespace

std::string now_string() {
  return time_string("%Y-%m-%d %H:%M:%S");
}

void check_savetag(const std::string& savetag) {
  const bool control = std::any_of(savetag.begin(), savetag.end(), [](char c) {
    return std::iscntrl(static_cast<unsigned char>(c)) != 0;
  });
  MIP_CHECK(savetag.find('/') == std::string::npos &&
                savetag.find("..") == std::string::npos && !control,
            ConfigError, "--savetag [",
            control ? "(with control characters)" : savetag,
            "]: a savetag is part of one folder name; it may not hold '/', "
            "'..' or control characters");
}

std::string create_timestamped_dir(const std::string& parent,
                                   const std::string& prefix,
                                   const std::string& savetag) {
  check_savetag(savetag);
  const fs::path base = fs::path(expand_user(parent));
  std::error_code ec;
  fs::create_directories(base, ec);
  MIP_CHECK(!ec, Error, "cannot create folder [", base.string(),
            "]: ", ec.message(), "; choose another --expdir");
  for (int attempt = 0; attempt < 120; ++attempt) {
    std::string name = prefix + time_string("%Y%m%d_%H%M%S");
    if (!savetag.empty())
      name += "_" + savetag;
    const fs::path dir = base / name;
    if (fs::create_directory(dir, ec))
      return dir.string();
    MIP_CHECK(!ec || ec == std::errc::file_exists, Error,
              "cannot create folder [", dir.string(), "]: ", ec.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  throw Error("cannot create a new folder under [" + base.string() +
              "]: every name is taken");
}

std::string create_experiment_dir(const std::string& root,
                                  const std::string& problem,
                                  const std::string& model,
                                  const std::string& savetag) {
  const std::string dir = create_timestamped_dir(
      (fs::path(expand_user(root)) / problem / model).string(), "", savetag);
  fs::create_directories(fs::path(dir) / "models");
  return dir;
}

void write_status(const std::string& dir,
                  const RunStatus& s,
                  const RunSummary* summary) {
  write_file_atomic((fs::path(dir) / "status.yaml").string(),
                    status_text(s, summary));
}

std::string status_text(const RunStatus& s, const RunSummary* summary) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "state" << YAML::Value << to_string(s.state);
  out << YAML::Key << "terminal_cause" << YAML::Value << s.terminal_cause;
  out << YAML::Key << "worker" << YAML::Value << s.worker;
  out << YAML::Key << "episode" << YAML::Value << s.episode;
  out << YAML::Key << "epoch" << YAML::Value << s.epoch;
  out << YAML::Key << "best_validation_loss" << YAML::Value
      << s.best_validation_loss;
  out << YAML::Key << "best_episode" << YAML::Value << s.best_episode;
  out << YAML::Key << "started" << YAML::Value << s.started;
  out << YAML::Key << "updated" << YAML::Value << now_string();
  if (s.first_episode_unix > 0) {
    out << YAML::Key << "timing" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "first_episode_unix" << YAML::Value
        << s.first_episode_unix;
    out << YAML::Key << "timed_episodes" << YAML::Value << s.timed_episodes;
    out << YAML::Key << "timed_seconds" << YAML::Value << s.timed_seconds;
    if (s.timed_episodes > 0)
      out << YAML::Key << "ms_per_episode" << YAML::Value
          << 1000.0 * s.timed_seconds / static_cast<double>(s.timed_episodes);
    out << YAML::EndMap;
  }
  if (summary) {
    out << YAML::Key << "summary" << YAML::Value;
    emit_summary(out, *summary);
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace mip
