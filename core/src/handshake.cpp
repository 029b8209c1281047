#include <mip/core/handshake.hpp>

#include <mip/sdk/error.hpp>

namespace mip {

bool definition_compatible(const sdk::DataDefinition& want,
                           const sdk::DataDefinition& got) {
  if (want.dtype != got.dtype || want.shape.size() != got.shape.size())
    return false;
  for (size_t i = 0; i < want.shape.size(); ++i) {
    if (want.shape[i] != -1 && got.shape[i] != -1 &&
        want.shape[i] != got.shape[i])
      return false;
  }
  return true;
}

namespace {

/// Appends one line per definition of `needs` that `offers` lacks or breaks.
void compare(const std::string& consumer,
             const sdk::DataDefinitions& needs,
             const std::string& producer,
             const sdk::DataDefinitions& offers,
             std::string& report) {
  for (const auto& [key, want] : needs) {
    auto it = offers.find(key);
    if (it == offers.end()) {
      std::string have;
      for (const auto& kv : offers)
        have += " " + kv.first;
      report += "\n  " + consumer + " needs [" + key + "] " + want.to_string() +
                ", which " + producer +
                " does not provide (it provides:" + have + ")";
    } else if (!definition_compatible(want, it->second)) {
      report += "\n  " + consumer + " needs [" + key + "] " + want.to_string() +
                ", " + producer + " provides [" + key + "] " +
                it->second.to_string();
    }
  }
}

/// "[8, 5] Float", as DataDefinition::to_string() writes a definition.
std::string describe(const at::Tensor& t) {
  if (!t.defined())
    return "an undefined tensor";
  sdk::DataDefinition d{t.sizes().vec(), t.scalar_type(), ""};
  return d.to_string();
}

}  // namespace

void check_batch(const std::string& problem,
                 const sdk::DataDefinitions& declared,
                 const sdk::DataDict& batch) {
  std::string report;
  for (const auto& [key, want] : declared) {
    if (!batch.contains(key)) {
      report += "\n  [" + key + "] is declared " + want.to_string() +
                " but the batch lacks it";
      continue;
    }
    const at::Tensor& t = batch.at(key);
    if (!t.defined() ||
        !definition_compatible(want, {t.sizes().vec(), t.scalar_type(), ""}))
      report += "\n  [" + key + "] is declared " + want.to_string() +
                ", the batch holds " + describe(t);
  }
  for (const auto& [key, t] : batch)
    if (declared.count(key) == 0)
      report += "\n  [" + key + "] " + describe(t) +
                " is in the batch but not declared";
  MIP_CHECK(report.empty(), DataError, "problem ", problem,
            " made a batch that does not match its own data definitions "
            "(the problem is at fault, not the model):",
            report,
            "\n  fix the problem's get_batch() or its data_definitions()");
}

void check_handshake(const std::string& problem_name,
                     const sdk::DataDefinitions& problem_data,
                     const sdk::DataDefinitions& problem_needs,
                     const std::string& model_name,
                     const sdk::DataDefinitions& model_inputs,
                     const sdk::DataDefinitions& model_outputs) {
  std::string report;
  const std::string p = "problem " + problem_name;
  const std::string m = "model " + model_name;
  compare(m, model_inputs, p, problem_data, report);
  compare(p + " (its loss)", problem_needs, m, model_outputs, report);
  MIP_CHECK(report.empty(), ConfigError, "the ", m, " does not fit the ", p,
            ":", report,
            "\n  set the problem's or the model's parameters so that they "
            "agree (e.g. sizes from the problem's default values)");
}

}  // namespace mip
