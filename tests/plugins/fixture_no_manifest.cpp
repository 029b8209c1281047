// A shared library that is not a plugin: it exports a function, no manifest.
extern "C" __attribute__((visibility("default"))) int fixture_not_a_plugin() {
  return 42;
}
