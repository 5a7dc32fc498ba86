#!/usr/bin/env bash
# Builds ptool as on a machine with neither OpenCL headers nor libuv/libcurl:
# PTOOL_WITH_OPENCL=OFF, PTOOL_WITH_IO=OFF and pkg-config unable to find
# anything. Then checks that no object included an
# OpenCL, libuv or libcurl header, and that run/bench/jobs/backends work.
# Usage: minimal_build.sh SOURCE_DIR C_COMPILER
set -euo pipefail
src=$1
cc=$2
work=$(mktemp -d /tmp/ptool-minimal-XXXXXX)
trap 'rm -rf "$work"' EXIT

PKG_CONFIG_LIBDIR=/nonexistent cmake -S "$src" -B "$work" -G Ninja -DCMAKE_C_COMPILER="$cc" \
  -DPTOOL_WITH_OPENCL=OFF -DPTOOL_WITH_IO=OFF -DPTOOL_BUILD_TESTS=OFF -DPT_WERROR=ON \
  > "$work/configure.log"
grep -E "backend opencl +OFF" "$work/configure.log"
grep -E "io front end +OFF" "$work/configure.log"
cmake --build "$work" > "$work/build.log"
if grep -rlE "CL/cl\.h|/uv\.h|curl/curl\.h" --include='*.d' "$work" >/dev/null 2>&1 ||
   ninja -C "$work" -t deps | grep -E "CL/cl\.h|/uv\.h|curl/curl\.h"; then
  echo "a source of the minimal build included an OpenCL/libuv/libcurl header"
  exit 1
fi
ptool="$work/cli/ptool"
"$ptool" --version | grep -v opencl
"$ptool" jobs > "$work/jobs.txt"   # (grep -q on a pipe would SIGPIPE ptool under pipefail)
grep -q "^isprime" "$work/jobs.txt"
"$ptool" backends > "$work/backends.txt"
grep -E "^opencl +unavailable +not built" "$work/backends.txt"
[ "$("$ptool" run isprime 97 561 --backend threads)" = "$(printf '97 prime\n561 composite')" ]
"$ptool" bench isprime --preset course --repeat 1 --warmup 0 > "$work/bench.txt"
grep -E "^serial .* yes" "$work/bench.txt"
status=0
"$ptool" run isprime 7 --backend opencl --strict 2> "$work/err.txt" || status=$?
[ "$status" -eq 3 ] && grep -q "not built" "$work/err.txt"
echo "minimal build: ok"
