#!/usr/bin/env bash
# Installs the dependencies, builds (release preset) and runs the default
# experiment: a short online training of the LSTM on serial recall.
set -euo pipefail
cd "$(dirname "$0")/.."
./packaging/install-deps.sh
cmake --preset release
cmake --build --preset release --target mip-online-trainer mip-plugins mip_serial_recall mip_lstm
exec ./build/release/bin/mip-online-trainer --config configs/serial_recall/lstm.yaml "$@"
