#include <mip/core/grid_analysis.hpp>

int main(int argc, char** argv) {
  return mip::run_grid_analyzer(argc, argv);
}
