// What a worker tells its user: the live progress line on a terminal (a real
// pseudo-terminal), plain lines through a pipe, the end-of-run summary on the
// console and in status.yaml (against the CSV files the same run wrote), and
// the workers' --help and --version.
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <torch/cuda.h>
#include <torch/version.h>

#include <mip/core/text.hpp>
#include <mip/sdk/version.hpp>

#include "common/worker_runs.hpp"

namespace fs = std::filesystem;

namespace mip {
// Named: each test executable is one unity build.
namespace console_test {

using namespace test;

/// 600 episodes of serial recall, validated every 100.
const std::string kSixHundred =
    " --config " + kSerialRecall +
    " --set training.terminal_conditions.episode_limit=600"
    " --set validation.partial_validation_interval=100";

/// Waits (at most a second) until `sig` is no longer pending for process
/// `pid` (/proc/<pid>/status: SigPnd for its thread, ShdPnd for the process).
void wait_until_taken(pid_t pid, int sig) {
  const unsigned long long bit = 1ULL << (sig - 1);
  for (int i = 0; i < 1000; ++i) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    bool pending = false;
    while (std::getline(in, line))
      if (line.rfind("SigPnd:", 0) == 0 || line.rfind("ShdPnd:", 0) == 0)
        pending = pending || (std::stoull(line.substr(7), nullptr, 16) & bit);
    if (!pending)
      return;
    ::usleep(1000);
  }
}

/// Runs `command` (through sh) on a new pseudo-terminal `columns` wide, as a
/// user's terminal: TERM=xterm, no newline translation (so that every '\r'
/// in the output is the worker's own). `interrupt_when(output so far)` may
/// ask, once, for `presses` SIGINTs in a row (Ctrl-C pressed that often).
RunResult run_in_terminal(
    const std::string& command,
    int columns = 100,
    const std::function<bool(const std::string&)>& interrupt_when = {},
    int presses = 1) {
  termios raw{};
  ::cfmakeraw(&raw);
  winsize size{};
  size.ws_row = 40;
  size.ws_col = static_cast<unsigned short>(columns);
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, &raw, &size);
  if (pid == 0) {
    ::setenv("TERM", "xterm", 1);
    const std::string exec = "exec " + command;
    ::execl("/bin/sh", "sh", "-c", exec.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  RunResult r;
  if (pid < 0)
    return r;
  bool interrupted = false;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) {
      r.output.append(buf, static_cast<size_t>(n));
      if (!interrupted && interrupt_when && interrupt_when(r.output)) {
        for (int i = 0; i < presses; ++i) {
          // Signals of one kind do not queue: the next press waits until
          // the worker has taken the last one.
          if (i > 0)
            wait_until_taken(pid, SIGINT);
          ::kill(-pid, SIGINT);  // as Ctrl-C: to the terminal's process group
        }
        interrupted = true;
      }
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    break;  // EIO: the last holder of the terminal is gone
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

/// What a terminal shows once `raw` is written to it: '\r' goes back to the
/// start of the line, ESC [ K clears to its end, other escape sequences
/// (colours) show nothing.
std::vector<std::string> screen(const std::string& raw) {
  std::vector<std::string> lines(1);
  size_t col = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    std::string& line = lines.back();
    if (c == '\n') {
      lines.emplace_back();
      col = 0;
    } else if (c == '\r') {
      col = 0;
    } else if (c == '\x1b' && i + 1 < raw.size() && raw[i + 1] == '[') {
      size_t j = i + 2;
      while (j < raw.size() &&
             !std::isalpha(static_cast<unsigned char>(raw[j])))
        ++j;
      if (j < raw.size() && raw[j] == 'K')
        line.resize(std::min(line.size(), col));
      i = j;
    } else {
      if (col < line.size())
        line[col] = c;
      else
        line += c;
      ++col;
    }
  }
  return lines;
}

/// The lines of `text` holding `part`.
std::vector<std::string> lines_with(const std::string& text,
                                    const std::string& part) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.find(part) != std::string::npos)
      out.push_back(line);
  return out;
}

/// The summary row `name` of the console output ("" when absent).
std::string summary_row(const std::string& output, const std::string& name) {
  for (const auto& line : lines_with(output, "  " + name + " "))
    if (line.rfind("  " + name, 0) == 0)
      return trim(line.substr(2 + name.size()));
  return "";
}

