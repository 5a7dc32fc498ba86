#!/usr/bin/env bash
# Quick start: install dependencies, build ptool, and run the main job: the
# course's CPU-bound workload on every backend, verified against serial.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake --preset default -DPTOOL_BUILD_TESTS=OFF
cmake --build --preset default
export POCL_CACHE_DIR="${POCL_CACHE_DIR:-$PWD/build/pocl-cache}"
build/cli/ptool bench isprime --preset course
