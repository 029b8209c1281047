#!/usr/bin/env bash
# Installs the dependencies, builds (release preset) and runs the whole test
# suite. Usage: packaging/test.sh [preset]   (release, debug or asan)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
./packaging/install-deps.sh
start=$(date +%s)
cmake --preset "$preset"
cmake --build --preset "$preset"
echo "build: $(( $(date +%s) - start )) s"
ctest --preset "$preset"
echo "build and tests: $(( $(date +%s) - start )) s"
