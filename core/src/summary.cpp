// The end-of-run summary (mip/core/summary.hpp).
#include <mip/core/summary.hpp>

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <exception>
#include <filesystem>

#include <mip/core/checkpoint.hpp>
#include <mip/core/console_format.hpp>
#include <mip/core/statistics.hpp>

namespace fs = std::filesystem;

namespace mip {

namespace {

/// When libmip_core was loaded: the worker's start, near enough.
const std::chrono::steady_clock::time_point kProcessStart =
    std::chrono::steady_clock::now();

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return s < 60 ? std::string(buf) : format_duration(s);
}

std::string rate_text(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, r < 10 ? "%.2f" : "%.1f", r);
  return buf;
}

/// "loss 0.1234, acc 0.9612" from `values` (the loss, then `main`).
std::string loss_and_main(const std::vector<NamedValue>& values,
                          double loss,
                          const std::string& main,
                          const std::string& main_format) {
  std::string out = "loss " + short_value("{}", loss);
  for (const auto& [key, value] : values)
    if (!main.empty() && key == main)
      out += ", " + key + " " + short_value(main_format, value);
  return out;
}

double value_of(const std::vector<NamedValue>& values,
                const std::string& key,
                double otherwise) {
  for (const auto& [k, v] : values)
    if (k == key)
      return v;
  return otherwise;
}

void emit_values(YAML::Emitter& out,
                 const char* key,
                 const std::vector<NamedValue>& values) {
  if (values.empty())
    return;
  out << YAML::Key << key << YAML::Value << YAML::BeginMap;
  for (const auto& [k, v] : values)
    out << YAML::Key << k << YAML::Value << v;
  out << YAML::EndMap;
}

}  // namespace

std::string summary_text(const RunSummary& s, bool error_shown) {
  const bool repeat = !error_shown || s.state != RunState::kFailed;
  std::string out = "Summary: " + std::string(to_string(s.state)) + ", " +
                    (repeat ? s.cause : "see the error above") + "\n";
  auto row = [&](std::string name, const std::string& value) {
    name.resize(13, ' ');
    out += "  " + name + value + "\n";
  };
  std::string episodes = std::to_string(s.episodes);
  if (s.episodes_this_run != s.episodes)
    episodes += " (" + std::to_string(s.episodes_this_run) + " in this run)";
  episodes += ", " + seconds_text(s.seconds);
  if (s.episodes_per_second > 0)
    episodes += ", " + rate_text(s.episodes_per_second) + " episodes/s";
  row("episodes", episodes);
  if (s.tester) {
    if (!s.results.empty())
      row("result", loss_and_main(s.results, value_of(s.results, "loss", 0.0),
                                  s.main_statistic, s.main_format) +
                        " (over the test set)");
    row("checkpoint", s.tested_checkpoint);
  } else {
    if (s.best_episode >= 0)
      row("best model", "episode " + std::to_string(s.best_episode) +
                            ", validation " +
                            loss_and_main(s.best_statistics, s.best_loss,
                                          s.main_statistic, s.main_format));
    else
      row("best model", "none yet (no validation was recorded)");
    if (!s.best_checkpoint.empty())
      row("checkpoints", s.best_checkpoint);
    if (!s.last_checkpoint.empty())
      row(s.best_checkpoint.empty() ? "checkpoints" : "", s.last_checkpoint);
  }
  row("folder", s.folder);
  if (!s.test_command.empty())
    row("test it", s.test_command);
  if (!s.continue_command.empty())
    row("continue", s.continue_command);
  return out;
}

