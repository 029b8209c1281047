#include <mip/core/report.hpp>

int main(int argc, char** argv) {
  return mip::run_report(argc, argv);
}
