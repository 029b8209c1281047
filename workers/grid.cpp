// mip-grid-trainer, mip-grid-tester and MI-Prometheus's names for them
// (-cpu, -gpu): one source, built once per name (workers/CMakeLists.txt).
#include <mip/core/grid.hpp>

int main(int argc, char** argv) {
  return MIP_GRID_MAIN(argc, argv, MIP_GRID_GPU != 0);
}
