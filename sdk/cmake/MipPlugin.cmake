# mip_add_plugin(<name> SOURCES <file>... DEFAULTS <file.yml>...
#                [PRECOMPILED_HEADER | NO_PRECOMPILED_HEADER]
#                [OUTPUT_DIRECTORY <dir>] [NO_INSTALL])
#
# Builds the plugin library lib<name>.so against mip::sdk with hidden symbols
# and LibTorch's flags, and embeds its default-parameters YAML files, so that
# `mip-plugins info` can print them. The library lands in
# <build>/lib/mip/plugins (or OUTPUT_DIRECTORY) and installs to
# <prefix>/lib/mip/plugins. Used identically in and out of the tree.
#
# With several DEFAULTS files, each component gets the one whose stem equals
# its registered name (case-insensitively). Right after linking, a small
# checker (mip_plugin_check, built once per project from
# mip_plugin_check.cpp, which sits next to this file) loads the library and
# fails the build when a component matches none of them.
#
# PRECOMPILED_HEADER compiles the plugin with <ATen/ATen.h> (the tensor
# library, which mip/sdk/sequence.hpp and <torch/torch.h> include) and
# <torch/nn/module.h> (which mip/sdk/model.hpp includes) precompiled once per
# project: the first plugin that asks creates the object library
# mip_plugin_pch (plugin flags: -fPIC, hidden visibility, mip::sdk), and every
# plugin reuses its header (REUSE_FROM). MIP_PLUGIN_PRECOMPILED_HEADER=ON makes
# it the default of every call; NO_PRECOMPILED_HEADER opts one plugin out;
# CMAKE_DISABLE_PRECOMPILE_HEADERS=ON turns it off everywhere. With ccache as
# the compiler launcher, the PCH's targets run it with the sloppiness a
# precompiled header needs (pch_defines, time_macros) and GCC's
# -fpch-preprocess, so that their objects are cached too.
include_guard(GLOBAL)

# `launcher` (a CXX_COMPILER_LAUNCHER list) made fit for precompiled headers:
# ccache gets the sloppiness it needs to cache a TU that uses one (on top of
# the user's own setting). Any other launcher is returned unchanged.
function(_mip_pch_compiler_launcher out launcher)
  set(${out} "${launcher}" PARENT_SCOPE)
  list(LENGTH launcher n)
  if(n EQUAL 0 OR "${launcher}" MATCHES "CCACHE_SLOPPINESS=")
    return()
  endif()
  list(GET launcher 0 program)
  get_filename_component(program_name "${program}" NAME)
  if(NOT program_name STREQUAL "ccache")
    return()
  endif()
  execute_process(COMMAND "${program}" --get-config sloppiness
    OUTPUT_VARIABLE sloppiness OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE failed ERROR_QUIET)
  if(failed)
    set(sloppiness "")
  endif()
  string(REPLACE " " "" sloppiness "${sloppiness}")
  string(REPLACE "," ";" sloppiness "${sloppiness}")
  list(APPEND sloppiness pch_defines time_macros)
  list(REMOVE_ITEM sloppiness "")
  list(REMOVE_DUPLICATES sloppiness)
  list(JOIN sloppiness "," sloppiness)
  set(${out} "${CMAKE_COMMAND};-E;env;CCACHE_SLOPPINESS=${sloppiness};${launcher}"
    PARENT_SCOPE)
endfunction()

# Makes ccache able to cache `target`'s objects built with a precompiled
# header: the launcher above, and GCC's -fpch-preprocess (ccache then hashes
# the .gch named in the preprocessed output instead of refusing the TU).
function(_mip_pch_for_ccache target)
  get_target_property(launcher ${target} CXX_COMPILER_LAUNCHER)
  if(NOT launcher)
    return()
  endif()
  _mip_pch_compiler_launcher(launcher "${launcher}")
  if(NOT "${launcher}" MATCHES "CCACHE_SLOPPINESS=")
    return()
  endif()
  set_property(TARGET ${target} PROPERTY CXX_COMPILER_LAUNCHER "${launcher}")
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -fpch-preprocess)
  endif()
endfunction()

# The precompiled <ATen/ATen.h> and <torch/nn/module.h> every plugin of the
# project may share (every plugin includes both through the SDK): an
# object library compiled exactly as mip_add_plugin() compiles a plugin, so
# that its header fits them all (a flag that differs makes GCC ignore the
# header, which CMake's -Winvalid-pch reports).
function(_mip_plugin_pch out sdk)
  if(NOT TARGET mip_plugin_pch)
    set(source "${CMAKE_BINARY_DIR}/mip_plugin_pch.cpp")
    file(CONFIGURE OUTPUT "${source}" CONTENT
      "// The object library that precompiles the plugins' shared header.\n")
    add_library(mip_plugin_pch OBJECT "${source}")
    target_link_libraries(mip_plugin_pch PRIVATE ${sdk})
    _mip_plugin_compile_like_a_plugin(mip_plugin_pch)
    target_precompile_headers(mip_plugin_pch PRIVATE <ATen/ATen.h> <torch/nn/module.h>)
    _mip_pch_for_ccache(mip_plugin_pch)
  endif()
  set(${out} mip_plugin_pch PARENT_SCOPE)
endfunction()

