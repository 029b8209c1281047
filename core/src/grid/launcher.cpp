// The local launcher of the grid workers: slots of cores (and devices),
// children started by fork and exec with an argument vector, each in its own
// process group with its own cores, its output in its own log; stop signals
// forwarded; timeouts.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include <mip/core/files.hpp>
#include <mip/core/signals.hpp>
#include <mip/core/text.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/error.hpp>

#include "grid.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace mip::grid {

namespace {

std::atomic<int> g_signals{0};  ///< stop signals received
std::atomic<int> g_last_signal{0};

extern "C" void mip_grid_on_signal(int sig) {
  g_last_signal.store(sig);
  g_signals.fetch_add(1);
}

/// Installs the grid's own handlers: count the signals, forward them later.
void install_grid_handlers() {
  struct sigaction sa {};
  sa.sa_handler = mip_grid_on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP})
    ::sigaction(sig, &sa, nullptr);
}

/// The cores this process may run on.
std::vector<int> own_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set))
        cpus.push_back(c);
  if (cpus.empty())
    cpus.push_back(0);
  return cpus;
}

/// The CUDA devices of this machine: CUDA_VISIBLE_DEVICES when set, else
/// the NVIDIA driver's list.
std::vector<std::string> detect_gpus() {
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES"); v && *v)
    return split_list(v, ',');
  std::vector<std::string> gpus;
  std::error_code ec;
  const fs::path driver = "/proc/driver/nvidia/gpus";
  if (fs::is_directory(driver, ec))
    for (auto it = fs::directory_iterator(driver, ec);
         !ec && it != fs::directory_iterator(); ++it)
      gpus.push_back(std::to_string(gpus.size()));
  return gpus;
}

const char* const kExitMeanings[] = {"finished",
                                     "the run failed",
                                     "bad command line",
                                     "bad configuration",
                                     "a plugin could not be found or loaded",
                                     "--gpu without a usable CUDA "
                                     "device"};

}  // namespace

std::string exit_meaning(int code) {
  if (code >= 0 && code <= kExitNoCuda)
    return kExitMeanings[code];
  if (code == kExitInterrupted)
    return "stopped after saving (resumable)";
  if (code == 127)
    return "the worker could not be started (see its log)";
  return "unknown exit code";
}

std::string now() {
  const auto since = std::chrono::system_clock::now().time_since_epoch();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(since).count();
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03d", static_cast<int>(ms % 1000));
  return buf;
}

std::string cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1)
      ++j;
    out += (out.empty() ? "" : ",") + std::to_string(cpus[i]);
    if (j > i)
      out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

std::vector<Slot> make_slots(int max_concurrent,
                             bool gpu,
                             const std::vector<std::string>& gpus_given,
                             std::vector<std::string>& notes) {
  const std::vector<int> cpus = own_cpus();
  std::vector<std::string> gpus;
  size_t n = cpus.size();
  if (gpu) {
    gpus = gpus_given.empty() ? detect_gpus() : gpus_given;
    MIP_CHECK(!gpus.empty(), ConfigError,
              "--gpu: no CUDA device found (CUDA_VISIBLE_DEVICES is unset and "
              "/proc/driver/nvidia/gpus lists none); name the devices with "
              "--gpus 0,1 or drop --gpu");
    n = gpus.size();
  }
  const char* what = gpu ? " devices" : " cores this process may use";
  if (max_concurrent > 0 && static_cast<size_t>(max_concurrent) > n)
    notes.push_back("max_concurrent_runs " + std::to_string(max_concurrent) +
                    " is more than the " + std::to_string(n) + what +
                    "; running " + std::to_string(n) + " at a time");
  else if (max_concurrent > 0)
    n = static_cast<size_t>(max_concurrent);
  std::vector<Slot> slots(n);
  // Cores split as evenly as they go (sizes differ by at most one); with
  // more slots than cores (GPUs), slots share cores round robin.
  if (cpus.size() >= n) {
    size_t next = 0;
    for (size_t k = 0; k < n; ++k) {
      const size_t count = cpus.size() / n + (k < cpus.size() % n ? 1 : 0);
      for (size_t c = 0; c < count; ++c)
        slots[k].cpus.push_back(cpus[next++]);
    }
  } else {
    for (size_t k = 0; k < n; ++k)
      slots[k].cpus.push_back(cpus[k % cpus.size()]);
  }
  for (size_t k = 0; gpu && k < n; ++k)
    slots[k].gpu = gpus[k];
  return slots;
}

std::string find_worker(const std::string& name, const std::string& flag) {
  auto executable = [](const fs::path& p) {
    return ::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p);
  };
  if (name.find('/') != std::string::npos) {
    MIP_CHECK(executable(name), ConfigError, flag, " [", name,
              "]: no executable file there; give the path of a worker, e.g. ",
              "mip-online-trainer");
    return fs::absolute(name).lexically_normal().string();
  }
  std::vector<std::string> tried;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path beside = self.parent_path() / name;
    if (executable(beside))
      return beside.string();
    tried.push_back(self.parent_path().string());
  }
  const char* path = std::getenv("PATH");
  for (const auto& dir : split_skip_empty(path ? path : "", ':')) {
    const fs::path p = fs::path(dir) / name;
    if (executable(p))
      return fs::absolute(p).string();
    tried.push_back(dir);
  }
  std::string list;
  for (const auto& t : tried)
    list += "\n  " + t;
  throw ConfigError(flag + " [" + name +
                    "]: not found beside this program nor on PATH; looked "
                    "in:" +
                    list + "\n  give its path, or install it");
}

