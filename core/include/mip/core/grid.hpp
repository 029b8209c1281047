#pragma once

// The grid workers (docs/grids.md): many experiments, each a child process
// of a single-run worker. No LibTorch here.

namespace mip {

/// mip-grid-trainer (and its MI-Prometheus names mip-grid-trainer-cpu/-gpu;
/// `gpu_alias`: the -gpu name, which implies --gpu).
int run_grid_trainer(int argc, char** argv, bool gpu_alias);

/// mip-grid-tester (and mip-grid-tester-cpu/-gpu): tests the best model of
/// every finished experiment under a grid folder.
int run_grid_tester(int argc, char** argv, bool gpu_alias);

}  // namespace mip
