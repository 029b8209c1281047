// The Slurm launcher of the grid trainer: one job-array script in the grid
// folder (a task per run), submitted with sbatch, followed with squeue and
// the end record each task writes; Ctrl-C cancels the job with scancel.
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

constexpr const char* kScript = "slurm_job.sh";

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

/// The job-array script: task k runs status.runs[k], fresh from its resolved
/// configuration or, when its experiment folder holds a checkpoint, through
/// the trainer's --resume; it writes runs/<id>.exit when the trainer ends.
std::string job_script(const std::string& grid_dir,
                       const GridStatus& status,
                       const SlurmJob& job) {
  const SlurmSettings& s = status.settings.slurm;
  const size_t n = status.runs.size();
  std::string sh =
      "#!/bin/bash\n"
      "# Written by " +
      status.settings.kind_tool +
      ": one Slurm array task per run of this grid;\n"
      "# SLURM_ARRAY_TASK_ID k runs runs[k]. Submitted as\n"
      "#   sbatch --parsable --array=<tasks>%<max_concurrent_runs> "
      "slurm_job.sh\n"
      "#SBATCH --job-name=mip-grid\n"
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
        "\nworker=" + sh_quote(status.settings.worker) + "\nruns=(";
  for (size_t k = 0; k < n; ++k)
    sh += (k == 0 ? "" : " ") + status.runs[k].id;
  sh += ")\nflags=(";
  for (size_t k = 0; k < job.worker_args.size(); ++k)
    sh += (k == 0 ? "" : " ") + sh_quote(job.worker_args[k]);
  sh += ")\n";
  sh += R"sh(task=${SLURM_ARRAY_TASK_ID:?run this script with sbatch --array}
id=${runs[$task]}
log="$grid/runs/$id.log"
exec 2>>"$log"  # this script's own errors go to the run's log too
cd "$grid" || exit 1
# A run with a checkpoint continues through the trainer's own --resume.
folder=
for last in "$grid"/*/*/*_"$id"/models/model_last.pt; do
  [ -f "$last" ] && folder=${last%/models/model_last.pt}
done
if [ -n "$folder" ]; then
  args=(--resume "$folder")
else
  args=(--config "$grid/runs/$id.yaml" --expdir "$grid" --savetag "$id")
fi
{
  printf '=== %s started on %s (Slurm job %s_%s):' "$(date '+%F %T')" \
    "$(hostname)" "${SLURM_ARRAY_JOB_ID:-?}" "$task"
  printf " '%s'" "$worker" "${args[@]}" "${flags[@]}"
  printf '\n'
} >>"$log"
# scancel and the time limit send SIGTERM to every process of the task: the
# trainer saves and stops; this script only waits for it.
"$worker" "${args[@]}" "${flags[@]}" >>"$log" 2>&1 </dev/null &
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
  "$(date '+%F %T')" >"$grid/runs/$id.exit.tmp"
mv -f "$grid/runs/$id.exit.tmp" "$grid/runs/$id.exit"
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

/// Follows the runs `open` of `job` until none is queued; returns the stop
/// signal received (after which the job was cancelled), or 0.
int follow(const std::string& grid_dir,
           const std::string& file,
           GridStatus& status,
           std::set<size_t> open,
           const std::string& job,
           const std::function<void(GridRun&)>& after,
           Logger& log) {
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
  auto last_ok = std::chrono::steady_clock::now();
  while (!open.empty()) {
    if (stop == 0 && (stop = g_stop.load()) != 0) {
      log.warn(std::string(signal_name(stop)) + ": cancelling Slurm job " +
               job + " (scancel: SIGTERM to its tasks, the trainers save)");
      const CommandResult c = run_command({"scancel", job});
      if (c.code != 0)
        log.error("scancel " + job + " failed: " + trim(c.output) +
                  "; cancel it yourself");
    }
    std::map<size_t, std::pair<std::string, std::string>> queued;
    std::string error;
    const bool ok = queued_tasks(job, queued, error);
    if (ok) {
      last_ok = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_ok >
               std::chrono::minutes(2)) {
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
      const bool ended =
          read_exit(root / ("runs/" + r.id + ".exit"), end, node);
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
          r.cause =
              "the Slurm task ended without an end record (killed by "
              "Slurm: cancelled, time limit or memory; see " +
              r.log + ")";
          after(r);
          log_end(r, log);
        } else if (stop == 0) {
          r.state = "failed";
          r.cause =
              "the Slurm task left the queue without starting "
              "(cancelled?)";
          log_end(r, log);
        }
        changed = true;
        it = open.erase(it);
        continue;
      }
      if (ended) {
        end.stopped = stop != 0;
        r.node = node;
        record_end(r, end, 0);
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

int drive_slurm(const std::string& grid_dir,
                const std::string& file,
                GridStatus& status,
                const std::vector<size_t>& todo,
                const SlurmJob& job,
                const std::function<void(GridRun&)>& after,
                Logger& log) {
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
      if (!job.wait) {
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
  const fs::path script = root / kScript;
  write_file_atomic(script.string(), job_script(grid_dir, status, job));
  fs::permissions(script, fs::perms::owner_exec | fs::perms::group_exec,
                  fs::perm_options::add);
  std::string array;
  for (size_t i : submit) {
    array += (array.empty() ? "" : ",") + std::to_string(i);
    std::error_code ec;
    fs::remove(root / ("runs/" + status.runs[i].id + ".exit"), ec);
  }
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
  if (!job.wait) {
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
