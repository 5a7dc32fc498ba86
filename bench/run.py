#!/usr/bin/env python3
"""One command, side by side: ptool against the references it should beat.

  python3 bench/run.py [--build DIR] [--repeat N] [--quick]
                       [--only isprime,pool] [--json]

Each section runs its benchmarks, prints one table, then named target checks
with PASS/FAIL. This is a report: the exit status is 0 even when a check
fails (2 on bad usage); the last line says how many checks passed and failed.

Sections live in a registry (SECTIONS); add one with the @section decorator:
a function that takes the Context and returns a SectionResult.
Standard library only. See bench/README.md.
"""

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
COURSE_SCRIPT = BENCH_DIR / "course_isprime.py"

PTOOL_BACKENDS = ("serial", "threads", "processes", "openmp", "opencl")

# Targets.
MR_SERIAL_MAX_SECONDS = 1e-3        # mr on the course workload, serial backend
TRIAL_MIN_SPEEDUP = 1.8             # threads, processes, openmp vs serial (trial)
OPENCL_MAX_VS_OPENMP = 1.5          # opencl median <= 1.5 x openmp median (trial)
POOL_MAX_MEDIAN_US = 5.0            # submit -> completion, median


# --------------------------------------------------------------------------
# Plumbing: context, results, running commands


@dataclasses.dataclass
class Context:
    build: Path
    repeat: int
    quick: bool

    @property
    def ptool(self):
        return self.build / "cli" / "ptool"

    def bench_binary(self, name):
        return self.build / "bench" / name


@dataclasses.dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclasses.dataclass
class Column:
    header: str
    key: str
    fmt: object = str      # value -> str; None values print as "-"
    left: bool = False     # left-align (text) instead of right-align (numbers)


@dataclasses.dataclass
class SectionResult:
    title: str
    columns: list = dataclasses.field(default_factory=list)
    rows: list = dataclasses.field(default_factory=list)      # dicts keyed by Column.key
    notes: list = dataclasses.field(default_factory=list)     # report-only lines
    checks: list = dataclasses.field(default_factory=list)
    raw: dict = dataclasses.field(default_factory=dict)       # tool outputs, for --json

    def to_json(self):
        return {"title": self.title, "rows": self.rows, "notes": self.notes,
                "checks": [dataclasses.asdict(c) for c in self.checks],
                "raw": self.raw}


def progress(message):
    """Progress goes to stderr so that --json output stays one object."""
    print(message, file=sys.stderr, flush=True)


def run_json(cmd, timeout=3600):
    """Run a command that prints JSON; return (object or None, error or None).

    A nonzero exit with valid JSON still returns the object (with the error),
    so that a section can show what went wrong.
    """
    progress("  running: " + " ".join(str(c) for c in cmd))
    exe = Path(cmd[0])
    if exe.is_absolute() and not exe.exists():
        return None, f"missing binary {exe}"
    try:
        proc = subprocess.run([str(c) for c in cmd], capture_output=True,
                              text=True, timeout=timeout)
    except FileNotFoundError:
        return None, f"cannot run {cmd[0]}: not found"
    except subprocess.TimeoutExpired:
        return None, f"{Path(cmd[0]).name} timed out after {timeout} s"
    obj = parse_json_output(proc.stdout)
    error = None
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-400:]
        error = f"{Path(str(cmd[0])).name} exited {proc.returncode}: {tail}"
    elif obj is None:
        error = f"{Path(str(cmd[0])).name} printed no JSON: {proc.stdout[-200:]!r}"
    return obj, error


def parse_json_output(text):
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    for line in reversed(text.splitlines()):    # one JSON line after chatter
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return None


def missing_binary_note(path, what):
    return (f"MISSING {what}: {path} does not exist. Build it "
            f"(cmake -S {REPO_DIR} -B DIR && cmake --build DIR) and pass --build DIR.")


# --------------------------------------------------------------------------
# Formatting


