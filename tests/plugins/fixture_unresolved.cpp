// A library that dlopen refuses: it reads a variable nothing defines, a
// relocation resolved at load time even with RTLD_LAZY.
extern "C" int fixture_variable_nobody_defines;
extern "C" __attribute__((visibility("default"))) int mip_plugin_manifest_v1() {
  return fixture_variable_nobody_defines;
}
