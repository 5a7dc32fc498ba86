#!/usr/bin/env bash
# Installs what ptool needs to build and test on Debian 12 / Ubuntu, only
# when something is missing. Usage: scripts/deps.sh [build|test|bench]
# (test and bench each add their group to the build packages).
set -euo pipefail

build_pkgs=(
  cmake ninja-build pkg-config gcc make libpng-dev
  libomp-dev                                   # OpenMP runtime for clang (TSan build)
  ocl-icd-opencl-dev opencl-headers            # the OpenCL ICD loader and headers
  pocl-opencl-icd clinfo                       # an OpenCL device on any CPU
  libuv1-dev libcurl4-openssl-dev              # the IO front end
  libhttp-parser-dev libjansson-dev            # ptool serve: HTTP parsing, JSON requests
  libxml2-dev                                  # ptool crawl: the HTML parser
  libssl-dev                                   # libcrypto: ptool hash's digests
  python3                                      # bench/
)
test_pkgs=(
  clang libcriterion-dev                       # the test suites and the TSan build
  wrk                                          # ptool serve's load test
  nginx openssl                                # fetch tests: a real server, TLS certificates
  python3                                      # the tests' fault server
)
bench_pkgs=(
  primesieve                                   # bench primes: the reference
  python3-aiohttp curl time                    # bench fetch: the references, peak RSS
  wrk nginx python3-flask                      # bench serve: load, the nginx and Flask references
  libopenblas-dev                              # bench matmul: OpenBLAS sgemm, the reference
)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: scripts/deps.sh [build|test|bench]" >&2; exit 2 ;;
esac

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
