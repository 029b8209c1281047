// provenance.yaml: how an experiment folder was made. One entry per
// invocation of a worker on the folder (a --resume appends one): the command
// line, the overrides, the versions (framework, SDK, LibTorch), the BLAS and
// threads, the host, each component's plugin library (path, manifest, size,
// time, CRC-32), and the git checkouts of the executable and of the
// configuration (commit, dirty). Written atomically at the start and again
// at the end (state, cause).
#include <mip/core/provenance.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/Parallel.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include <mip/core/files.hpp>
#include <mip/core/folder.hpp>
#include <mip/core/observer.hpp>
#include <mip/core/run.hpp>
#include <mip/core/text.hpp>
#include <mip/core/versions.hpp>
#include <mip/sdk/detail/torch_build.hpp>
#include <mip/sdk/version.hpp>

extern char** environ;

namespace fs = std::filesystem;

namespace mip {

namespace {

/// Runs `argv` (found on PATH) with stdin and stderr on /dev/null; its
/// stdout, or nullopt when it cannot start or exits non-zero.
std::optional<std::string> capture(const std::vector<std::string>& argv) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Reading the status must not take git's index lock (another git may run).
  std::vector<std::string> env_text = {"GIT_OPTIONAL_LOCKS=0"};
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "GIT_OPTIONAL_LOCKS=", 19) != 0)
      env_text.emplace_back(*e);
  std::vector<char*> env;
  for (auto& e : env_text)
    env.push_back(e.data());
  env.push_back(nullptr);
  pid_t pid = 0;
  const int rc =
      ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  std::string text;
  if (rc == 0) {
    std::array<char, 4096> buf{};
    ssize_t n;
    while ((n = ::read(out[0], buf.data(), buf.size())) != 0) {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break;
      text.append(buf.data(), static_cast<size_t>(n));
    }
  }
  ::close(out[0]);
  if (rc != 0)
    return std::nullopt;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return std::nullopt;
  return text;
}

std::string file_time(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0)
    return "";
  std::tm tm{};
  localtime_r(&st.st_mtime, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

/// CRC-32 of a file's bytes, "" when it cannot be read.
std::string file_crc(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in)
    return "";
  uint32_t crc = 0;
  std::array<char, 1 << 16> buf{};
  while (in) {
    in.read(buf.data(), buf.size());
    crc = crc32_update(crc, buf.data(), static_cast<size_t>(in.gcount()));
  }
  return crc_hex(crc);
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0)
    return "";
  return buf;
}

std::string system_name() {
  utsname u{};
  if (::uname(&u) != 0)
    return "";
  return std::string(u.sysname) + " " + u.release + " " + u.machine;
}

std::string executable() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "" : p.string();
}

