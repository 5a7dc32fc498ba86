#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds two tiny outside
# programs against the installed copy: one with find_package(ptool), one with
# pkg-config. Each runs a job and checks the answer.
# Usage: install_test.sh BUILD_DIR C_COMPILER
set -euo pipefail
build=$1
cc=$2
work=$(mktemp -d /tmp/ptool-install-XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/ptool/ptool.h"
test -f "$work/prefix/include/ptool/version.h"
test -x "$work/prefix/bin/ptool"

mkdir -p "$work/app"
cat > "$work/app/main.c" <<'C'
#include <ptool/ptool.h>
#include <stdio.h>
#include <string.h>

static int print(void *ctx, const char *buf, size_t len)
{
    (void)ctx;
    return fwrite(buf, 1, len, stdout) == len ? 0 : -1;
}

int main(void)
{
    pt_runtime *rt;
    if (pt_runtime_create(&rt, NULL) != 0)
        return 1;
    const pt_job_desc *d = pt_job_find("isprime");
    pt_params *p;
    char err[PT_ERRBUF_SIZE];
    pt_params_create(&p, d);
    pt_params_set(p, "numbers", "97,561", err, sizeof(err));
    pt_job *job;
    if (pt_job_create(&job, rt, d, p, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    pt_run_options ro = {.backend = PT_BACKEND_THREADS, .strict = true};
    if (pt_run(rt, job, &ro, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    pt_job_write_text(job, 0, print, NULL);
    printf("version %s\n", pt_version());
    pt_job_destroy(job);
    pt_params_destroy(p);
    pt_runtime_destroy(rt);
    return 0;
}
C
want=$(printf '97 prime\n561 composite\nversion %s\n' "$("$work/prefix/bin/ptool" --version | awk '{print $2}')")

# 1. find_package(ptool)
cat > "$work/app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(ptool_consumer C)
find_package(ptool 0.1 REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE ptool::ptool_compute)
CM
cmake -S "$work/app" -B "$work/app/build" -G Ninja -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/app/build" >/dev/null
got=$("$work/app/build/consumer")
[ "$got" = "$want" ] || { echo "find_package consumer printed:"; echo "$got"; exit 1; }
echo "find_package(ptool): ok"

# 2. pkg-config
pcdir=$(dirname "$(find "$work/prefix" -name ptool.pc -print -quit)")
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs ptool)
"$cc" -std=c11 "$work/app/main.c" -o "$work/app/pc_consumer" $flags
got=$("$work/app/pc_consumer")
[ "$got" = "$want" ] || { echo "pkg-config consumer printed:"; echo "$got"; exit 1; }
echo "pkg-config --cflags --libs ptool ($flags): ok"

# 3. the IO library, when this build has it: ptool::ptool_io / ptool-io.pc
if [ -f "$work/prefix/include/ptool/hash.h" ]; then
  # The installed ptool finds its network module (lib*/ptool/ptool-net.so)
  # relative to itself, also after the tree is moved.
  mv "$work/prefix" "$work/moved"
  # Capture, then match: `ptool ... | grep -q` under pipefail fails whenever
  # grep exits before ptool has written all of its help (SIGPIPE, status 141).
  for cmd in fetch serve; do
    out=$("$work/moved/bin/ptool" "$cmd" --help) ||
      { echo "installed ptool $cmd --help exited $?"; exit 1; }
    case $out in
      *"Usage: ptool $cmd"*) ;;
      *) echo "installed ptool $cmd --help printed no usage line"; exit 1 ;;
    esac
  done
  mv "$work/moved" "$work/prefix"
  echo "installed ptool loads its network module: ok"
  mkdir -p "$work/io"
  cat > "$work/io/main.c" <<'C'
#include <ptool/hash.h>
#include <stdio.h>

int main(void)
{
    unsigned char d[64];
    size_t n = 0;
    if (pt_hash_algo_info("sha256", &n, NULL, 0) != 0 ||
        pt_hash_buffer("sha256", "abc", 3, d, &n) != 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        printf("%02x", d[i]);
    printf("\n");
    return 0;
}
C
  want_io=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
  cat > "$work/io/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(ptool_io_consumer C)
find_package(ptool 0.1 REQUIRED)
add_executable(io_consumer main.c)
target_link_libraries(io_consumer PRIVATE ptool::ptool_io)
CM
  cmake -S "$work/io" -B "$work/io/build" -G Ninja -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
  cmake --build "$work/io/build" >/dev/null
  got=$("$work/io/build/io_consumer")
  [ "$got" = "$want_io" ] || { echo "ptool::ptool_io consumer printed: $got"; exit 1; }
  echo "find_package(ptool) -> ptool::ptool_io: ok"
  flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs ptool-io)
  "$cc" "$work/io/main.c" -o "$work/io/pc_consumer" $flags   # libuv's headers want POSIX: gnu11, the default
  got=$("$work/io/pc_consumer")
  [ "$got" = "$want_io" ] || { echo "ptool-io.pc consumer printed: $got"; exit 1; }
  echo "pkg-config --cflags --libs ptool-io: ok"
fi