# The compile settings of a plugin (which the shared header must match).
function(_mip_plugin_compile_like_a_plugin target)
  set_target_properties(${target} PROPERTIES
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
endfunction()

# The checker run after each plugin is linked: one tiny executable per
# project (it includes mip/sdk/manifest.hpp and version.hpp, no LibTorch).
function(_mip_plugin_checker out)
  if(NOT TARGET mip_plugin_check)
    add_executable(mip_plugin_check
      "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/mip_plugin_check.cpp")
    if(TARGET mip::sdk)
      set(sdk mip::sdk)
    else()
      set(sdk Mip::sdk)
    endif()
    get_target_property(aliased ${sdk} ALIASED_TARGET)
    if(aliased)
      set(sdk ${aliased})
    endif()
    target_include_directories(mip_plugin_check PRIVATE
      $<TARGET_PROPERTY:${sdk},INTERFACE_INCLUDE_DIRECTORIES>)
    target_compile_features(mip_plugin_check PRIVATE cxx_std_17)
    target_link_libraries(mip_plugin_check PRIVATE ${CMAKE_DL_LIBS})
  endif()
  set(${out} mip_plugin_check PARENT_SCOPE)
endfunction()

function(mip_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL;PRECOMPILED_HEADER;NO_PRECOMPILED_HEADER"
    "OUTPUT_DIRECTORY" "SOURCES;DEFAULTS" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "mip_add_plugin(${name}): unknown arguments [${ARG_UNPARSED_ARGUMENTS}]")
  endif()
  if(ARG_PRECOMPILED_HEADER AND ARG_NO_PRECOMPILED_HEADER)
    message(FATAL_ERROR
      "mip_add_plugin(${name}): give PRECOMPILED_HEADER or NO_PRECOMPILED_HEADER, not both")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "mip_add_plugin(${name}): give its sources: SOURCES a.cpp ...")
  endif()
  if(NOT ARG_DEFAULTS)
    message(FATAL_ERROR
      "mip_add_plugin(${name}): give its default parameters: DEFAULTS ${name}.yml "
      "(a YAML map with every key the component reads, each commented)")
  endif()
  set(generated "// Generated by mip_add_plugin(${name}): the default parameters.\n")
  string(APPEND generated "#include <mip/sdk/detail/register.hpp>\nnamespace {\n")
  set(index 0)
  set(defaults_paths "")
  foreach(file IN LISTS ARG_DEFAULTS)
    get_filename_component(path "${file}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    if(NOT EXISTS "${path}")
      message(FATAL_ERROR "mip_add_plugin(${name}): defaults file [${path}] does not exist")
    endif()
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${path}")
    file(READ "${path}" content)
    string(FIND "${content}" ")mipyaml\"" clash)
    if(NOT clash EQUAL -1)
      message(FATAL_ERROR "mip_add_plugin(${name}): [${path}] contains the sequence )mipyaml\"")
    endif()
    list(APPEND defaults_paths "${path}")
    get_filename_component(stem "${path}" NAME_WE)
    string(APPEND generated
      "const ::mip::sdk::detail::DefaultsRegistrar mip_defaults_${index}(\"${stem}\", R\"mipyaml(${content})mipyaml\");\n")
    math(EXPR index "${index} + 1")
  endforeach()
  string(APPEND generated "}  // namespace\n")
  set(gen_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_defaults.cpp")
  file(WRITE "${gen_file}.in" "${generated}")
  configure_file("${gen_file}.in" "${gen_file}" COPYONLY)

  add_library(${name} MODULE ${ARG_SOURCES} "${gen_file}")
  if(TARGET mip::sdk)
    set(sdk mip::sdk)
  else()
    set(sdk Mip::sdk)
  endif()
  target_link_libraries(${name} PRIVATE ${sdk})
  _mip_plugin_compile_like_a_plugin(${name})
  set(pch ${MIP_PLUGIN_PRECOMPILED_HEADER})
  if(ARG_PRECOMPILED_HEADER)
    set(pch ON)
  elseif(ARG_NO_PRECOMPILED_HEADER)
    set(pch OFF)
  endif()
  if(pch AND NOT CMAKE_DISABLE_PRECOMPILE_HEADERS)
    _mip_plugin_pch(pch_target ${sdk})
    target_precompile_headers(${name} REUSE_FROM ${pch_target})
    _mip_pch_for_ccache(${name})
    # The generated defaults file includes no LibTorch: loading the header
    # would cost it more than it saves.
    set_source_files_properties("${gen_file}" PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
  endif()
  if(ARG_OUTPUT_DIRECTORY)
    set(outdir "${ARG_OUTPUT_DIRECTORY}")
  elseif(DEFINED MIP_PLUGIN_OUTPUT_DIR)
    set(outdir "${MIP_PLUGIN_OUTPUT_DIR}")
  else()
    set(outdir "${CMAKE_BINARY_DIR}/lib/mip/plugins")
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY "${outdir}")
  # A plugin must resolve every symbol at link time, not fail at dlopen.
  # Except in the fuzz build (MIP_FUZZ, clang): there the sanitizer and
  # libFuzzer runtimes live in the executable that loads the plugin.
  if(NOT MIP_FUZZ)
    target_link_options(${name} PRIVATE "LINKER:--no-undefined")
  endif()
  # Every component must have matched a defaults file (checked by loading the
  # library; skipped when cross-compiling without an emulator).
  if(NOT CMAKE_CROSSCOMPILING OR CMAKE_CROSSCOMPILING_EMULATOR)
    _mip_plugin_checker(checker)
    add_dependencies(${name} ${checker})
    add_custom_command(TARGET ${name} POST_BUILD
      COMMAND ${checker} ${name} "$<TARGET_FILE:${name}>" ${defaults_paths}
      VERBATIM)
  endif()
  if(NOT ARG_NO_INSTALL)
    include(GNUInstallDirs)
    install(TARGETS ${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/mip/plugins)
  endif()
endfunction()