int run_children(const std::vector<size_t>& todo,
                 const std::vector<Slot>& slots,
                 double timeout_s,
                 const std::function<ChildSpec(size_t, const Slot&)>& start,
                 const std::function<void(size_t, const ChildEnd&)>& ended) {
  using Clock = std::chrono::steady_clock;
  struct Running {
    pid_t pid = 0;
    size_t index = 0;
    Clock::time_point since;
    bool timed_out = false;
    bool killed = false;  ///< SIGKILL sent after the grace time
    bool stopped = false;
  };
  std::vector<Running> running(slots.size());  // by slot; pid 0: free
  install_grid_handlers();
  int forwarded = 0;  // signals forwarded so far
  int stop_signal = 0;
  size_t next = 0;
  const auto grace = std::chrono::seconds(20);
  auto busy = [&] {
    for (const auto& r : running)
      if (r.pid != 0)
        return true;
    return false;
  };
  while (true) {
    // Forward new stop signals to every running child's process group.
    const int received = g_signals.load();
    if (received > forwarded) {
      stop_signal = g_last_signal.load();
      for (; forwarded < received; ++forwarded)
        for (auto& r : running)
          if (r.pid != 0) {
            ::kill(-r.pid, stop_signal);
            r.stopped = true;
          }
    }
    // Start children on free slots.
    for (size_t s = 0; s < slots.size() && stop_signal == 0; ++s) {
      if (running[s].pid != 0 || next >= todo.size())
        continue;
      const size_t index = todo[next++];
      const ChildSpec spec = start(index, slots[s]);
      // Everything the child needs is prepared before fork: after it, only
      // async-signal-safe calls.
      std::vector<std::string> env_store;
      for (char** e = environ; *e; ++e) {
        const std::string kv = *e;
        const bool ours = kv.rfind("CUDA_VISIBLE_DEVICES=", 0) == 0 ||
                          kv.rfind("OMP_NUM_THREADS=", 0) == 0;
        if (!ours)
          env_store.push_back(kv);
      }
      env_store.push_back("OMP_NUM_THREADS=" +
                          std::to_string(slots[s].cpus.size()));
      if (!slots[s].gpu.empty())
        env_store.push_back("CUDA_VISIBLE_DEVICES=" + slots[s].gpu);
      std::vector<char*> envp, argv;
      for (auto& kv : env_store)
        envp.push_back(kv.data());
      envp.push_back(nullptr);
      std::vector<std::string> args = spec.args;
      args.insert(args.begin(), spec.program);
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      cpu_set_t set;
      CPU_ZERO(&set);
      for (int c : slots[s].cpus)
        CPU_SET(c, &set);
      const int log_fd = ::open(
          spec.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      MIP_CHECK(log_fd >= 0, Error, "cannot open the log [", spec.log,
                "]: ", std::strerror(errno));
      std::string header = "=== " + now() + " started:";
      for (const auto& a : args)
        header += " '" + a + "'";
      header +=
          " (cores " + cpu_list(slots[s].cpus) +
          (slots[s].gpu.empty() ? ""
                                : ", CUDA_VISIBLE_DEVICES=" + slots[s].gpu) +
          ")\n";
      if (::write(log_fd, header.data(), header.size()) < 0) {
        // the child's own output will say more; nothing to do here
      }
      const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        for (int sig : {SIGINT, SIGTERM, SIGHUP})
          ::sigaction(sig, &dfl, nullptr);
        ::sched_setaffinity(0, sizeof set, &set);
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        if (null_fd >= 0)
          ::dup2(null_fd, 0);
        ::execve(argv[0], argv.data(), envp.data());
        const char* msg = "mip grid: cannot start the worker: ";
        const char* why = std::strerror(errno);
        [[maybe_unused]] auto w1 = ::write(2, msg, std::strlen(msg));
        [[maybe_unused]] auto w2 = ::write(2, why, std::strlen(why));
        ::_exit(127);
      }
      const int fork_errno = errno;
      ::close(log_fd);
      if (null_fd >= 0)
        ::close(null_fd);
      MIP_CHECK(pid > 0, Error, "cannot start [", spec.program,
                "]: fork failed: ", std::strerror(fork_errno));
      ::setpgid(pid, pid);  // also here: no race with a forwarded signal
      running[s] = Running{pid, index, Clock::now()};
    }
    if (!busy() && (next >= todo.size() || stop_signal != 0))
      break;
    // Reap the children that ended; enforce timeouts.
    for (auto& r : running) {
      if (r.pid == 0)
        continue;
      int status = 0;
      const pid_t got = ::waitpid(r.pid, &status, WNOHANG);
      if (got == r.pid) {
        ChildEnd end;
        if (WIFEXITED(status))
          end.exit_code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
          end.signal = WTERMSIG(status);
        end.timed_out = r.timed_out;
        end.stopped = r.stopped;
        const size_t index = r.index;
        r = Running{};
        ended(index, end);
        continue;
      }
      if (timeout_s <= 0)
        continue;
      const auto age = Clock::now() - r.since;
      if (!r.timed_out && age > std::chrono::duration<double>(timeout_s)) {
        r.timed_out = true;  // SIGTERM: the trainers save and stop
        ::kill(-r.pid, SIGTERM);
      } else if (r.timed_out && !r.killed &&
                 age > std::chrono::duration<double>(timeout_s) + grace) {
        r.killed = true;
        ::kill(-r.pid, SIGKILL);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return stop_signal;
}

}  // namespace mip::grid
