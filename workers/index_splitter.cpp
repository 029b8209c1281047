#include <mip/core/index_splitter.hpp>

int main(int argc, char** argv) {
  return mip::run_index_splitter(argc, argv);
}
