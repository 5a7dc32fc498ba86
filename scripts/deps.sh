#!/usr/bin/env bash
# Installs what ptool needs to build and test on Debian 12 / Ubuntu, only
# when something is missing. Usage: scripts/deps.sh [build|test]
set -euo pipefail

build_pkgs=(
  cmake ninja-build pkg-config gcc make libpng-dev
  libomp-dev                                   # OpenMP runtime for clang (TSan build)
  ocl-icd-opencl-dev opencl-headers            # the OpenCL ICD loader and headers
  pocl-opencl-icd clinfo                       # an OpenCL device on any CPU
  libuv1-dev libcurl4-openssl-dev              # the IO front end
  libssl-dev                                   # libcrypto: ptool hash's digests
  python3                                      # bench/
)
test_pkgs=(
  clang libcriterion-dev                       # the test suites and the TSan build
)

want=("${build_pkgs[@]}")
if [ "${1:-build}" = test ]; then
  want+=("${test_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#want[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "deps: missing packages and not root (no sudo): ${missing[*]}" >&2
    exit 1
  fi
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
