// Where this process stands among the ranks of a run: read from the
// environment that --nproc's launcher, torchrun or srun set.
#include <cstdlib>
#include <string>

#include <mip/core/distributed.hpp>
#include <mip/core/registry.hpp>
#include <mip/sdk/error.hpp>

namespace mip {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

/// An integer environment variable in [min, max]; `fallback` when unset
/// (-1: required).
int env_int(const char* name,
            int min,
            int max,
            int fallback,
            const std::string& launcher) {
  const char* v = env(name);
  MIP_CHECK(v || fallback >= 0, ConfigError, "data-parallel (", launcher,
            "): the environment variable ", name,
            " is not set; the launcher must set it (docs/distributed.md)");
  if (!v)
    return fallback;
  size_t used = 0;
  long value = -1;
  try {
    value = std::stol(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  MIP_CHECK(used == std::string(v).size() && value >= min && value <= max,
            ConfigError, "data-parallel (", launcher, "): ", name, "=[", v,
            "] is not a number from ", min, " to ", max);
  return static_cast<int>(value);
}

}  // namespace

RankPlace RankPlace::from_environment() {
  RankPlace p;
  constexpr int kMaxRanks = 1 << 20;
  if (env("RANK")) {
    const bool torchrun = env("TORCHELASTIC_RUN_ID") != nullptr ||
                          env("TORCHELASTIC_RESTART_COUNT") != nullptr;
    p.launched_by_nproc = env("MIP_NPROC_CHILD") != nullptr;
    p.source = p.launched_by_nproc ? "--nproc"
               : torchrun          ? "torchrun"
                                   : "environment";
    p.world = env_int("WORLD_SIZE", 1, kMaxRanks, -1, p.source);
    p.rank = env_int("RANK", 0, p.world - 1, -1, p.source);
    p.local_rank = env_int("LOCAL_RANK", 0, kMaxRanks, p.rank, p.source);
  } else if (env("SLURM_PROCID") && env("SLURM_STEP_NUM_TASKS")) {
    // srun sets SLURM_STEP_NUM_TASKS for its tasks; a batch script's own
    // shell (one process, whatever --ntasks says) does not.
    p.source = "srun";
    p.world = env_int("SLURM_STEP_NUM_TASKS", 1, kMaxRanks, -1, p.source);
    p.rank = env_int("SLURM_PROCID", 0, p.world - 1, -1, p.source);
    p.local_rank = env_int("SLURM_LOCALID", 0, kMaxRanks, 0, p.source);
  } else {
    return p;
  }
  if (p.world == 1)
    return p;
  const char* addr = env("MASTER_ADDR");
  MIP_CHECK(addr, ConfigError, "data-parallel (", p.source, ", rank ", p.rank,
            " of ", p.world,
            "): MASTER_ADDR is not set; set it to rank 0's host (under srun: "
            "export MASTER_ADDR=$(scontrol show hostnames "
            "\"$SLURM_JOB_NODELIST\" | head -n1))");
  p.master_addr = addr;
  p.master_port = env_int("MASTER_PORT", 1, 65535, 29500, p.source);
  if (const char* agent = env("TORCHELASTIC_USE_AGENT_STORE");
      agent && std::string(agent) == "True") {
    p.agent_store = true;
    const char* restarts = env("TORCHELASTIC_RESTART_COUNT");
    p.store_prefix =
        std::string("/worker/attempt_") + (restarts ? restarts : "0");
  }
  return p;
}

DataParallelSettings DataParallelSettings::from_config(
    const ParamRegistry& registry) {
  DataParallelSettings s;
  const auto where = [&](const std::string& key) {
    return "[distributed." + key + "] (" +
           registry.origin("distributed." + key) + ")";
  };
  if (registry.has("distributed.batch_size")) {
    const std::string v =
        registry.view("distributed")->get<std::string>("batch_size");
    MIP_CHECK(v == "per_rank" || v == "global", ConfigError,
              where("batch_size"),
              ": expected per_rank (each rank gets batch_size samples) or "
              "global (batch_size is split among the ranks), got [",
              v, "]");
    s.global_batch = v == "global";
  }
  if (registry.has("distributed.bucket_mb")) {
    s.bucket_mb = registry.view("distributed")->get<double>("bucket_mb");
    MIP_CHECK(s.bucket_mb > 0, ConfigError, where("bucket_mb"),
              ": the gradient bucket size must be > 0 MB, got ", s.bucket_mb);
  }
  return s;
}

}  // namespace mip
