#!/usr/bin/env bash
# Installs every Debian package MI-Prometheus C++ needs to build, test and run.
# Idempotent and non-interactive: run it as root (or through sudo) on Debian 12.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache
  libtorch-dev            # LibTorch 1.13 (CPU)
  libgloo-dev             # the c10d (Gloo) headers of data-parallel training; libtorch-dev does not pull them in
  libopenblas0-openmp     # several times faster than the reference BLAS; OpenMP build (not -pthread)
  libopenblas-openmp-dev  # without it python3-matplotlib's closure pulls libopenblas-dev, whose first choice is the -pthread build
  libyaml-cpp-dev
  libboost-dev libboost-program-options-dev libboost-filesystem-dev
  libspdlog-dev libfmt-dev
  libgtest-dev            # GoogleTest (with its CMake package)
  zlib1g-dev              # the vision tests write gzipped IDX files
  file                    # CPack's DEB generator inspects the binaries with it
  libblas3                # the reference BLAS: the BLAS-warning test runs LibTorch on it
  dataset-fashion-mnist   # real Fashion-MNIST (gzipped IDX) in /usr/share/datasets/fashion-mnist
  chromium                # headless, for the mip-report tests (screenshot, DOM); large: ~350 MB installed with its libraries; the tests skip without it
  python3-torch           # tests: Python's torch reads a C++ checkpoint (docs/interop.md)
  python3-matplotlib      # tests: the statistics plot of docs/interop.md
  python3-protobuf python3-crc32c  # the TensorBoard test decodes the event files with them
  slurm-wlm               # tests: mip-grid-trainer --launcher slurm on a one-node Slurm the test starts (slurmctld, slurmd, sbatch); skipped without it
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# LibTorch loads whichever libblas.so.3 / liblapack.so.3 the alternatives
# system chose; the -pthread build, when some other package brought it in and
# it won, fights LibTorch's OpenMP threads. Choose the OpenMP build.
choose_openmp_blas() {
  local arch dir name current
  arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
  dir=/usr/lib/$arch/openblas-openmp
  for name in libblas.so.3 liblapack.so.3; do
    [ -e "$dir/$name" ] || continue
    current=$(update-alternatives --query "$name-$arch" 2>/dev/null | sed -n 's/^Value: //p')
    if [ -n "$current" ] && [ "$current" != "$dir/$name" ]; then
      $SUDO update-alternatives --quiet --set "$name-$arch" "$dir/$name"
      echo "install-deps: $name now $dir/$name (was $current)"
    fi
  done
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  choose_openmp_blas
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
choose_openmp_blas