def fmt_seconds(s):
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def fmt_ratio(r):
    if r >= 100:
        return f"{r:,.0f}x"
    return f"{r:.2f}x"


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def render_table(columns, rows):
    cells = [[c.header for c in columns]]
    for row in rows:
        cells.append([("-" if row.get(c.key) is None else c.fmt(row[c.key]))
                      for c in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = []
    for n, r in enumerate(cells):
        parts = [v.ljust(w) if c.left else v.rjust(w)
                 for v, w, c in zip(r, widths, columns)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def print_section(name, result):
    print()
    print(f"== {name}: {result.title}")
    if result.rows:
        print()
        for line in render_table(result.columns, result.rows):
            print("  " + line)
    if result.notes:
        print()
        for note in result.notes:
            print("  " + note)
    if result.checks:
        print()
        print("  Targets:")
        for check in result.checks:
            mark = "PASS" if check.passed else "FAIL"
            print(f"  [{mark}] {check.name}: {check.detail}")


# --------------------------------------------------------------------------
# Section registry

SECTIONS = {}


def section(name):
    def register(func):
        SECTIONS[name] = func
        return func
    return register


# --------------------------------------------------------------------------
# Section "isprime": the course's CPU-bound example


def python_rows(ctx, method, repeat):
    """Run course_isprime.py; return (rows, raw, error)."""
    cmd = [sys.executable, COURSE_SCRIPT, "--method", method,
           "--repeat", repeat, "--json"]
    obj, error = run_json(cmd)
    if obj is None:
        return [], None, error
    rows = [{"name": f"{r['name']} ({method})", "median": r["median_seconds"],
             "ok": r.get("all_prime", False),
             "note": (plural(obj["workers"], "worker") if "Executor" in r["name"]
                      else "1 thread")}
            for r in obj["rows"]]
    return rows, obj, error


def omp_loop_row(ctx):
    exe = ctx.bench_binary("bench_omp_trial")
    if not exe.exists():
        return None, None, missing_binary_note(exe, "plain C OpenMP loop "
                                               "(built only when OpenMP is found)")
    obj, error = run_json([exe, "--repeat", ctx.repeat])
    if obj is None:
        return None, None, error
    row = {"name": "plain C OpenMP loop (trial)", "median": obj["median_seconds"],
           "ok": obj.get("primes") == 100, "note": plural(obj["threads"], "thread")}
    return row, obj, error


def ptool_rows(ctx, method):
    """Run `ptool bench isprime --preset course`; return (rows, raw, error)."""
    if not ctx.ptool.exists():
        return [], None, missing_binary_note(ctx.ptool, "ptool")
    cmd = [ctx.ptool, "bench", "isprime", "--preset", "course", "--method", method,
           "--repeat", ctx.repeat, "--json"]
    obj, error = run_json(cmd)
    if obj is None:
        return [], None, error
    rows = []
    for r in obj["rows"]:
        row = {"name": f"ptool {r['backend']} ({method})", "backend": r["backend"],
               "method": method, "available": r["available"],
               "median": r["median_seconds"] if r["available"] else None,
               "ok": bool(r.get("verified")) if r["available"] else None}
        if not r["available"]:
            row["note"] = f"unavailable: {r.get('error')}"
        else:
            row["note"] = plural(r["threads"], "thread")
            if r.get("device") and r["backend"] == "opencl":
                row["note"] += f", {r['device']}"
            if not r.get("verified"):
                row["note"] += ", NOT VERIFIED"
        rows.append(row)
    return rows, obj, error


def backend_median(rows, method, backend):
    for row in rows:
        if row.get("method") == method and row.get("backend") == backend:
            return row["median"]
    return None


def best_ptool(rows, method):
    """(median, backend) of the fastest available ptool backend, or (None, None)."""
    timed = [(r["median"], r["backend"]) for r in rows
             if r.get("method") == method and r["median"] is not None]
    return min(timed) if timed else (None, None)


def no_data(what):
    return f"no data ({what} did not run)"


def why_missing(rows, method, backends):
    """Detail for a check that lacks a median: a backend unavailable, or no run."""
    for row in rows:
        if (row.get("method") == method and row.get("backend") in backends
                and row.get("available") is False):
            return f"{row['backend']} {row['note']}"
    return no_data(f"ptool {method} {'/'.join(backends)}")


def isprime_checks(ptool, omp_median):
    checks = []

    mr_serial = backend_median(ptool, "mr", "serial")
    checks.append(Check(
        f"mr on the course workload < {MR_SERIAL_MAX_SECONDS * 1e3:g} ms (serial)",
        mr_serial is not None and mr_serial < MR_SERIAL_MAX_SECONDS,
        fmt_seconds(mr_serial) if mr_serial is not None
        else why_missing(ptool, "mr", ("serial",))))

    serial = backend_median(ptool, "trial", "serial")
    for backend in ("threads", "processes", "openmp"):
        speedup = ratio(serial, backend_median(ptool, "trial", backend))
        checks.append(Check(
            f"trial: {backend} >= {TRIAL_MIN_SPEEDUP}x serial",
            speedup is not None and speedup >= TRIAL_MIN_SPEEDUP,
            f"{fmt_ratio(speedup)} ({fmt_seconds(backend_median(ptool, 'trial', backend))}"
            f" vs {fmt_seconds(serial)})" if speedup is not None
            else why_missing(ptool, "trial", ("serial", backend))))

    openmp = backend_median(ptool, "trial", "openmp")
    opencl = backend_median(ptool, "trial", "opencl")
    rel = ratio(opencl, openmp)
    checks.append(Check(
        f"trial: opencl within {OPENCL_MAX_VS_OPENMP}x of openmp's time",
        rel is not None and rel <= OPENCL_MAX_VS_OPENMP,
        f"opencl takes {fmt_ratio(rel)} openmp's time ({fmt_seconds(opencl)} vs "
        f"{fmt_seconds(openmp)})" if rel is not None
        else why_missing(ptool, "trial", ("opencl", "openmp"))))

    best, best_name = best_ptool(ptool, "trial")
    speedup = ratio(omp_median, best)
    checks.append(Check(
        "trial: best backend at least as fast as the plain C OpenMP loop",
        speedup is not None and best <= omp_median,
        f"{best_name} {fmt_seconds(best)} vs loop {fmt_seconds(omp_median)} "
        f"({fmt_ratio(speedup)})" if speedup is not None
        else no_data("ptool trial or bench_omp_trial")))
    return checks


def correctness_check(rows):
    bad = [r["name"] for r in rows if r.get("ok") is False]
    return Check("every row's answer is right (all prime / verified against serial)",
                 not bad, "all rows right" if not bad else "WRONG: " + ", ".join(bad))


def isprime_report(ptool, py_trial_proc, py_mr_proc):
    notes = ["Report only (the course's best is Python's ProcessPoolExecutor):"]
    for method, reference, label in (
            ("trial", py_trial_proc, "Python ProcessPoolExecutor (trial)"),
            ("mr", py_mr_proc, "Python ProcessPoolExecutor (mr)"),
            ("mr", py_trial_proc, "Python ProcessPoolExecutor (trial)")):
        best, name = best_ptool(ptool, method)
        speedup = ratio(reference, best)
        if speedup is None:
            notes.append(f"  best ptool {method} vs {label}: no data")
        else:
            notes.append(f"  best ptool {method} ({name}, {fmt_seconds(best)}) vs {label} "
                         f"({fmt_seconds(reference)}): {fmt_ratio(speedup)} faster")
    return notes


def find_median(rows, name):
    for row in rows:
        if row["name"] == name:
            return row["median"]
    return None


@section("isprime")
def isprime_section(ctx):
    result = SectionResult(
        "the course workload [112272535095293]*100: Python vs plain C vs ptool")
    py_repeat = 1 if ctx.quick else ctx.repeat

    py_trial, raw_py_trial, err1 = python_rows(ctx, "trial", py_repeat)
    py_mr, raw_py_mr, err2 = python_rows(ctx, "mr", ctx.repeat)
    omp_row, raw_omp, err3 = omp_loop_row(ctx)
    pt_trial, raw_pt_trial, err4 = ptool_rows(ctx, "trial")
    pt_mr, raw_pt_mr, err5 = ptool_rows(ctx, "mr")
    errors = [e for e in (err1, err2, err3, err4, err5) if e]
    result.notes += [f"ERROR: {e}" for e in dict.fromkeys(errors)]    # once each
    result.raw = {"python_trial": raw_py_trial, "python_mr": raw_py_mr,
                  "omp_loop": raw_omp, "ptool_trial": raw_pt_trial, "ptool_mr": raw_pt_mr}

    rows = py_trial + py_mr + ([omp_row] if omp_row else []) + pt_trial + pt_mr
    py_proc = find_median(py_trial, "python ProcessPoolExecutor (trial)")
    py_mr_proc = find_median(py_mr, "python ProcessPoolExecutor (mr)")
    omp_median = omp_row["median"] if omp_row else None
    for row in rows:
        row["vs_py_processes"] = ratio(py_proc, row["median"])
        row["vs_omp_loop"] = ratio(omp_median, row["median"])

    result.columns = [
        Column("what", "name", left=True),
        Column("median", "median", fmt_seconds),
        Column("speedup vs Python processes", "vs_py_processes", fmt_ratio),
        Column("vs C OpenMP loop", "vs_omp_loop", fmt_ratio),
        Column("note", "note", left=True),
    ]
    result.rows = rows
    version = (raw_pt_trial or raw_pt_mr or {}).get("ptool")
    medians = (f"medians of {ctx.repeat}" if py_repeat == ctx.repeat else
               f"Python trial median of {py_repeat}, the rest medians of {ctx.repeat}")
    result.notes.insert(0, f"speedup = reference median / row median (above 1x: the row is "
                           f"faster); {medians}" + (f"; ptool {version}" if version else ""))
    result.notes += isprime_report(pt_trial + pt_mr, py_proc, py_mr_proc)
    result.checks = isprime_checks(pt_trial + pt_mr, omp_median)
    result.checks.append(correctness_check(rows))
    return result


# --------------------------------------------------------------------------
# Section "pool": thread-pool submit-to-completion latency


@section("pool")
def pool_section(ctx):
    result = SectionResult("ptool thread pool: empty task, submit -> pt_future_wait")
    exe = ctx.bench_binary("bench_pool_latency")
    if not exe.exists():
        result.notes.append(missing_binary_note(exe, "bench_pool_latency"))
        result.checks.append(Check(f"pool latency median <= {POOL_MAX_MEDIAN_US:g} us",
                                   False, no_data("bench_pool_latency")))
        return result
    cmd = [exe, "--json"] + (["--iters", 50000, "--tasks", 200000] if ctx.quick else [])
    obj, error = run_json(cmd)
    if error:
        result.notes.append(f"ERROR: {error}")
    result.raw = {"pool_latency": obj}
    rows = (obj or {}).get("results", [])
    result.columns = [
        Column("threads", "threads", left=True),
        Column("median", "median_us", lambda v: f"{v:.2f} us"),
        Column("p90", "p90_us", lambda v: f"{v:.2f} us"),
        Column("p99", "p99_us", lambda v: f"{v:.2f} us"),
        Column("empty tasks/s", "tasks_per_s", lambda v: f"{v:,.0f}"),
    ]
    result.rows = rows
    if obj:
        result.notes.append(f"latency: {obj.get('iters')} submit+wait iterations per row; "
                            f"tasks/s: {obj.get('tasks')} fire-and-forget tasks until "
                            f"shutdown returns")
    if not rows:
        result.checks.append(Check(f"pool latency median <= {POOL_MAX_MEDIAN_US:g} us",
                                   False, no_data("bench_pool_latency")))
    for row in rows:
        result.checks.append(Check(
            f"pool latency median <= {POOL_MAX_MEDIAN_US:g} us, "
            f"{plural(row['threads'], 'thread')}",
            row["median_us"] <= POOL_MAX_MEDIAN_US, f"{row['median_us']:.2f} us"))
    return result


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