/// The row of `csv` with the lowest loss (the first one of equals), as
/// MI-Prometheus's best-model rule picks it: {loss, episode, acc}.
std::vector<double> best_row(const fs::path& csv) {
  const auto loss = csv_column(csv, "loss");
  const auto episode = csv_column(csv, "episode");
  const auto acc = csv_column(csv, "acc");
  const size_t i = static_cast<size_t>(
      std::min_element(loss.begin(), loss.end()) - loss.begin());
  return {loss.at(i), episode.at(i), acc.at(i)};
}

TEST(Console, ProgressLineIsRedrawnInPlaceAndLogLinesStayWhole) {
  TempDir d;
  // The final full validation: 1000 batches, long enough to be redrawn.
  const RunResult r = run_in_terminal(kOnline + kSixHundred +
                                      " --set validation.problem.size=64000" +
                                      " --expdir " + d.str() + "/exp --li 50");
  ASSERT_EQ(r.code, 0) << r.output;
  // Drawn in place: back to the line's start, cleared, written, many times.
  const size_t draws = occurrences(r.output, "\r\x1b[KTraining ");
  EXPECT_GE(draws, 3u) << r.output;
  const std::string erase = "\r\x1b[K";
  const size_t first = r.output.find(erase + "Training ");
  ASSERT_NE(first, std::string::npos);
  const std::string drawn = r.output.substr(
      first + erase.size(),
      r.output.find_first_of("\r\n", first + 1) - first - erase.size());
  EXPECT_HAS(drawn, "% [");
  EXPECT_HAS(drawn, "/600");
  EXPECT_HAS(drawn, "loss ");
  EXPECT_HAS(drawn, "acc ");
  EXPECT_HAS(drawn, "ETA ");
  EXPECT_LT(drawn.size(), 100u) << "the line must not wrap: [" << drawn << "]";
  EXPECT_EQ(drawn.find('\n'), std::string::npos);
  EXPECT_GE(occurrences(r.output, " ep/s"), 1u) << r.output;
  std::vector<std::string> validation;
  for (size_t at = r.output.find(erase + "Validation ");
       at != std::string::npos;
       at = r.output.find(erase + "Validation ", at + 1))
    validation.push_back(r.output.substr(
        at + erase.size(),
        r.output.find_first_of("\r\n", at + 1) - at - erase.size()));
  ASSERT_GE(validation.size(), 2u) << r.output;
  EXPECT_HAS(validation.front(), "  0% [");
  EXPECT_HAS(validation.back(), "/1000  loss ");
  EXPECT_HAS(validation.back(), "acc ");
  EXPECT_HAS(validation.back(), " batches/s  ETA ");
  // A log line never starts on the progress line: each one begins at the
  // start of a line, after the progress line was erased.
  size_t log_lines = 0;
  for (size_t at = r.output.find("[20"); at != std::string::npos;
       at = r.output.find("[20", at + 1)) {
    ++log_lines;
    const bool at_start =
        at == 0 || r.output[at - 1] == '\n' ||
        r.output.compare(at - erase.size(), erase.size(), erase) == 0;
    EXPECT_TRUE(at_start) << "a log line glued to other text: ["
                          << r.output.substr(at < 60 ? 0 : at - 60, 120) << "]";
  }
  EXPECT_GE(log_lines, 12u + 6u);  // 12 [Training] lines, 7 validations...
  // What the user sees at the end: whole log lines, no progress line left.
  const std::vector<std::string> shown = screen(r.output);
  for (const auto& line : shown) {
    EXPECT_EQ(line.find("ETA "), std::string::npos) << line;
    if (line.find("[Training]") != std::string::npos)
      EXPECT_EQ(line.rfind("[20", 0), 0u) << line;
  }
  EXPECT_EQ(lines_with(r.output, "[Training]").size(), 12u);
  EXPECT_HAS(r.output, "Summary: finished, Not converged: Episode Limit");
}

