#!/usr/bin/env bash
# Installs what is needed, builds and runs the whole test suite: the default
# build (warnings as errors), the ASan+UBSan build, and the TSan build of the
# concurrency tests. Usage: scripts/test.sh [default|asan|tsan ...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test

presets=("$@")
if [ ${#presets[@]} -eq 0 ]; then
  presets=(default asan tsan)
fi
start=$(date +%s)
for p in "${presets[@]}"; do
  echo "=== preset $p: configure, build, test ==="
  t0=$(date +%s)
  cmake --preset "$p" -DPT_WERROR=ON -DPTOOL_BUILD_TESTS=ON
  cmake --build --preset "$p"
  # The whole verbose log goes to a file: Criterion's per-test lines, skips
  # with their reasons, and sanitizer reports (LeakSanitizer does not fail a
  # Criterion test by itself, so we look for its reports here).
  case $p in
    default) log=build/ctest.log ;;
    *) log=build-$p/ctest.log ;;
  esac
  if ! ctest --preset "$p" -j2 -V > "$log" 2>&1; then
    grep -E "^ *[0-9]+/[0-9]+ Test" "$log" || true
    # First the failing run's own output (ctest -V prefixes each line with
    # the test's number), then a rerun: a flaky test shows both faces.
    for n in $(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#([0-9]+):.*\*\*\*.*/\1/p' "$log"); do
      echo "=== preset $p: output of failed test #$n (last 80 lines) ==="
      grep -E "^$n: " "$log" | tail -n 80 || true
    done
    echo "=== preset $p: rerunning the failed tests (full log: $log) ==="
    ctest --preset "$p" --rerun-failed --output-on-failure || true
    exit 1
  fi
  grep -E "^ *[0-9]+/[0-9]+ Test|tests passed|Total Test time" "$log"
  grep -E "\[SKIP\]" "$log" || true
  if grep -q "ERROR: LeakSanitizer" "$log"; then
    echo "=== preset $p: LeakSanitizer reported leaks (full log: $log) ==="
    grep -B2 -A25 "ERROR: LeakSanitizer" "$log" | head -n 120 || true
    exit 1
  fi
  echo "=== preset $p passed in $(( $(date +%s) - t0 )) s ==="
done
echo "=== all presets passed (${presets[*]}) in $(( $(date +%s) - start )) s ==="
