// --nproc N: the worker starts N ranks of itself on the loopback, serves
// their store (as torchrun's agent does), forwards stop signals, and ends
// every rank when one fails.
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <mip/core/distributed.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/signals.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/error.hpp>

extern char** environ;

namespace mip {

namespace {

volatile std::sig_atomic_t g_forward = 0;

void remember_signal(int sig) {
  g_forward = sig;
}

/// The variables a rank reads; the launcher's own values are dropped.
bool is_rank_variable(const std::string& entry) {
  static const char* names[] = {"RANK",
                                "WORLD_SIZE",
                                "LOCAL_RANK",
                                "LOCAL_WORLD_SIZE",
                                "MASTER_ADDR",
                                "MASTER_PORT",
                                "TORCHELASTIC_USE_AGENT_STORE",
                                "TORCHELASTIC_RESTART_COUNT",
                                "TORCHELASTIC_RUN_ID",
                                "MIP_NPROC_CHILD"};
  for (const char* n : names) {
    const std::string prefix = std::string(n) + "=";
    if (entry.compare(0, prefix.size(), prefix) == 0)
      return true;
  }
  return false;
}

std::string describe_status(int status) {
  if (WIFEXITED(status))
    return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return std::string("was killed by ") + signal_name(WTERMSIG(status));
  return "ended";
}

int exit_code(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : kExitFailed;
}

}  // namespace

int launch_local_ranks(const WorkerOptions& options, int nproc) {
  Logger& log = logger(options.worker);
  logging_set_console_level(parse_log_level(options.log_level));
  // The store the ranks meet at; port 0: the system picks a free one.
  c10d::TCPStoreOptions store_options;
  store_options.port = 0;
  store_options.isServer = true;
  store_options.waitWorkers = false;
  store_options.timeout = std::chrono::milliseconds(
      static_cast<int64_t>(options.dist_timeout * 1000));
  c10d::TCPStore store("127.0.0.1", store_options);
  const int port = store.getPort();

  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (!is_rank_variable(*e))
      env.emplace_back(*e);
  const std::vector<std::string> common = {
      "WORLD_SIZE=" + std::to_string(nproc),
      "LOCAL_WORLD_SIZE=" + std::to_string(nproc),
      "MASTER_ADDR=127.0.0.1",
      "MASTER_PORT=" + std::to_string(port),
      "TORCHELASTIC_USE_AGENT_STORE=True",
      "TORCHELASTIC_RESTART_COUNT=0",
      "MIP_NPROC_CHILD=1"};
  env.insert(env.end(), common.begin(), common.end());

  struct sigaction sa {};
  sa.sa_handler = remember_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP})
    ::sigaction(sig, &sa, nullptr);

  std::vector<pid_t> pids(static_cast<size_t>(nproc), -1);
  std::vector<int> codes(static_cast<size_t>(nproc), -1);
  const pid_t parent = ::getpid();
  for (int r = 0; r < nproc; ++r) {
    // Everything exec needs is built before fork: a forked child of a
    // threaded process may only make system calls.
    std::vector<std::string> rank_env = env;
    rank_env.push_back("RANK=" + std::to_string(r));
    rank_env.push_back("LOCAL_RANK=" + std::to_string(r));
    std::vector<char*> envp, argv;
    for (auto& s : rank_env)
      envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = options.command_line;
    for (auto& s : args)
      argv.push_back(s.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    MIP_CHECK(pid >= 0, Error, options.worker, " --nproc: cannot start rank ",
              r, ": ", std::strerror(errno));
    if (pid == 0) {
      // Its own process group: Ctrl-C reaches the ranks once, through this
      // launcher. A launcher that dies takes its ranks with it.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent)
        ::_exit(kExitFailed);
      ::execve("/proc/self/exe", argv.data(), envp.data());
      ::_exit(127);
    }
    pids[static_cast<size_t>(r)] = pid;
  }
  log.info("--nproc " + std::to_string(nproc) + ": started " +
           std::to_string(nproc) + " ranks on 127.0.0.1 (store port " +
           std::to_string(port) + ")");

  using clock = std::chrono::steady_clock;
  const auto grace = std::chrono::milliseconds(
      static_cast<int64_t>(std::min(options.dist_timeout, 30.0) * 1000));
  clock::time_point kill_at = clock::time_point::max();
  int alive = nproc;
  int failed_rank = -1;
  int forwarded = 0;
  while (alive > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      const auto it = std::find(pids.begin(), pids.end(), pid);
      if (it == pids.end())
        continue;
      const int r = static_cast<int>(it - pids.begin());
      codes[static_cast<size_t>(r)] = exit_code(status);
      *it = -1;
      --alive;
      const bool failed =
          codes[static_cast<size_t>(r)] != kExitOk &&
          !(forwarded && codes[static_cast<size_t>(r)] == kExitInterrupted);
      if (failed && failed_rank < 0) {
        failed_rank = r;
        if (alive > 0)
          log.error("rank " + std::to_string(r) + " (pid " +
                    std::to_string(pid) + ") " + describe_status(status) +
                    "; ending the other ranks");
        for (pid_t other : pids)
          if (other > 0)
            ::kill(other, SIGTERM);
        kill_at = clock::now() + grace;
      }
      continue;
    }
    if (pid < 0 && errno != EINTR && errno != ECHILD)
      break;
    if (const int sig = g_forward) {
      g_forward = 0;
      forwarded = sig;
      for (pid_t p : pids)
        if (p > 0)
          ::kill(p, sig);
    }
    if (clock::now() >= kill_at) {
      for (size_t r = 0; r < pids.size(); ++r)
        if (pids[r] > 0) {
          log.error("rank " + std::to_string(r) + " (pid " +
                    std::to_string(pids[r]) + ") did not stop within " +
                    std::to_string(grace.count() / 1000) + " s; killed");
          ::kill(pids[r], SIGKILL);
        }
      kill_at = clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (failed_rank < 0)
    return codes[0];
  return codes[0] != kExitOk ? codes[0]
                             : codes[static_cast<size_t>(failed_rank)];
}

}  // namespace mip