TEST(Console, PipedRunWritesPlainShortAlignedLines) {
  TempDir d;
  const RunResult r =
      run(kOnline + kSixHundred + " --expdir " + d.str() + "/exp --li 50");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find('\r'), std::string::npos);
  EXPECT_EQ(r.output.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.output.find("ETA "), std::string::npos);
  const auto lines = lines_with(r.output, "[Training]");
  ASSERT_EQ(lines.size(), 12u) << r.output;
  // Short values in columns: every statistics line is as long as the first,
  // with four decimals where the CSV and the log file have ten.
  std::vector<size_t> lengths;
  for (const auto& line : lines) {
    const std::string message = line.substr(line.find(">>> ") + 4);
    lengths.push_back(message.size());
    EXPECT_EQ(message.rfind("loss 0.", 0), 0u) << message;
    EXPECT_EQ(message[std::string("loss 0.").size() + 4], ';') << message;
    EXPECT_HAS(message, "; episode ");
  }
  EXPECT_EQ(std::count(lengths.begin(), lengths.end(), lengths.front()),
            static_cast<long>(lengths.size()))
      << r.output;
  EXPECT_HAS(lines[1], "episode     50;");
  const fs::path exp = only_experiment(d.path() / "exp");
  const auto logged = lines_with(read(exp / "training.log"), "[Training]");
  ASSERT_EQ(logged.size(), 12u);
  EXPECT_HAS(logged[1], "episode 000050; epoch 00; acc 0.");
  const std::string loss = logged[1].substr(logged[1].find(">>> loss ") + 9);
  EXPECT_EQ(loss.find(';'), 12u) << "full precision in the log: " << loss;
}

TEST(Console, SummaryAndStatusYamlAgreeWithTheCsvFiles) {
  TempDir d;
  const RunResult r =
      run(kOnline + kSixHundred + " --expdir " + d.str() + "/exp");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  const std::vector<double> best = best_row(exp / "validation_statistics.csv");

  // The console.
  EXPECT_HAS(r.output,
             "Summary: finished, Not converged: Episode Limit reached\n");
  EXPECT_EQ(summary_row(r.output, "episodes").rfind("600, ", 0), 0u)
      << r.output;
  const std::string best_line = summary_row(r.output, "best model");
  char expected[128];
  std::snprintf(expected, sizeof expected,
                "episode %d, validation loss %.4f, acc %.4f",
                static_cast<int>(best[1]), best[0], best[2]);
  EXPECT_EQ(best_line, expected) << r.output;
  EXPECT_EQ(summary_row(r.output, "checkpoints"),
            (exp / "models/model_best.pt").string());
  EXPECT_HAS(r.output,
             "               " + (exp / "models/model_last.pt").string());
  EXPECT_EQ(summary_row(r.output, "folder"), exp.string());
  EXPECT_EQ(summary_row(r.output, "test it"),
            "mip-tester --model " + exp.string());
  EXPECT_EQ(summary_row(r.output, "continue"),
            "mip-online-trainer --resume " + exp.string() +
                " --set training.terminal_conditions.episode_limit=1200");

  // status.yaml: the keys it always had, and the same summary.
  const YAML::Node st = YAML::LoadFile((exp / "status.yaml").string());
  EXPECT_EQ(st["state"].as<std::string>(), "finished");
  EXPECT_EQ(st["best_episode"].as<int64_t>(), static_cast<int64_t>(best[1]));
  const YAML::Node s = st["summary"];
  ASSERT_TRUE(s.IsMap()) << read(exp / "status.yaml");
  EXPECT_EQ(s["state"].as<std::string>(), "finished");
  EXPECT_EQ(s["terminal_cause"].as<std::string>(),
            st["terminal_cause"].as<std::string>());
  EXPECT_EQ(s["episodes"].as<size_t>() + 1,
            lines(exp / "training_statistics.csv"));
  EXPECT_EQ(s["episodes_this_run"].as<int64_t>(), 600);
  EXPECT_GT(s["seconds"].as<double>(), 0.0);
  EXPECT_GT(s["episodes_per_second"].as<double>(), 0.0);
  EXPECT_NEAR(s["best_validation_loss"].as<double>(), best[0], 1e-9);
  EXPECT_EQ(s["best_episode"].as<int64_t>(), static_cast<int64_t>(best[1]));
  EXPECT_NEAR(s["best_statistics"]["acc"].as<double>(), best[2], 1e-9);
  EXPECT_NEAR(s["best_statistics"]["loss"].as<double>(), best[0], 1e-9);
  EXPECT_EQ(s["checkpoints"]["best"].as<std::string>(),
            (exp / "models/model_best.pt").string());
  EXPECT_EQ(s["commands"]["test"].as<std::string>(),
            summary_row(r.output, "test it"));

  // The test command it suggests works, and the tester sums up likewise.
  const std::string test_cmd = s["commands"]["test"].as<std::string>();
  const RunResult t =
      run(kTester + test_cmd.substr(std::string("mip-tester").size()));
  ASSERT_EQ(t.code, 0) << t.output;
  fs::path test_dir;
  for (const auto& e : fs::directory_iterator(exp))
    if (e.path().filename().string().rfind("test_", 0) == 0)
      test_dir = e.path();
  ASSERT_FALSE(test_dir.empty());
  const auto agg = csv_rows(test_dir / "testing_set_agg_statistics.csv");
  ASSERT_EQ(agg.size(), 2u);
  const double test_loss =
      csv_column(test_dir / "testing_set_agg_statistics.csv", "loss").at(0);
  const double test_acc =
      csv_column(test_dir / "testing_set_agg_statistics.csv", "acc").at(0);
  EXPECT_HAS(t.output, "Summary: finished, Tested 10 episodes\n");
  std::snprintf(expected, sizeof expected,
                "loss %.4f, acc %.4f (over the test set)", test_loss, test_acc);
  EXPECT_EQ(summary_row(t.output, "result"), expected) << t.output;
  EXPECT_EQ(summary_row(t.output, "checkpoint"),
            (exp / "models/model_best.pt").string());
  const YAML::Node ts =
      YAML::LoadFile((test_dir / "status.yaml").string())["summary"];
  EXPECT_NEAR(ts["results"]["loss"].as<double>(), test_loss, 1e-9);
  EXPECT_EQ(ts["episodes"].as<int64_t>(), 10);
}

