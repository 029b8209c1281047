#pragma once

/// Registration of plugin components. A plugin's .cpp ends with one line per
/// component, at namespace scope:
///
///   MIP_REGISTER_PROBLEM(SerialRecall, "SerialRecallCommandLines",
///                        "copy task with command lines", "SerialRecall")
///   MIP_REGISTER_MODEL(Lstm, "LSTM", "LSTM over the input sequence")
///
/// The arguments: the class (derived from mip::sdk::Problem or
/// mip::sdk::Model, with a constructor taking mip::sdk::Context&), the name
/// used in configurations, a one-line description, then any aliases. Build
/// the library with mip_add_plugin(): each component gets the defaults `.yml`
/// whose name is the component's name (any case), or the only one.
///
/// How it works (mip/sdk/detail/register.hpp): each line defines a static
/// registrar that records the component when the library is loaded, and the
/// library exports one C function, mip_plugin_manifest_v1(), that hands the
/// host the manifest (mip/sdk/manifest.hpp) listing them.

#include <mip/sdk/detail/register.hpp>

/// Registers `Class` (derived from mip::sdk::Problem) under `Name`; then a
/// one-line description and any aliases.
#define MIP_REGISTER_PROBLEM(Class, Name, ...)                          \
  MIP_DETAIL_REGISTER(::mip::sdk::Problem,                              \
                      ::mip::sdk::ComponentKind::kProblem, Class, Name, \
                      __VA_ARGS__)

/// Registers `Class` (derived from mip::sdk::Model) under `Name`; then a
/// one-line description and any aliases.
#define MIP_REGISTER_MODEL(Class, Name, ...)                                \
  MIP_DETAIL_REGISTER(::mip::sdk::Model, ::mip::sdk::ComponentKind::kModel, \
                      Class, Name, __VA_ARGS__)
