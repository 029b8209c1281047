#pragma once

#include <map>
#include <string>

#include <mip/sdk/logger.hpp>
#include <mip/sdk/param_view.hpp>

namespace mip::sdk {

/// What the host hands a component's constructor: its parameters and a log.
/// Example:
///   explicit MyProblem(mip::sdk::Context& ctx)
///       : bits_(ctx.params().get<int64_t>("data_bits")) {}
class Context {
 public:
  virtual ~Context() = default;
  /// The component's configuration section (e.g. `training.problem`, `model`).
  virtual const ParamView& params() const = 0;
  /// The component's log.
  virtual Logger& logger() = 0;
};

}  // namespace mip::sdk