TEST(Console, CtrlCOnATerminalSumsUpAndTheSuggestedResumeFinishes) {
  TempDir d;
  // Ctrl-C once the second partial validation is on the screen.
  const RunResult r = run_in_terminal(
      kOnline + " --config " + kSerialRecall + " --expdir " + d.str() +
          "/exp --set validation.partial_validation_interval=20"
          " --set training.terminal_conditions.episode_limit=100000",
      100, [](const std::string& out) {
        return occurrences(out, "[Partial Validation]") >= 2;
      });
  ASSERT_EQ(r.code, 130) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  EXPECT_HAS(r.output, "Summary: interrupted, Interrupted by SIGINT");
  const std::string resume = summary_row(r.output, "continue");
  EXPECT_EQ(resume, "mip-online-trainer --resume " + exp.string());
  const YAML::Node s =
      YAML::LoadFile((exp / "status.yaml").string())["summary"];
  EXPECT_EQ(s["state"].as<std::string>(), "interrupted");
  EXPECT_EQ(s["commands"]["continue"].as<std::string>(), resume);
  const int64_t done = s["episodes"].as<int64_t>();
  EXPECT_EQ(static_cast<size_t>(done) + 1,
            lines(exp / "training_statistics.csv"));
  // The line was erased before the summary: no progress text on screen.
  for (const auto& line : screen(r.output))
    EXPECT_EQ(line.find("ETA "), std::string::npos) << line;

  const RunResult again =
      run(kOnline + resume.substr(std::string("mip-online-trainer").size()) +
          " --set training.terminal_conditions.episode_limit=" +
          std::to_string(done + 40));
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_HAS(again.output, "Summary: finished, Not converged: Episode Limit");
  EXPECT_EQ(summary_row(again.output, "episodes")
                .rfind(std::to_string(done + 40) + " (40 in this run), ", 0),
            0u)
      << again.output;
  const std::vector<double> best = best_row(exp / "validation_statistics.csv");
  const YAML::Node s2 =
      YAML::LoadFile((exp / "status.yaml").string())["summary"];
  EXPECT_NEAR(s2["best_validation_loss"].as<double>(), best[0], 1e-9);
  EXPECT_EQ(s2["best_episode"].as<int64_t>(), static_cast<int64_t>(best[1]));
  EXPECT_NEAR(s2["best_statistics"]["acc"].as<double>(), best[2], 1e-9);
}

