// mip-index-splitter: two index files from a length or a problem's size.
#include <filesystem>
#include <iostream>
#include <optional>
#include <random>
#include <string>

#include <mip/core/files.hpp>
#include <mip/core/index_splitter.hpp>
#include <mip/core/logging.hpp>
#include <mip/core/plugin_loader.hpp>
#include <mip/core/registry.hpp>
#include <mip/core/run.hpp>
#include <mip/core/text.hpp>
#include <mip/core/worker.hpp>
#include <mip/sdk/problem.hpp>

namespace fs = std::filesystem;

namespace mip {

namespace {

constexpr const char* kSplitterUsage =
    "Usage: mip-index-splitter (--length N | --problem NAME [--set k=v ...])\n"
    "                          --split S [--random_sampling_off] [--seed N]\n"
    "                          [--outdir DIR] [--plugin-path DIR]\n\n"
    "Splits the indices 0..N-1 of a data set into two disjoint parts and\n"
    "writes them to <outdir>/split_a.txt (S indices) and <outdir>/split_b.txt\n"
    "(N-S indices), comma-separated on one line: the files a\n"
    "SubsetRandomSampler reads (sampler: {name: SubsetRandomSampler,\n"
    "indices: <outdir>/split_a.txt}).\n\n"
    "  --length N             the data set's size (or --problem)\n"
    "  --problem NAME         a problem plugin: its size, built with its\n"
    "                         defaults and the --set values\n"
    "  --set key=value        a parameter of --problem (data_folder=...);\n"
    "                         repeatable\n"
    "  --split S              indices in the first part, 1..N-1\n"
    "  --random_sampling_off  write the ranges [0, S) and [S, N) as their\n"
    "                         two ends (\"0,S\" and \"S,N\") instead of a\n"
    "                         random permutation\n"
    "  --seed N               the permutation's seed (default: drawn, and\n"
    "                         logged); the same seed gives the same files\n"
    "  --outdir DIR           where to write (default: .; created)\n"
    "  --plugin-path DIR      more plugin folders (repeatable)\n"
    "  --ll LEVEL             console log level\n"
    "  -h, --help             show this help\n\n"
    "MI-Prometheus's abbreviations --o, --p, --l, --s and --r are accepted.\n";

/// A value in 0..n-1 from a SplitMix64 stream (unbiased: rejection).
uint64_t draw_below(uint64_t n, uint64_t& state) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    if (z < limit)
      return z % n;
  }
}

int64_t parse_int(const std::string& flag, const std::string& text) {
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  MIP_CHECK(!text.empty() && used == text.size(), ConfigError, flag, " [", text,
            "] is not an integer");
  return v;
}

/// The size of problem `name` built with its defaults and `sets`.
int64_t problem_size(const std::string& name,
                     const std::vector<std::string>& sets,
                     const std::vector<std::string>& plugin_paths) {
  PluginLoader loader(PluginLoader::search_path(plugin_paths, {}));
  const Component& c = loader.find(sdk::ComponentKind::kProblem, name);
  ParamRegistry registry;
  for (const auto& s : sets)
    registry.apply_override("problem." + s);
  registry.add_defaults("problem", c.defaults_yaml,
                        "defaults of " + c.name + " (" + c.library->path + ")");
  registry.declare_known("problem.name");
  registry.set_value("problem.name", c.name, "--problem");
  std::string unknown;
  for (const auto& i : registry.unknown_keys())
    unknown += "\n  " + i.to_string();
  MIP_CHECK(unknown.empty(), ConfigError, "--set names keys that problem [",
            c.name, "] does not have:", unknown, "\n  (mip-plugins info ",
            c.name, " lists its parameters)");
  ComponentContext ctx(registry.view("problem"), logger(c.name));
  const auto problem = loader.create_problem(c, ctx);
  return with_context("problem [" + c.name + "]",
                      [&] { return problem->size(); });
}

}  // namespace