std::string absolute(const std::string& p) {
  std::error_code ec;
  const fs::path a = fs::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

void emit_git(YAML::Emitter& out, const std::string& of, const GitState& g) {
  out << YAML::BeginMap;
  out << YAML::Key << "of" << YAML::Value << of;
  out << YAML::Key << "checkout" << YAML::Value << g.checkout;
  if (g.error.empty()) {
    out << YAML::Key << "commit" << YAML::Value << g.commit;
    out << YAML::Key << "dirty" << YAML::Value << g.dirty;
  } else {
    out << YAML::Key << "error" << YAML::Value << g.error;
  }
  out << YAML::EndMap;
}

/// The environment variables that change what a run does or where it looks.
const char* const kEnvironment[] = {
    "OMP_NUM_THREADS",      "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES", "MIP_PLUGIN_PATH", "TORCH_NUM_THREADS",
};

/// The entry of this invocation, a YAML block map (without its end).
std::string describe(const Run& run, const RunStarted& e) {
  const WorkerOptions& opts = run.options();
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "started" << YAML::Value << now_string();
  out << YAML::Key << "worker" << YAML::Value << opts.worker;
  out << YAML::Key << "command_line" << YAML::Value << YAML::Flow
      << opts.command_line;
  std::error_code ec;
  out << YAML::Key << "working_directory" << YAML::Value
      << fs::current_path(ec).string();
  out << YAML::Key << "overrides" << YAML::Value << YAML::Flow << opts.sets;
  std::vector<std::string> files;
  for (const auto& f : run.registry().files())
    files.push_back(absolute(f));
  out << YAML::Key << "configuration_files" << YAML::Value << files;
  out << YAML::Key << "resumed" << YAML::Value << e.resumed;
  if (e.resumed)
    out << YAML::Key << "first_episode" << YAML::Value << e.first_episode;
  const fs::path saved = fs::path(e.dir) / "training_configuration.yaml";
  if (fs::is_regular_file(saved)) {
    const SavedConfiguration s = read_saved_configuration(saved.string());
    out << YAML::Key << "run_id" << YAML::Value << s.run_id;
    out << YAML::Key << "configuration_digest" << YAML::Value << s.digest;
  }
  if (!opts.model_checkpoint.empty())
    out << YAML::Key << "model_checkpoint" << YAML::Value
        << absolute(expand_user(opts.model_checkpoint));

  const std::string exe = executable();
  out << YAML::Key << "framework" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "version" << YAML::Value << framework_version();
  out << YAML::Key << "sdk_version" << YAML::Value << MIP_SDK_VERSION;
#ifdef NDEBUG
  out << YAML::Key << "build_type" << YAML::Value << "release";
#else
  out << YAML::Key << "build_type" << YAML::Value << "debug";
#endif
  out << YAML::Key << "executable" << YAML::Value << exe;
  out << YAML::EndMap;
  out << YAML::Key << "libtorch" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "version" << YAML::Value << MIP_DETAIL_TORCH_VERSION;
  out << YAML::Key << "cuda" << YAML::Value
      << static_cast<bool>(MIP_DETAIL_TORCH_CUDA);
  out << YAML::EndMap;
  const std::string blas = blas_library_path();
  out << YAML::Key << "blas" << YAML::Value
      << (blas.empty() ? "(no libblas.so loaded)" : blas);
  out << YAML::Key << "threads" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "intra_op" << YAML::Value << at::get_num_threads();
  out << YAML::Key << "inter_op" << YAML::Value
      << at::get_num_interop_threads();
  out << YAML::EndMap;
  out << YAML::Key << "device" << YAML::Value << run.device().str();
  out << YAML::Key << "host" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << host_name();
  out << YAML::Key << "system" << YAML::Value << system_name();
  out << YAML::Key << "usable_cores" << YAML::Value << usable_cores();
  out << YAML::EndMap;
  std::map<std::string, std::string> env;
  for (const char* name : kEnvironment)
    if (const char* v = std::getenv(name))
      env[name] = v;
  out << YAML::Key << "environment" << YAML::Value << YAML::Flow << env;

  out << YAML::Key << "plugins" << YAML::Value << YAML::BeginSeq;
  std::map<std::string, std::string> crc;  // one library, read once
  for (const auto& used : run.components()) {
    const Component& c = used.component;
    const std::string& lib = c.library->path;
    if (!crc.count(lib))
      crc[lib] = file_crc(lib);
    out << YAML::BeginMap;
    out << YAML::Key << "key" << YAML::Value << used.key;
    out << YAML::Key << "component" << YAML::Value << c.name;
    out << YAML::Key << "library" << YAML::Value << absolute(lib);
    if (const sdk::Manifest* m = c.library->manifest) {
      out << YAML::Key << "sdk_version" << YAML::Value << m->sdk_version;
      out << YAML::Key << "torch_version" << YAML::Value << m->torch_version;
      out << YAML::Key << "build_type" << YAML::Value << m->build_type;
    }
    out << YAML::Key << "bytes" << YAML::Value << fs::file_size(lib, ec);
    out << YAML::Key << "modified" << YAML::Value << file_time(lib);
    out << YAML::Key << "crc32" << YAML::Value << crc[lib];
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;

  // The checkout of the framework (the executable) and of the experiment
  // (its first configuration file); one entry when they are the same.
  std::vector<std::pair<std::string, std::string>> from = {{"executable", exe}};
  if (!files.empty())
    from.emplace_back("configuration", files.front());
  out << YAML::Key << "git" << YAML::Value << YAML::BeginSeq;
  std::vector<std::string> seen;
  for (const auto& [of, path] : from) {
    if (path.empty())
      continue;
    const std::optional<GitState> g = git_state(path);
    if (!g || std::find(seen.begin(), seen.end(), g->checkout) != seen.end())
      continue;
    seen.push_back(g->checkout);
    emit_git(out, of, *g);
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

/// `map` (a YAML block map) as an item of the top-level `invocations` list.
std::string as_item(const std::string& map) {
  std::string item;
  std::istringstream in(map);
  std::string line;
  for (bool first = true; std::getline(in, line); first = false)
    item += (first ? "  - " : "    ") + line + "\n";
  return item;
}

const char* const kHeader =
    "# How this experiment folder was made: one entry per invocation of a\n"
    "# worker on it (a --resume appends one). Written by MI-Prometheus C++\n"
    "# (docs/05-workers.md, \"provenance.yaml\").\n"
    "invocations:\n";

class ProvenanceObserver final : public RunObserver {
 public:
  explicit ProvenanceObserver(const Run& run) : run_(run) {}

  void run_started(const RunStarted& e) override {
    path_ = (fs::path(e.dir) / kProvenanceFile).string();
    earlier_ = earlier_invocations();
    entry_ = describe(run_, e);
    write_file_atomic(path_, kHeader + earlier_ + as_item(entry_));
  }

  void run_ended(const RunEnded& e) override {
    if (path_.empty())
      return;
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "ended" << YAML::Value << now_string();
    out << YAML::Key << "state" << YAML::Value << to_string(e.state);
    out << YAML::Key << "cause" << YAML::Value << e.cause;
    out << YAML::EndMap;
    try {
      write_file_atomic(
          path_, kHeader + earlier_ + as_item(entry_ + out.c_str() + "\n"));
    } catch (const std::exception& error) {
      // The start is recorded; status.yaml records the end.
      run_.log().warn(std::string("provenance: ") + error.what());
    }
  }

 private:
  /// The entries of the earlier invocations (a --resume), as text: kept
  /// byte for byte. A file that is not a provenance record is kept aside.
  std::string earlier_invocations() const {
    if (!fs::exists(path_))
      return "";
    const std::string text = read_text_file(path_);
    bool ok = false;
    try {
      const YAML::Node doc = YAML::Load(text);
      ok = doc.IsMap() && doc["invocations"].IsSequence() &&
           text.rfind(kHeader, 0) == 0;
    } catch (const YAML::Exception&) {
    }
    if (ok) {
      std::string rest = text.substr(std::strlen(kHeader));
      if (!rest.empty() && rest.back() != '\n')
        rest += '\n';
      return rest;
    }
    std::string aside = path_ + ".unreadable";
    for (int i = 1; fs::exists(aside); ++i)
      aside = path_ + ".unreadable." + std::to_string(i);
    fs::rename(path_, aside);
    run_.log().warn("provenance: [" + path_ +
                    "] is not a provenance record (edited or damaged); kept "
                    "as [" +
                    aside + "], a new one starts with this invocation");
    return "";
  }

  const Run& run_;
  std::string path_;
  std::string earlier_;  ///< the earlier invocations' items
  std::string entry_;    ///< this invocation (a block map)
};

const ObserverRegistration kProvenance{
    10, "provenance", [](const Run& run, Observers&) {
      return std::make_unique<ProvenanceObserver>(run);
    }};

}  // namespace

std::optional<GitState> git_state(const std::string& path) {
  std::error_code ec;
  fs::path dir = fs::absolute(path, ec);
  if (ec)
    return std::nullopt;
  if (!fs::is_directory(dir, ec))
    dir = dir.parent_path();
  // A checkout has a .git (folder, or file for worktrees) in a folder above.
  fs::path top;
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    if (fs::exists(p / ".git", ec)) {
      top = p;
      break;
    }
    if (p == p.root_path())
      break;
  }
  if (top.empty())
    return std::nullopt;
  GitState g;
  g.checkout = top.string();
  const auto head = capture({"git", "-C", top.string(), "rev-parse", "HEAD"});
  if (!head) {
    g.error =
        "git could not tell the commit (git not installed, or not a valid "
        "checkout)";
    return g;
  }
  g.commit = trim(*head);
  const auto status = capture({"git", "-C", top.string(), "status",
                               "--porcelain", "--untracked-files=no"});
  if (!status) {
    g.error = "git status failed";
    return g;
  }
  g.dirty = !trim(*status).empty();
  return g;
}

}  // namespace mip