TEST(Console, SecondCtrlCStopsAtOnceAndLeavesNoProgressText) {
  TempDir d;
  // Twice, while the progress line is on the screen (the text after the
  // last newline is the line).
  const RunResult r = run_in_terminal(
      kOnline + " --config " + kSerialRecall + " --expdir " + d.str() +
          "/exp --set validation.partial_validation_interval=20"
          " --set training.terminal_conditions.episode_limit=100000"
          // Episodes of some tens of milliseconds: the second press lands
          // while the first one's episode is still running.
          " --set model.hidden_state_size=512",
      100,
      [](const std::string& out) {
        return occurrences(out, "[Partial Validation]") >= 2 &&
               out.substr(out.rfind('\n') + 1).find("ETA ") !=
                   std::string::npos;
      },
      2);
  // Killed by the second SIGINT (128 + 2), or stopped by the first when it
  // came between two episodes (exit 130): either way nothing of the line
  // stays on the screen.
  EXPECT_EQ(r.code, 130) << r.output;
  for (const auto& line : screen(r.output))
    EXPECT_EQ(line.find("ETA "), std::string::npos) << line;
  const YAML::Node s = YAML::LoadFile(
      (only_experiment(d.path() / "exp") / "status.yaml").string());
  EXPECT_HAS(s["state"].as<std::string>() + " " + YAML::Dump(s), "SIGINT");
}

TEST(Console, OfflineAndTesterShowTheirSectionsOnATerminal) {
  TempDir d;
  const std::string config = mnist_config(d);
  d.write("valid_indices.txt", valid_indices());
  const RunResult r = run_in_terminal(kOffline + " --config " + config +
                                      " --expdir " + d.str() + "/exp");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_HAS(r.output, "\r\x1b[KTraining ");
  EXPECT_HAS(r.output, "epoch 1/4");
  EXPECT_HAS(r.output, "\r\x1b[KValidation  0% [");
  EXPECT_HAS(r.output, "] 0/2");
  EXPECT_HAS(r.output, "Summary: finished, Not converged: Epoch Limit");
  const fs::path exp = only_experiment(d.path() / "exp");
  const std::vector<double> best =
      best_row(exp / "validation_set_agg_statistics.csv");
  const YAML::Node s =
      YAML::LoadFile((exp / "status.yaml").string())["summary"];
  EXPECT_NEAR(s["best_validation_loss"].as<double>(), best[0], 1e-9);
  EXPECT_EQ(s["best_episode"].as<int64_t>(), static_cast<int64_t>(best[1]));
  EXPECT_NEAR(s["best_statistics"]["acc"].as<double>(), best[2], 1e-9);
  EXPECT_EQ(s["commands"]["continue"].as<std::string>(),
            "mip-offline-trainer --resume " + exp.string() +
                " --set training.terminal_conditions.epoch_limit=8");

  const RunResult t = run_in_terminal(kTester + " --model " + exp.string());
  ASSERT_EQ(t.code, 0) << t.output;
  EXPECT_HAS(t.output, "\r\x1b[KTest ");
  EXPECT_HAS(t.output, "/4 ");  // 200 test images, batches of 50
  EXPECT_HAS(t.output, "Summary: finished, Tested 4 episodes");
}

