// Fuzz target: configuration loading. One input holds up to three parts
// separated by kNextFile: the main file (a.yaml), a second file (b.yaml, which
// the main file may name in default_configs, and which may name a.yaml back),
// and `--set` assignments, one a line. They go through the real registry as a
// worker's start-up does: load_files, apply_override, then the reads every
// worker makes (unknown keys, views, origins, the resolved dump).
#include <sstream>
#include <string>
#include <vector>

#include <mip/core/registry.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = mip::fuzz::split_input(data, size, 3);
  const auto dir = mip::fuzz::scratch_dir() / "config";
  mip::fuzz::write_file(dir / "a.yaml", parts[0]);
  mip::fuzz::write_file(dir / "b.yaml", parts.size() > 1 ? parts[1] : "");
  mip::fuzz::expect_only_mip_errors("configuration loading", [&] {
    mip::ParamRegistry reg;
    reg.load_files({(dir / "a.yaml").string()});
    if (parts.size() > 2) {
      std::istringstream sets(parts[2]);
      std::string line;
      while (std::getline(sets, line))
        if (!line.empty())
          reg.apply_override(line);
    }
    // What every worker reads before it builds anything.
    reg.declare_known("training", /*open=*/true);
    for (const auto& issue : reg.unknown_keys())
      (void)issue.to_string();
    const auto root = reg.view("");
    for (const auto& key : root->keys()) {
      (void)reg.origin(key);
      if (reg.has(key + ".name"))
        (void)reg.view(key)->get_string("name");
    }
    (void)reg.dump();
  });
  return 0;
}
