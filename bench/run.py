#!/usr/bin/env python3
"""One command, side by side: ptool against the references it should beat.

  python3 bench/run.py [--build DIR] [--repeat N] [--quick]
                       [--only isprime,pool] [--json]

Each section runs its benchmarks, prints one table, then named target checks
with PASS/FAIL. This is a report: the exit status is 0 even when a check
fails (2 on bad usage); the last line says how many checks passed and failed.

Sections are the modules in bench/sections/ (see benchlib.py): run.py
imports each one, and each registers itself with @section("name").
Standard library only. See bench/README.md.
"""

import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import *  # noqa: E402,F401,F403


def load_sections():
    """Import every bench/sections/*.py: each registers its sections."""
    for path in sorted((BENCH_DIR / "sections").glob("*.py")):
        importlib.import_module(f"sections.{path.stem}")


# --------------------------------------------------------------------------
# Machine, arguments, main


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(ctx):
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "nproc": usable,
        "cpus_online": os.cpu_count(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "build": str(ctx.build),
    }


def print_machine(info):
    print(f"machine: {info['cpu']}, nproc {info['nproc']} "
          f"({info['cpus_online']} online), load average "
          f"{' '.join(str(x) for x in info['loadavg'])}")
    print(f"date:    {info['date']}")
    print(f"python:  {info['python']}, build dir {info['build']}")


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Run ptool's benchmarks side by side with their references.")
    p.add_argument("--build", type=Path,
                   default=Path(os.environ.get("PTOOL_BUILD_DIR", REPO_DIR / "build")),
                   help="CMake build directory (default: $PTOOL_BUILD_DIR, else ./build)")
    p.add_argument("--repeat", type=int, default=3,
                   help="timed runs per measurement; the median counts (default: 3)")
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats for the slow Python runs and fewer pool iterations")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections (default: all: {','.join(SECTIONS)})")
    p.add_argument("--json", action="store_true",
                   help="one JSON object on stdout instead of the tables")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown or not args.sections:
        p.error(f"--only: unknown section(s) {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(SECTIONS)}")
    return args


def main(argv=None):
    load_sections()
    args = parse_args(argv)
    ctx = Context(build=args.build.resolve(), repeat=args.repeat, quick=args.quick)
    if not ctx.build.is_dir():
        print(f"run.py: build directory {ctx.build} does not exist. Build ptool "
              f"(cmake -S {REPO_DIR} -B DIR && cmake --build DIR) and pass --build DIR.",
              file=sys.stderr)
        return 2
    info = machine_info(ctx)
    if not args.json:
        print_machine(info)

    results = {}
    for name in args.sections:
        progress(f"[{name}]")
        t0 = time.perf_counter()
        results[name] = SECTIONS[name](ctx)
        progress(f"[{name}] done in {time.perf_counter() - t0:.1f} s")
        if not args.json:
            print_section(name, results[name])
            sys.stdout.flush()

    checks = [c for r in results.values() for c in r.checks]
    passed = sum(c.passed for c in checks)
    failed = len(checks) - passed
    if args.json:
        print(json.dumps({
            "machine": info,
            "sections": {name: r.to_json() for name, r in results.items()},
            "passed": passed, "failed": failed,
        }, default=str))
    else:
        print()
        print(f"{passed} checks passed, {failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