IndexSplit split_indices(int64_t length,
                         int64_t split,
                         bool random,
                         uint64_t seed) {
  MIP_CHECK(length >= 2, ConfigError, "a data set of ", length,
            " samples cannot be split in two; it needs at least 2");
  MIP_CHECK(split >= 1 && split <= length - 1, ConfigError, "--split [", split,
            "] must lie within 1..", length - 1,
            " (the border cases leave one index in one of the parts)");
  IndexSplit s;
  if (!random) {
    s.a = {0, split};
    s.b = {split, length};
    return s;
  }
  MIP_CHECK(split != 2 && length - split != 2, ConfigError, "--split [", split,
            "] of ", length,
            " leaves a random part of exactly two indices, which an index "
            "file cannot hold (two numbers read as a range, MI-Prometheus's "
            "format); choose another --split, or --random_sampling_off");
  std::vector<int64_t> all(static_cast<size_t>(length));
  for (int64_t i = 0; i < length; ++i)
    all[static_cast<size_t>(i)] = i;
  uint64_t state = seed;
  for (size_t i = all.size() - 1; i > 0; --i)
    std::swap(all[i], all[draw_below(i + 1, state)]);
  s.a.assign(all.begin(), all.begin() + split);
  s.b.assign(all.begin() + split, all.end());
  return s;
}

std::string index_file_text(const std::vector<int64_t>& indices) {
  std::string s;
  for (size_t i = 0; i < indices.size(); ++i)
    s += (i ? "," : "") + std::to_string(indices[i]);
  return s + "\n";
}

int run_index_splitter(int argc, char** argv) {
  std::string outdir = ".", problem, level = "info";
  std::vector<std::string> sets, plugin_paths;
  int64_t length = -1, split = -1;
  bool random = true;
  std::optional<uint64_t> seed;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        std::cout << kSplitterUsage;
        return kExitOk;
      }
      if (a == "--random_sampling_off" || a == "--r") {
        random = false;
        continue;
      }
      const bool known = a == "--outdir" || a == "--o" || a == "--problem" ||
                         a == "--p" || a == "--length" || a == "--l" ||
                         a == "--split" || a == "--s" || a == "--seed" ||
                         a == "--set" || a == "--plugin-path" || a == "--ll" ||
                         a == "--log-level";
      MIP_CHECK(known, ConfigError, "unknown option [", a, "]");
      MIP_CHECK(i + 1 < argc, ConfigError, a, " needs a value");
      const std::string v = argv[++i];
      if (a == "--outdir" || a == "--o")
        outdir = v;
      else if (a == "--problem" || a == "--p")
        problem = v;
      else if (a == "--length" || a == "--l")
        length = parse_int(a, v);
      else if (a == "--split" || a == "--s")
        split = parse_int(a, v);
      else if (a == "--seed")
        seed = static_cast<uint64_t>(parse_int(a, v));
      else if (a == "--set")
        sets.push_back(v);
      else if (a == "--plugin-path")
        plugin_paths.push_back(v);
      else
        level = v;
    }
    MIP_CHECK(!problem.empty() || length != -1, ConfigError,
              "give the data set's size: --length N, or --problem NAME");
    MIP_CHECK(problem.empty() || length == -1, ConfigError,
              "--problem and --length are exclusive; give one of them");
    MIP_CHECK(!problem.empty() || sets.empty(), ConfigError,
              "--set sets parameters of --problem; without it there is "
              "nothing to set");
    MIP_CHECK(split != -1, ConfigError,
              "give the first part's size: --split S");
    logging_set_console_level(parse_log_level(level));
  } catch (const ConfigError& e) {
    std::cerr << "mip-index-splitter: " << e.what() << "\n\n" << kSplitterUsage;
    return kExitUsage;
  }
  return run_worker(
      [&] {
        Logger& log = logger("mip-index-splitter");
        if (!problem.empty()) {
          length = problem_size(problem, sets, plugin_paths);
          log.info("Problem " + problem + " holds " + std::to_string(length) +
                   " samples");
        }
        if (!seed)
          seed = std::random_device{}();
        const IndexSplit s = split_indices(length, split, random, *seed);
        const fs::path dir(expand_user(outdir));
        std::error_code ec;
        fs::create_directories(dir, ec);
        MIP_CHECK(!ec, ConfigError, "--outdir [", outdir,
                  "]: cannot create it: ", ec.message());
        const std::string a = (dir / "split_a.txt").string(),
                          b = (dir / "split_b.txt").string();
        write_file_atomic(a, index_file_text(s.a));
        write_file_atomic(b, index_file_text(s.b));
        log.info("Split " + std::to_string(length) + " indices into " +
                 std::to_string(split) + " and " +
                 std::to_string(length - split) +
                 (random ? " at random (--seed " + std::to_string(*seed) +
                               " writes the same files)"
                         : " (two ranges, each as its two ends)"));
        log.info("Wrote " + a + " and " + b);
        return kExitOk;
      },
      nullptr, "mip-index-splitter");
}

}  // namespace mip
