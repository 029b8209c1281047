// The Slurm launcher of the grid workers: one job-array script in the grid
// folder (a task per run), submitted with sbatch, followed with squeue and
// the end record each task writes, a task Slurm ended named by sacct or
// scontrol; Ctrl-C cancels the job with scancel.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <mip/core/files.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/signals.hpp>
#include <mip/core/text.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/error.hpp>

#include "drive.hpp"

namespace fs = std::filesystem;

namespace mip::grid {

namespace {

/// The job script of a grid folder: the trainer's and the tester's apart.
std::string script_name(const GridStatus& status) {
  return status.settings.kind == "testing" ? "slurm_test_job.sh"
                                           : "slurm_job.sh";
}

std::atomic<int> g_stop{0};

extern "C" void mip_slurm_on_signal(int sig) {
  g_stop.store(sig);
}

/// `text` as one bash word: single-quoted, a ' written as '\''.
std::string sh_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// The output and exit code of a Slurm command.
struct CommandResult {
  int code = -1;
  std::string output;  ///< stdout and stderr
};

/// Runs `args` (argv[0] looked up on PATH), its output captured.
CommandResult run_command(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  MIP_CHECK(::pipe(fds) == 0, Error, "cannot run ", args[0],
            ": pipe failed: ", std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execvp(argv[0], argv.data());
    const char* why = std::strerror(errno);
    [[maybe_unused]] auto w = ::write(2, why, std::strlen(why));
    ::_exit(127);
  }
  ::close(fds[1]);
  CommandResult r;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    r.output.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

/// `name` is an executable on PATH.
bool on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (const auto& dir : split_skip_empty(path ? path : "", ':'))
    if (::access((fs::path(dir) / name).c_str(), X_OK) == 0)
      return true;
  return false;
}

/// A run's end record: its log with .exit for .log (runs/run003.exit).
std::string exit_record(const GridRun& r) {
  const std::string& log = r.log;
  const bool dot_log =
      log.size() > 4 && log.compare(log.size() - 4, 4, ".log") == 0;
  return (dot_log ? log.substr(0, log.size() - 4) : log) + ".exit";
}

/// The job-array script: task k runs status.runs[k] with the arguments the
/// tool gives it (or, with resume_checkpoints, through the worker's --resume
/// when its experiment folder holds a checkpoint); it writes the run's end
/// record when the worker ends.
std::string job_script(const std::string& grid_dir,
                       const GridStatus& status,
                       const ChildCommand& command) {
  const SlurmSettings& s = status.settings.slurm;
  const size_t n = status.runs.size();
  std::string sh =
      "#!/bin/bash\n"
      "# Written by " +
      status.settings.kind_tool +
      ": one Slurm array task per run of this grid;\n"
      "# SLURM_ARRAY_TASK_ID k runs runs[k]. Submitted as\n"
      "#   sbatch --parsable --array=<tasks>%<max_concurrent_runs> " +
      script_name(status) + "\n#SBATCH --job-name=" +
      (status.settings.kind == "testing" ? "mip-grid-test" : "mip-grid") +
      "\n"
      "#SBATCH --array=0-" +
      std::to_string(n - 1) +
      (status.settings.max_concurrent_runs > 0
           ? "%" + std::to_string(status.settings.max_concurrent_runs)
           : std::string()) +
      "\n#SBATCH --output=/dev/null\n"
      "#SBATCH --cpus-per-task=" +
      std::to_string(s.cpus_per_task) + "\n";
  if (s.gpus_per_task > 0)
    sh += "#SBATCH --gpus-per-task=" + std::to_string(s.gpus_per_task) + "\n";
  if (!s.partition.empty())
    sh += "#SBATCH --partition=" + s.partition + "\n";
  if (!s.time.empty())
    sh += "#SBATCH --time=" + s.time + "\n";
  sh += "set -u\ngrid=" + sh_quote(grid_dir) +
        "\nworker=" + sh_quote(status.settings.worker) +
        "\ntask=${SLURM_ARRAY_TASK_ID:?run this script with sbatch --array}\n"
        "# Each task: its run id, log, end record and the worker's "
        "arguments.\ncase $task in\n";
  ChildCommand fresh_command = command;
  fresh_command.resume_checkpoints = false;  // decided below, at run time
  for (size_t k = 0; k < n; ++k) {
    const GridRun& r = status.runs[k];
    sh += "  " + std::to_string(k) + ") id=" + sh_quote(r.id) +
          " log=" + sh_quote(r.log) + " record=" + sh_quote(exit_record(r)) +
          "\n     args=(";
    const auto a = child_args(grid_dir, status.settings, fresh_command, r,
                              static_cast<size_t>(s.cpus_per_task));
    for (size_t i = 0; i < a.size(); ++i)
      sh += (i == 0 ? "" : " ") + sh_quote(a[i]);
    sh += ") ;;\n";
  }
  sh += "  *) echo \"no run $task in this grid\" >&2; exit 1 ;;\nesac\n";
  sh += R"sh(log="$grid/$log"
exec 2>>"$log"  # this script's own errors go to the run's log too
cd "$grid" || exit 1
)sh";
  if (command.resume_checkpoints) {
    // The flags every child gets follow the fresh arguments; a run with a
    // checkpoint keeps them and continues through the worker's --resume.
    const size_t common =
        status.settings.child_flags.size() + 2 + (status.settings.gpu ? 1 : 0);
    sh +=
        "# A run with a checkpoint continues through the worker's own "
        "--resume.\nfolder=\n"
        "for last in \"$grid\"/*/*/*_\"$id\"/models/model_last.pt; do\n"
        "  [ -f \"$last\" ] && folder=${last%/models/model_last.pt}\n"
        "done\n"
        "if [ -n \"$folder\" ]; then\n"
        "  args=(--resume \"$folder\" \"${args[@]: -" +
        std::to_string(common) + "}\")\nfi\n";
  }
  sh += R"sh({
  printf '=== %s started on %s (Slurm job %s_%s):' "$(date '+%F %T')" \
    "$(hostname)" "${SLURM_ARRAY_JOB_ID:-?}" "$task"
  printf " '%s'" "$worker" "${args[@]}"
  printf '\n'
} >>"$log"
# scancel and the time limit send SIGTERM to every process of the task: the
# worker saves and stops; this script only waits for it.
"$worker" "${args[@]}" >>"$log" 2>&1 </dev/null &
child=$!
interrupted=0
trap 'interrupted=1' TERM INT HUP
while :; do
  interrupted=0
  wait "$child"
  code=$?
  [ "$interrupted" = 1 ] || break
done
printf 'exit_code: %s\nnode: %s\nended: %s\n' "$code" "$(hostname)" \
  "$(date '+%F %T')" >"$grid/$record.tmp"
mv -f "$grid/$record.tmp" "$grid/$record"
exit "$code"
)sh";
  return sh;
}