void emit_summary(YAML::Emitter& out, const RunSummary& s) {
  out << YAML::BeginMap;
  out << YAML::Key << "state" << YAML::Value << to_string(s.state);
  out << YAML::Key << "terminal_cause" << YAML::Value << s.cause;
  out << YAML::Key << "folder" << YAML::Value << s.folder;
  out << YAML::Key << "episodes" << YAML::Value << s.episodes;
  out << YAML::Key << "episodes_this_run" << YAML::Value << s.episodes_this_run;
  out << YAML::Key << "seconds" << YAML::Value << s.seconds;
  out << YAML::Key << "episodes_per_second" << YAML::Value
      << s.episodes_per_second;
  if (s.tester) {
    emit_values(out, "results", s.results);
    out << YAML::Key << "checkpoint" << YAML::Value << s.tested_checkpoint;
  } else {
    out << YAML::Key << "best_validation_loss" << YAML::Value << s.best_loss;
    out << YAML::Key << "best_episode" << YAML::Value << s.best_episode;
    emit_values(out, "best_statistics", s.best_statistics);
    if (!s.best_checkpoint.empty() || !s.last_checkpoint.empty()) {
      out << YAML::Key << "checkpoints" << YAML::Value << YAML::BeginMap;
      if (!s.best_checkpoint.empty())
        out << YAML::Key << "best" << YAML::Value << s.best_checkpoint;
      if (!s.last_checkpoint.empty())
        out << YAML::Key << "last" << YAML::Value << s.last_checkpoint;
      out << YAML::EndMap;
    }
  }
  if (!s.test_command.empty() || !s.continue_command.empty()) {
    out << YAML::Key << "commands" << YAML::Value << YAML::BeginMap;
    if (!s.test_command.empty())
      out << YAML::Key << "test" << YAML::Value << s.test_command;
    if (!s.continue_command.empty())
      out << YAML::Key << "continue" << YAML::Value << s.continue_command;
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

SummaryRecorder::SummaryRecorder(std::string worker) {
  s_.worker = std::move(worker);
}

void SummaryRecorder::run_started(const RunStarted& e) {
  s_.folder = e.dir;
  s_.tester = !e.checkpoint.empty();
  s_.tested_checkpoint = e.checkpoint;
  next_episode_ = e.first_episode;
  s_.best_loss = e.best_loss;
  s_.best_episode = e.best_episode;
  if (!e.sections.empty() && e.sections.front().col) {
    const StatisticsCollector& col = *e.sections.front().col;
    s_.main_statistic = main_statistic(col);
    if (!s_.main_statistic.empty())
      s_.main_format = col.format(s_.main_statistic);
  }
}

void SummaryRecorder::training_started(const TrainingStarted& e) {
  episode_limit_ = e.episode_limit;
  epoch_limit_ = e.epoch_limit;
  nproc_ = e.nproc;
  loop_start_ = Clock::now();
  looping_ = true;
}

void SummaryRecorder::pass_started(const PassStarted&) {
  if (!s_.tester || looping_)
    return;
  loop_start_ = Clock::now();
  looping_ = true;
}

void SummaryRecorder::episode_done(const EpisodeDone& e) {
  ++s_.episodes_this_run;
  next_episode_ = e.episode + 1;
  last_episode_ = Clock::now();
}

void SummaryRecorder::validation_done(const ValidationDone& e) {
  last_validation_.clear();
  if (e.full) {
    for (const auto& key : e.agg.keys())
      last_validation_.emplace_back(key, e.agg.get(key));
  } else {
    for (const auto& key : e.col.keys())
      if (!e.col.values(key).empty())
        last_validation_.emplace_back(key, e.col.values(key).back());
  }
}

void SummaryRecorder::epoch_done(const EpochDone& e) {
  if (!s_.tester)
    return;
  s_.results.clear();
  for (const auto& key : e.agg.keys())
    s_.results.emplace_back(key, e.agg.get(key));
}

void SummaryRecorder::checkpoint_written(const CheckpointWritten& e) {
  if (e.best_episode >= 0) {
    s_.best_loss = e.best_loss;
    s_.best_episode = e.best_episode;
  }
  if (e.best)
    s_.best_statistics = last_validation_;
}

void SummaryRecorder::finish_best() {
  const fs::path models = fs::path(s_.folder) / "models";
  std::error_code ec;
  if (fs::is_regular_file(models / "model_best.pt", ec))
    s_.best_checkpoint = (models / "model_best.pt").string();
  if (fs::is_regular_file(models / "model_last.pt", ec))
    s_.last_checkpoint = (models / "model_last.pt").string();
  // The best came before this process (a resume): its file says the rest.
  if (s_.best_episode < 0 || !s_.best_statistics.empty() ||
      s_.best_checkpoint.empty())
    return;
  try {
    const CheckpointMeta m = read_checkpoint_meta(s_.best_checkpoint);
    for (const auto& [key, text] : m.validation_stats)
      s_.best_statistics.emplace_back(key, std::stod(text));
  } catch (const std::exception&) {
    // A damaged file: the summary goes without its statistics.
  }
}

void SummaryRecorder::set_commands() {
  const std::string folder = shell_quote(s_.folder);
  if (!s_.best_checkpoint.empty())
    s_.test_command = "mip-tester --model " + folder;
  // A run of --nproc N resumes only on N ranks: say so in the command.
  const std::string resume =
      s_.worker + " --resume " + folder +
      (nproc_ > 1 ? " --nproc " + std::to_string(nproc_) : std::string());
  if (s_.state != RunState::kFinished)
    s_.continue_command = resume;
  else if (s_.cause.find("Episode Limit") != std::string::npos &&
           episode_limit_ > 0)
    s_.continue_command = resume +
                          " --set training.terminal_conditions.episode_limit=" +
                          std::to_string(2 * episode_limit_);
  else if (s_.cause.find("Epoch Limit") != std::string::npos &&
           epoch_limit_ > 0)
    s_.continue_command = resume +
                          " --set training.terminal_conditions.epoch_limit=" +
                          std::to_string(2 * epoch_limit_);
}

void SummaryRecorder::run_ended(const RunEnded& e) {
  s_.state = e.state;
  s_.cause = e.cause;
  s_.seconds =
      std::chrono::duration<double>(Clock::now() - kProcessStart).count();
  if (s_.tester)
    s_.episodes = e.episodes >= 0 ? e.episodes : s_.episodes_this_run;
  else
    s_.episodes = next_episode_;
  const double looped =
      std::chrono::duration<double>(last_episode_ - loop_start_).count();
  if (looping_ && s_.episodes_this_run > 1 && looped > 0)
    s_.episodes_per_second = static_cast<double>(s_.episodes_this_run) / looped;
  if (s_.tester)
    return;
  finish_best();
  set_commands();
}

}  // namespace mip
