// grid_status.yaml: the grid folder's record of its settings and of every
// child (state, exit cause, folder, log), written atomically after each
// change and read back by --resume.
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include <mip/core/files.hpp>
#include <mip/sdk/error.hpp>

#include "grid.hpp"

namespace fs = std::filesystem;

namespace mip::grid {

namespace {

template <typename T>
void put(YAML::Emitter& out, const char* key, const T& value) {
  out << YAML::Key << key << YAML::Value << value;
}

void put_if(YAML::Emitter& out, const char* key, const std::string& value) {
  if (!value.empty())
    put(out, key, value);
}

}  // namespace

void write_grid_status(const std::string& grid_dir,
                       const std::string& file,
                       const GridStatus& status) {
  const GridSettings& s = status.settings;
  YAML::Emitter out;
  out << YAML::BeginMap;
  put(out, "kind", s.kind);
  put(out, "updated", now());
  put_if(out, "grid_configuration", s.grid_config);
  put(out, "worker", s.worker);
  put(out, "max_concurrent_runs", s.max_concurrent_runs);
  put(out, "gpu", s.gpu);
  out << YAML::Key << "gpus" << YAML::Value << YAML::Flow << s.gpus;
  put(out, "timeout", s.timeout_s);
  out << YAML::Key << "child_flags" << YAML::Value << YAML::Flow
      << s.child_flags;
  put(out, "launcher", s.launcher);
  if (s.launcher == "slurm") {
    out << YAML::Key << "slurm" << YAML::Value << YAML::BeginMap;
    put_if(out, "partition", s.slurm.partition);
    put_if(out, "time", s.slurm.time);
    put(out, "cpus_per_task", s.slurm.cpus_per_task);
    put(out, "gpus_per_task", s.slurm.gpus_per_task);
    put_if(out, "job", s.slurm.job);
    out << YAML::EndMap;
  }
  size_t counts[5] = {0, 0, 0, 0, 0};
  const char* states[5] = {"pending", "running", "finished", "failed",
                           "interrupted"};
  for (const auto& r : status.runs)
    for (int k = 0; k < 5; ++k)
      counts[k] += r.state == states[k];
  out << YAML::Key << "counts" << YAML::Value << YAML::Flow << YAML::BeginMap;
  for (int k = 0; k < 5; ++k)
    put(out, states[k], counts[k]);
  out << YAML::EndMap;
  out << YAML::Key << "runs" << YAML::Value << YAML::BeginSeq;
  for (const auto& r : status.runs) {
    out << YAML::BeginMap;
    put(out, "id", r.id);
    put(out, "state", r.state);
    put_if(out, "cause", r.cause);
    if (r.exit_code >= 0)
      put(out, "exit_code", r.exit_code);
    put_if(out, "signal", r.signal);
    put_if(out, "slurm_state", r.slurm_state);
    if (r.timed_out)
      put(out, "timed_out", true);
    if (r.task >= 0)
      put(out, "task", r.task);
    put(out, "repetition", r.repetition);
    if (!r.sweep.empty()) {
      out << YAML::Key << "sweep" << YAML::Value << YAML::BeginMap;
      for (const auto& [k, v] : r.sweep)
        put(out, k.c_str(), v);
      out << YAML::EndMap;
    }
    put_if(out, "seed", r.seed);
    put_if(out, "configuration", r.configuration);
    put_if(out, "model", r.model);
    put_if(out, "folder", r.folder);
    put(out, "log", r.log);
    put(out, "attempts", r.attempts);
    put_if(out, "started", r.started);
    put_if(out, "ended", r.ended);
    put_if(out, "cpus", r.cpus);
    put_if(out, "gpu", r.gpu);
    put_if(out, "job", r.job);
    put_if(out, "node", r.node);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  write_file_atomic((fs::path(grid_dir) / file).string(),
                    std::string(out.c_str()) + "\n");
}

GridStatus read_grid_status(const std::string& grid_dir,
                            const std::string& file) {
  const std::string path = (fs::path(grid_dir) / file).string();
  MIP_CHECK(fs::is_regular_file(path), ConfigError, "--resume [", grid_dir,
            "]: no ", file,
            " there; give a folder made by this grid worker (its name is "
            "<expdir>_<date>_<time>)");
  GridStatus status;
  try {
    const YAML::Node root = YAML::LoadFile(path);
    auto text = [](const YAML::Node& n, const char* key) {
      return n[key] ? n[key].as<std::string>() : std::string();
    };
    GridSettings& s = status.settings;
    s.kind = text(root, "kind");
    s.grid_config = text(root, "grid_configuration");
    s.worker = text(root, "worker");
    s.max_concurrent_runs = root["max_concurrent_runs"].as<int>(0);
    s.gpu = root["gpu"].as<bool>(false);
    if (root["gpus"])
      s.gpus = root["gpus"].as<std::vector<std::string>>();
    s.timeout_s = root["timeout"].as<double>(0);
    if (root["child_flags"])
      s.child_flags = root["child_flags"].as<std::vector<std::string>>();
    if (root["launcher"])
      s.launcher = root["launcher"].as<std::string>();
    if (const YAML::Node sl = root["slurm"]; sl && sl.IsMap()) {
      s.slurm.partition = text(sl, "partition");
      s.slurm.time = text(sl, "time");
      s.slurm.cpus_per_task = sl["cpus_per_task"].as<int>(1);
      s.slurm.gpus_per_task = sl["gpus_per_task"].as<int>(0);
      s.slurm.job = text(sl, "job");
    }
    const YAML::Node runs = root["runs"];
    for (size_t k = 0; runs.IsSequence() && k < runs.size(); ++k) {
      const YAML::Node n = runs[k];
      GridRun r;
      r.id = text(n, "id");
      r.state = text(n, "state");
      r.cause = text(n, "cause");
      r.exit_code = n["exit_code"].as<int>(-1);
      r.signal = text(n, "signal");
      r.slurm_state = text(n, "slurm_state");
      r.timed_out = n["timed_out"].as<bool>(false);
      r.task = n["task"].as<int>(-1);
      r.repetition = n["repetition"].as<int>(0);
      if (n["sweep"] && n["sweep"].IsMap())
        for (const auto& kv : n["sweep"])
          r.sweep.emplace_back(kv.first.as<std::string>(),
                               kv.second.as<std::string>());
      r.seed = text(n, "seed");
      r.configuration = text(n, "configuration");
      r.model = text(n, "model");
      r.folder = text(n, "folder");
      r.log = text(n, "log");
      r.attempts = n["attempts"].as<int>(0);
      r.started = text(n, "started");
      r.ended = text(n, "ended");
      r.cpus = text(n, "cpus");
      r.gpu = text(n, "gpu");
      r.job = text(n, "job");
      r.node = text(n, "node");
      status.runs.push_back(r);
    }
  } catch (const YAML::Exception& e) {
    throw ConfigError(path + ": not a grid status file (" + e.what() +
                      "); it is written by mip-grid-trainer and "
                      "mip-grid-tester, do not edit it");
  }
  MIP_CHECK(!status.settings.worker.empty() && !status.runs.empty(),
            ConfigError, path,
            ": no worker or no runs recorded; it is written by "
            "mip-grid-trainer and mip-grid-tester, do not edit it");
  return status;
}

}  // namespace mip::grid
