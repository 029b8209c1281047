#pragma once

#include <string>

#include <mip/sdk/data.hpp>

namespace mip {

/// True when `got` can stand where `want` is expected: same dtype, same rank,
/// each dimension equal or -1 on either side.
bool definition_compatible(const sdk::DataDefinition& want,
                           const sdk::DataDefinition& got);

/// Checks before training that the problem's batch satisfies the model's
/// inputs and the model's outputs the problem's loss; throws mip::ConfigError
/// listing every mismatch with both definitions.
void check_handshake(const std::string& problem_name,
                     const sdk::DataDefinitions& problem_data,
                     const sdk::DataDefinitions& problem_needs,
                     const std::string& model_name,
                     const sdk::DataDefinitions& model_inputs,
                     const sdk::DataDefinitions& model_outputs);

/// Checks a batch against the data definitions of the problem that made it:
/// the same keys, dtypes, ranks, and sizes where declared (-1: any); throws
/// mip::DataError naming `problem` and every key that differs.
void check_batch(const std::string& problem,
                 const sdk::DataDefinitions& declared,
                 const sdk::DataDict& batch);

}  // namespace mip