/// The array tasks of `job` still in the queue: index -> (state, node).
/// False when squeue failed (the message in `error`).
bool queued_tasks(const std::string& job,
                  std::map<size_t, std::pair<std::string, std::string>>& tasks,
                  std::string& error) {
  tasks.clear();
  const CommandResult r = run_command({"squeue", "--noheader", "--array",
                                       "--jobs", job, "--format", "%K|%T|%N"});
  if (r.code != 0) {
    // A job purged from the controller's memory is no longer queued.
    if (r.output.find("Invalid job id") != std::string::npos)
      return true;
    error = "squeue failed (exit code " + std::to_string(r.code) +
            "): " + trim(r.output);
    return false;
  }
  for (const auto& line : split_skip_empty(r.output, '\n')) {
    const auto f = split(trim(line), '|');
    if (f.size() < 3 || f[0].empty() ||
        f[0].find_first_not_of("0123456789") != std::string::npos)
      continue;
    tasks[std::stoul(f[0])] = {f[1], f[2]};
  }
  return true;
}

/// Reads runs/<id>.exit into `end` and `node`; false when there is none.
bool read_exit(const fs::path& file, ChildEnd& end, std::string& node) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    return false;
  try {
    const YAML::Node n = YAML::LoadFile(file.string());
    const int code = n["exit_code"].as<int>(-1);
    node = n["node"] ? n["node"].as<std::string>() : "";
    // bash reports a signal as 128 + its number; 130 is the trainer's own
    // "stopped after saving".
    if (code > 128 && code != kExitInterrupted)
      end.signal = code - 128;
    else
      end.exit_code = code;
  } catch (const YAML::Exception&) {
    return false;  // being written: read it at the next poll
  }
  return true;
}

