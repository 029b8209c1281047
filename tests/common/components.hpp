#pragma once

// Problems and models built in-process through the real plugin loader from
// the built plugin folder, with their manifest defaults under a real YAML
// file, as the workers build them.

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>

#include <memory>
#include <string>
#include <vector>

#include <mip/core/logging.hpp>
#include <mip/core/plugin_loader.hpp>
#include <mip/core/registry.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/problem.hpp>

#include "common/test_util.hpp"

namespace mip::test {

class Components : public ::testing::Test {
 protected:
  PluginLoader loader_{{MIP_BUILD_PLUGIN_DIR}};
  TempDir dir_;
  std::vector<std::unique_ptr<ParamRegistry>> registries_;

  /// A registry holding `c`'s defaults under `section`, overridden by
  /// `yaml` (a flow map such as "{batch_size: 4}") written to a file.
  ParamRegistry& registry(const std::string& section,
                          const Component& c,
                          const std::string& yaml) {
    registries_.push_back(std::make_unique<ParamRegistry>());
    ParamRegistry& r = *registries_.back();
    r.add_defaults(section, c.defaults_yaml, "defaults of " + c.name);
    if (!yaml.empty()) {
      // "a.b" and "{x: 1}" give "a: {b: {x: 1}}".
      std::string text = yaml, rest = section;
      for (size_t dot; (dot = rest.rfind('.')) != std::string::npos;
           rest.resize(dot))
        text = "{" + rest.substr(dot + 1) + ": " + text + "}";
      const std::string file =
          dir_.write("config" + std::to_string(registries_.size()) + ".yaml",
                     rest + ": " + text + "\n");
      r.load_files({file});
    }
    return r;
  }

  /// Problem `name` with the parameters `yaml` (a flow map) on its defaults.
  std::shared_ptr<sdk::Problem> problem(const std::string& name,
                                        const std::string& yaml) {
    const Component& c = loader_.find(sdk::ComponentKind::kProblem, name);
    ParamRegistry& r = registry("training.problem", c, yaml);
    ComponentContext ctx(r.view("training.problem"), logger("test"));
    return loader_.create_problem(c, ctx);
  }

  /// Model `name` sized from `problem`'s default values, as the trainer does.
  std::shared_ptr<sdk::Model> model(const std::string& name,
                                    const sdk::Problem& problem,
                                    const std::string& yaml = "") {
    const Component& c = loader_.find(sdk::ComponentKind::kModel, name);
    ParamRegistry& r = registry("model", c, yaml);
    for (const auto& [k, v] : problem.default_values())
      r.add_default_number("model." + k, v, "problem");
    ComponentContext ctx(r.view("model"), logger("test"));
    return loader_.create_model(c, ctx);
  }

  /// Starts `p`'s length curriculum at `initial` as the trainer does (a
  /// training.curriculum_learning section with initial_max_sequence_length).
  void start_curriculum(sdk::Problem& p, int64_t initial) {
    registries_.push_back(std::make_unique<ParamRegistry>());
    ParamRegistry& r = *registries_.back();
    r.load_files({dir_.write(
        "curriculum" + std::to_string(registries_.size()) + ".yaml",
        "training: {curriculum_learning: {initial_max_sequence_length: " +
            std::to_string(initial) + "}}\n")});
    p.curriculum_learning_initialize(*r.view("training.curriculum_learning"));
  }

  std::string folder(const std::string& sub = "") const {
    return sub.empty() ? dir_.str() : (dir_.path() / sub).string();
  }
};

/// A CPU generator seeded with `seed`.
inline at::Generator seeded(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

/// The indices 0..n-1.
inline std::vector<int64_t> range(int64_t n) {
  std::vector<int64_t> v(size_t(n), 0);
  for (int64_t i = 0; i < n; ++i)
    v[size_t(i)] = i;
  return v;
}

}  // namespace mip::test