TEST(Console, WarningLevelStillShowsTheFolderAndTheResult) {
  TempDir d;
  const RunResult r = run(
      kOnline + " --config " + kSerialRecall + " --expdir " + d.str() +
      "/exp --ll WARNING --set training.terminal_conditions.episode_limit=30");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path exp = only_experiment(d.path() / "exp");
  EXPECT_HAS(r.output, "Experiment folder: " + exp.string() + "\n");
  EXPECT_HAS(r.output, "Summary: finished");
  EXPECT_EQ(r.output.find("[Training]"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(" - info - "), std::string::npos) << r.output;
}

TEST(Console, FailedRunSumsUpWithTheErrorAndHowToContinue) {
  TempDir d;
  const RunResult r = run(kOnline + " --config " + exploding_config(d) +
                          " --expdir " + d.str() + "/exp --plugin-path " +
                          fs::path(MIP_FIXTURE_GOOD).parent_path().string());
  ASSERT_EQ(r.code, 1) << r.output;
  const fs::path exp =
      only_experiment(d.path() / "exp", "training_configuration.yaml");
  // The error is on the line above: the summary does not repeat it.
  EXPECT_HAS(r.output,
             "The last good checkpoints (models/) are kept.\n"
             "Summary: failed, see the error above\n");
  EXPECT_EQ(occurrences(r.output, "The last good checkpoints"), 1u) << r.output;
  EXPECT_HAS(read(exp / "training.log"), "Summary: failed, the ");
  EXPECT_EQ(summary_row(r.output, "continue"),
            "mip-online-trainer --resume " + exp.string());
  const YAML::Node st = YAML::LoadFile((exp / "status.yaml").string());
  EXPECT_EQ(st["summary"]["state"].as<std::string>(), "failed");
  EXPECT_EQ(st["summary"]["terminal_cause"].as<std::string>(),
            st["terminal_cause"].as<std::string>());
  EXPECT_EQ(st["summary"]["episodes"].as<size_t>() + 1,
            lines(exp / "training_statistics.csv"));
}

// --- --help and --version ---------------------------------------------------

/// The text of `help` between the heading `group` and the next blank line.
std::string group_of(const std::string& help, const std::string& group) {
  const size_t at = help.find("\n" + group + ":\n");
  if (at == std::string::npos)
    return "";
  const size_t end = help.find("\n\n", at + 1);
  return help.substr(at, end - at);
}

TEST(WorkerHelp, FlagsInGroupsWithExamplesAndExitCodes) {
  for (const std::string& worker : {kOnline, kOffline, kTester}) {
    const bool tester = worker == kTester;
    const RunResult r = run(worker + " --help");
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string h = r.output;
    EXPECT_HAS(group_of(h, "Experiment"), "--config arg");
    EXPECT_HAS(group_of(h, "Experiment"), "--model arg");
    EXPECT_HAS(group_of(h, "Experiment"), "--seed arg");
    EXPECT_HAS(group_of(h, "Configuration"), "--set arg");
    EXPECT_HAS(group_of(h, "Configuration"), "--lenient");
    EXPECT_HAS(group_of(h, "Output"), "--li arg");
    EXPECT_HAS(group_of(h, "Output"), "--log-level arg");
    EXPECT_HAS(group_of(h, "MI-Prometheus compatibility"), "--ll arg");
    EXPECT_HAS(group_of(h, "MI-Prometheus compatibility"), "--c, --m, --t");
    EXPECT_HAS(group_of(h, "General"), "--version");
    EXPECT_EQ(h.find("Other options"), std::string::npos)
        << "every flag belongs to a group:\n"
        << h;
    EXPECT_EQ(h.find("--resume arg") != std::string::npos, !tester) << h;
    EXPECT_EQ(h.find("--force") != std::string::npos, !tester) << h;
    const std::string name = fs::path(worker).filename().string();
    EXPECT_GE(lines_with(group_of(h, "Examples"), "  " + name + " --").size(),
              3u)
        << h;
    for (const char* code :
         {"  0 ", "  1 ", "  2 ", "  3 ", "  4 ", "  5 ", "  130 "})
      EXPECT_HAS(group_of(h, "Exit codes"), code);
  }
}

/// The real path of the libblas.so this test process runs on ("" if none).
std::string own_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find("libblas.so") != std::string::npos)
      return fs::canonical(line.substr(line.find('/'))).string();
  return "";
}

TEST(WorkerVersion, NamesTheFrameworkLibTorchBlasAndCuda) {
  // mip-plugins too: its versions are what plugins are checked against.
  for (const std::string& worker :
       {kOnline, kOffline, kTester, kBin + "/mip-plugins"}) {
    const RunResult r = run(worker + " --version");
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string name = fs::path(worker).filename().string();
    EXPECT_EQ(r.output.rfind(name + " 0.", 0), 0u) << r.output;
    EXPECT_HAS(r.output, "(MI-Prometheus C++; SDK " MIP_SDK_VERSION
                         ", plugin ABI " +
                             std::to_string(MIP_SDK_ABI) + ")\n");
    EXPECT_HAS(r.output, "\nLibTorch: " TORCH_VERSION " (");
    const auto at = r.output.find("\nBLAS: ");
    ASSERT_NE(at, std::string::npos) << r.output;
    const std::string blas_line =
        r.output.substr(at + 7, r.output.find('\n', at + 1) - at - 7);
    if (const std::string path = own_blas(); !path.empty())
      EXPECT_HAS(blas_line, "(" + path + ")");
    if (own_blas().find("openblas") != std::string::npos)
      EXPECT_EQ(blas_line.rfind("OpenBLAS ", 0), 0u) << blas_line;
    EXPECT_HAS(r.output, "\nCUDA: ");
    if (!torch::cuda::is_available())
      EXPECT_EQ(r.output.find("device(s) visible"), std::string::npos);
  }
}

}  // namespace console_test
}  // namespace mip