/// What a final Slurm job state means, or "" for a state that is not final
/// (the task is still pending, running or completing).
std::string slurm_state_meaning(const std::string& state) {
  static const std::map<std::string, std::string> meanings = {
      {"BOOT_FAIL", "its node failed to boot"},
      {"CANCELLED", "cancelled (scancel, or an administrator)"},
      {"COMPLETED", "completed"},
      {"DEADLINE", "past its deadline (--deadline)"},
      {"FAILED", "failed (a non-zero exit code, or it could not start)"},
      {"NODE_FAIL", "its node failed"},
      {"OUT_OF_MEMORY", "out of memory (over its memory limit)"},
      {"PREEMPTED", "preempted by another job"},
      {"REVOKED", "revoked (started on another cluster)"},
      {"TIMEOUT", "over its time limit (--time)"}};
  const auto it = meanings.find(state);
  return it == meanings.end() ? "" : it->second;
}

/// How Slurm says an array task ended.
struct SlurmEnd {
  std::string state;   ///< CANCELLED, TIMEOUT, ... ("" : not known)
  std::string detail;  ///< "scontrol: Reason=TimeLimit, ExitCode=0:15"
};

/// "ExitCode=0:15" and "Reason=TimeLimit" unless empty or None.
std::string end_detail(const std::string& source,
                       const std::string& reason,
                       const std::string& exit_code) {
  std::string d = source + ":";
  if (!reason.empty() && reason != "None")
    d += " Reason=" + reason + ",";
  return d + " ExitCode=" + exit_code;
}

/// Slurm's word on how array task `task` ("<job>_<k>") ended: sacct where
/// accounting runs, else `scontrol show job` (which keeps a finished job
/// for MinJobAge seconds). An empty state when neither knows (yet).
SlurmEnd slurm_end(const std::string& task) {
  SlurmEnd end;
  if (on_path("sacct")) {
    const CommandResult r =
        run_command({"sacct", "--jobs", task, "--allocations", "--noheader",
                     "--parsable2", "--format", "State,ExitCode,Reason"});
    // Without accounting sacct fails ("accounting storage is disabled").
    for (const auto& line :
         split_skip_empty(r.code == 0 ? r.output : "", '\n')) {
      const auto f = split(trim(line), '|');
      const std::string state = split(f[0], ' ')[0];  // "CANCELLED by 0"
      if (f.size() >= 3 && !slurm_state_meaning(state).empty())
        return {state, end_detail("sacct", f[2], f[1])};
    }
  }
  if (on_path("scontrol")) {
    const CommandResult r =
        run_command({"scontrol", "--oneliner", "show", "job", task});
    const auto us = task.find('_');
    const std::string index =
        us == std::string::npos ? "" : task.substr(us + 1);
    for (const auto& line :
         split_skip_empty(r.code == 0 ? r.output : "", '\n')) {
      std::map<std::string, std::string> fields;
      for (const auto& word : split_skip_empty(line, ' ')) {
        const auto eq = word.find('=');
        if (eq != std::string::npos)
          fields[word.substr(0, eq)] = word.substr(eq + 1);
      }
      // A pending array's other tasks share one record ("ArrayTaskId=2-5").
      if (!index.empty() && fields["ArrayTaskId"] != index)
        continue;
      if (!slurm_state_meaning(fields["JobState"]).empty())
        return {fields["JobState"],
                end_detail("scontrol", fields["Reason"], fields["ExitCode"])};
    }
  }
  return end;
}

/// Adds Slurm's word on how run `r`'s task ended to its record: the state
/// (slurm_state), and in front of its cause unless the task completed or
/// merely failed with the exit code the cause already gives. A TIMEOUT is a
/// timeout, as on the local launcher.
void name_slurm_end(GridRun& r, const std::string& how) {
  if (r.job.empty())
    return;
  const SlurmEnd e = slurm_end(r.job);
  if (e.state.empty())
    return;
  r.slurm_state = e.state;
  r.timed_out = r.timed_out || e.state == "TIMEOUT";
  const bool said =
      e.state == "COMPLETED" ||
      (e.state == "FAILED" && (r.exit_code > 0 || !r.signal.empty()));
  if (!said)
    r.cause = "Slurm " + e.state + ": " + slurm_state_meaning(e.state) + " (" +
              e.detail + ")" + (how.empty() ? "" : "; " + how);
}

