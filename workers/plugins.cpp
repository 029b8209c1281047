#include <mip/core/worker.hpp>

int main(int argc, char** argv) {
  return mip::run_plugins_tool(argc, argv);
}
