// The workers' own keys are defined once, in core/defaults/*.yml: this test
// holds the reference table of docs/04-configuration.md to them.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <mip/core/run.hpp>

#include "common/test_util.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace worker_keys_test {

const std::string kSource = MIP_SOURCE_DIR;
const std::vector<std::string> kWorkers = {"mip-online-trainer",
                                           "mip-offline-trainer", "mip-tester"};

struct Key {
  bool open = false;        ///< tagged !open: any key below it is accepted
  bool under_open = false;  ///< below an open map
  bool leaf = false;        ///< a value, not a map of keys
};

void collect(const YAML::Node& node,
             const std::string& path,
             bool under_open,
             std::map<std::string, Key>& out) {
  for (const auto& kv : node) {
    const std::string p =
        (path.empty() ? "" : path + ".") + kv.first.as<std::string>();
    Key& k = out[p];
    k.open = kv.second.Tag() == "!open";
    k.under_open = under_open;
    k.leaf = !kv.second.IsMap();
    if (kv.second.IsMap())
      collect(kv.second, p, under_open || k.open, out);
  }
}

/// The rows of the first "| key | default | meaning |" table: each key it
/// names (`<section>` and `seed_*` expanded) with its default cell.
std::map<std::string, std::string> documented_keys() {
  std::istringstream doc(test::read(kSource + "/docs/04-configuration.md"));
  std::map<std::string, std::string> keys;
  std::string line;
  bool in_table = false;
  const std::regex quoted("`([^`]+)`");
  while (std::getline(doc, line)) {
    if (!in_table) {
      in_table = line.rfind("| key | default | meaning |", 0) == 0;
      continue;
    }
    if (line.rfind("|---", 0) == 0)
      continue;
    if (line.rfind("|", 0) != 0)
      break;
    std::vector<std::string> cells;
    std::stringstream row(line.substr(1));
    for (std::string c; std::getline(row, c, '|');)
      cells.push_back(c);
    if (cells.size() < 3)
      continue;
    for (std::sregex_iterator it(cells[0].begin(), cells[0].end(), quoted), end;
         it != end; ++it) {
      std::vector<std::string> names = {(*it)[1]};
      if (names[0].rfind("<section>.", 0) == 0) {
        const std::string rest = names[0].substr(10);
        names = {"training." + rest, "validation." + rest, "testing." + rest};
      }
      for (const auto& n : names) {
        if (n.size() > 7 && n.compare(n.size() - 7, 7, ".seed_*") == 0) {
          const std::string base = n.substr(0, n.size() - 1);
          keys[base + "torch"] = cells[1];
          keys[base + "numpy"] = cells[1];
        } else {
          keys[n] = cells[1];
        }
      }
    }
  }
  return keys;
}

std::map<std::string, Key> defined_keys() {
  std::map<std::string, Key> keys;
  collect(YAML::Load(worker_defaults("common")), "", false, keys);
  for (const auto& w : kWorkers)
    collect(YAML::Load(worker_defaults(w)), "", false, keys);
  return keys;
}

TEST(WorkerKeys, EveryDocumentedKeyIsDefined) {
  const auto defined = defined_keys();
  const auto documented = documented_keys();
  ASSERT_GT(documented.size(), 20u) << "the table was not found";
  for (const auto& [key, default_cell] : documented)
    EXPECT_TRUE(defined.count(key))
        << "docs/04-configuration.md documents [" << key
        << "], which core/defaults/*.yml does not define";
}

TEST(WorkerKeys, EveryDefinedKeyIsDocumented) {
  const auto documented = documented_keys();
  auto has_documented_child = [&](const std::string& key) {
    const auto it = documented.lower_bound(key + ".");
    return it != documented.end() && it->first.rfind(key + ".", 0) == 0;
  };
  for (const auto& [key, k] : defined_keys()) {
    if (k.under_open || !(k.leaf || k.open))
      continue;
    EXPECT_TRUE(documented.count(key) || (k.open && has_documented_child(key)))
        << "[" << key
        << "] is a worker key (core/defaults) without a row in "
           "docs/04-configuration.md";
  }
}

TEST(WorkerKeys, EveryDefaultValueIsTheDocumentedOne) {
  const auto documented = documented_keys();
  size_t checked = 0;
  for (const std::string& file :
       {std::string("common"), kWorkers[0], kWorkers[1], kWorkers[2]}) {
    std::map<std::string, Key> keys;
    const YAML::Node root = YAML::Load(worker_defaults(file));
    collect(root, "", false, keys);
    for (const auto& [key, k] : keys) {
      if (!k.leaf)
        continue;
      YAML::Node v = root;
      std::stringstream parts(key);
      for (std::string part; std::getline(parts, part, '.');)
        v.reset(v[part]);
      if (!v.IsScalar() || v.Scalar() == "~")
        continue;
      ++checked;
      ASSERT_TRUE(documented.count(key)) << key;
      EXPECT_HAS(documented.at(key), "`" + v.Scalar() + "`")
          << " (the default of [" << key << "] in " << file << ".yml)";
    }
  }
  EXPECT_GE(checked, 10u);
}

TEST(WorkerKeys, EveryWorkerHasItsDefaults) {
  for (const auto& w : kWorkers)
    EXPECT_FALSE(YAML::Load(worker_defaults(w)).IsNull()) << w;
  EXPECT_THROW(worker_defaults("mip-nonesuch"), std::logic_error);
}

}  // namespace worker_keys_test
}  // namespace mip