/// Follows the runs `open` of `job` until none is queued; returns the stop
/// signal received (after which the job was cancelled), or 0.
int follow(const std::string& grid_dir,
           const std::string& file,
           GridStatus& status,
           std::set<size_t> open,
           const std::string& job,
           const std::function<void(GridRun&)>& after,
           Logger& log) {
  using Clock = std::chrono::steady_clock;
  const fs::path root(grid_dir);
  struct sigaction sa {
  }, old[3];
  sa.sa_handler = mip_slurm_on_signal;
  sigemptyset(&sa.sa_mask);
  const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
  for (int k = 0; k < 3; ++k)
    ::sigaction(sigs[k], &sa, &old[k]);
  g_stop.store(0);
  int stop = 0;
  std::map<size_t, int> unseen;  // polls a task was neither queued nor ended
  std::map<size_t, Clock::time_point> recorded;  // end record, still queued
  auto last_ok = Clock::now();
  while (!open.empty()) {
    if (stop == 0 && (stop = g_stop.load()) != 0) {
      log.warn(std::string(signal_name(stop)) + ": cancelling Slurm job " +
               job + " (scancel: SIGTERM to its tasks, the workers save)");
      const CommandResult c = run_command({"scancel", job});
      if (c.code != 0)
        log.error("scancel " + job + " failed: " + trim(c.output) +
                  "; cancel it yourself");
    }
    std::map<size_t, std::pair<std::string, std::string>> queued;
    std::string error;
    const bool ok = queued_tasks(job, queued, error);
    if (ok) {
      last_ok = Clock::now();
    } else if (Clock::now() - last_ok > std::chrono::minutes(2)) {
      throw Error(error + "; the job " + job +
                  " goes on: follow it again with " +
                  status.settings.kind_tool + " --resume '" + grid_dir + "'");
    }
    bool changed = false;
    for (auto it = open.begin(); it != open.end();) {
      const size_t i = *it;
      GridRun& r = status.runs[i];
      ChildEnd end;
      std::string node;
      const bool ended = read_exit(root / exit_record(r), end, node);
      const auto q = queued.find(i);
      const bool running = q != queued.end() && q->second.first != "PENDING";
      if ((running || ended) && r.state != "running") {
        start_attempt(r);
        r.node = running ? q->second.second : node;
        changed = true;
        log.info(r.id + " started on " + r.node + " (Slurm task " + r.job +
                 ")");
      }
      if (!ended && ok && q == queued.end() && ++unseen[i] >= 3) {
        // Gone from the queue without an end record: never started
        // (cancelled while pending) or killed with its script.
        if (r.state == "running") {
          r.ended = now();
          r.state = stop != 0 ? "interrupted" : "failed";
          r.cause = "the task was killed before it wrote its end record (see " +
                    r.log + ")";
          name_slurm_end(r, r.cause);
          if (r.slurm_state.empty())
            r.cause =
                "the Slurm task ended without an end record (killed by "
                "Slurm: cancelled, time limit or memory; see " +
                r.log + ")";
          after(r);
          log_end(r, log);
        } else if (stop == 0) {  // else pending: cancelled by this grid
          r.ended = now();
          r.state = "failed";
          r.cause = "the Slurm task left the queue without starting";
          name_slurm_end(r, "before it started");
          if (r.slurm_state.empty())
            r.cause += " (cancelled?)";
          log_end(r, log);
        }
        changed = true;
        it = open.erase(it);
        continue;
      }
      // A task that failed is recorded once Slurm has ended it too (its
      // state is then final): Slurm's cause goes into its record.
      const bool failed = end.exit_code != 0 || end.signal != 0;
      if (ended && failed && q != queued.end() &&
          Clock::now() - recorded.emplace(i, Clock::now()).first->second <
              std::chrono::seconds(30)) {
        ++it;
        continue;
      }
      if (ended) {
        end.stopped = stop != 0;
        r.node = node;
        record_end(r, end, 0);
        if (failed)
          name_slurm_end(r, r.cause);
        after(r);
        log_end(r, log);
        changed = true;
        it = open.erase(it);
        continue;
      }
      ++it;
    }
    if (changed)
      write_grid_status(grid_dir, file, status);
    if (!open.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  for (int k = 0; k < 3; ++k)
    ::sigaction(sigs[k], &old[k], nullptr);
  return stop;
}

}  // namespace

void require_slurm_tools() {
  for (const char* tool : {"sbatch", "squeue", "scancel"})
    MIP_CHECK(on_path(tool), ConfigError, "--launcher slurm: [", tool,
              "] not found on PATH; run the grid on a machine that can submit "
              "to your Slurm cluster (Debian: apt-get install slurm-client), "
              "or use --launcher local");
}

std::string slurm_word(const std::string& what, const std::string& value) {
  MIP_CHECK(!value.empty() &&
                value.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_:.,") == std::string::npos,
            ConfigError, what, ": [", value,
            "] is not a Slurm partition or time (letters, digits and -_:., "
            "only; times as minutes, MM:SS, HH:MM:SS or D-HH)");
  return value;
}

int drive_slurm(const std::string& grid_dir,
                const std::string& file,
                GridStatus& status,
                const std::vector<size_t>& todo,
                const ChildCommand& command,
                bool wait,
                Logger& log) {
  const auto& after = command.after;
  const fs::path root(grid_dir);
  require_slurm_tools();
  SlurmSettings& s = status.settings.slurm;
  // A job submitted before (--no-wait, or a grid stopped while following)
  // is collected first; while it still has queued tasks it is only
  // followed, never submitted twice.
  if (!s.job.empty()) {
    std::map<size_t, std::pair<std::string, std::string>> queued;
    std::string error;
    MIP_CHECK(queued_tasks(s.job, queued, error), Error, error);
    std::set<size_t> open;
    for (size_t i = 0; i < status.runs.size(); ++i)
      if ((status.runs[i].state == "pending" ||
           status.runs[i].state == "running") &&
          status.runs[i].job.rfind(s.job + "_", 0) == 0)
        open.insert(i);
    if (!queued.empty()) {
      if (!wait) {
        log.info("Slurm job " + s.job + " has " +
                 std::to_string(queued.size()) +
                 " tasks queued or running; nothing submitted");
        return kExitOk;
      }
      log.info("following Slurm job " + s.job + " (" +
               std::to_string(queued.size()) +
               " tasks queued or running); nothing submitted");
      const int stop = follow(grid_dir, file, status, open, s.job, after, log);
      return finish(grid_dir, file, status, stop, log);
    }
    if (!open.empty())
      follow(grid_dir, file, status, open, s.job, after, log);
  }
  std::vector<size_t> submit;
  for (size_t i : todo)
    if (status.runs[i].state != "finished")
      submit.push_back(i);
  if (submit.empty())
    return finish(grid_dir, file, status, 0, log);
  const fs::path script = root / script_name(status);
  write_file_atomic(script.string(), job_script(grid_dir, status, command));
  fs::permissions(script, fs::perms::owner_exec | fs::perms::group_exec,
                  fs::perm_options::add);
  std::vector<int> indices;
  for (size_t i : submit) {
    indices.push_back(static_cast<int>(i));
    std::error_code ec;
    fs::remove(root / exit_record(status.runs[i]), ec);
  }
  std::string array = cpu_list(indices);  // "0-3,6", as sbatch --array reads it
  if (status.settings.max_concurrent_runs > 0)
    array += "%" + std::to_string(status.settings.max_concurrent_runs);
  const CommandResult r = run_command(
      {"sbatch", "--parsable", "--array=" + array, script.string()});
  std::string id = trim(r.output);
  id = id.substr(0, id.find(';'));  // "<job id>;<cluster>"
  MIP_CHECK(r.code == 0 && !id.empty() &&
                id.find_first_not_of("0123456789") == std::string::npos,
            Error, "--launcher slurm: sbatch ", script.string(),
            " failed (exit code ", r.code, "): ", trim(r.output),
            "\n  check --partition, --time, --cpus-per-task and "
            "--gpus-per-task (or grid_settings.slurm) against sinfo");
  s.job = id;
  for (size_t i : submit) {
    GridRun& run = status.runs[i];
    run.state = "pending";
    run.job = id + "_" + std::to_string(i);
    run.node.clear();
  }
  write_grid_status(grid_dir, file, status);
  log.info("submitted Slurm job " + id + ": " + std::to_string(submit.size()) +
           " array tasks (" + array + ") of " + script.string());
  if (!wait) {
    log.info("not following (--no-wait): squeue --jobs " + id + " shows it; " +
             status.settings.kind_tool + " --resume '" + grid_dir +
             "' follows it and records every run in " + (root / file).string() +
             "; scancel " + id + " cancels it");
    return kExitOk;
  }
  const std::set<size_t> open(submit.begin(), submit.end());
  const int stop = follow(grid_dir, file, status, open, id, after, log);
  return finish(grid_dir, file, status, stop, log);
}

}  // namespace mip::grid
