"""bench section isprime: the course workload: Python vs plain C vs ptool (see bench/README.md)."""

from benchlib import *  # noqa: F401,F403 (the section toolkit)

COURSE_SCRIPT = BENCH_DIR / "course_isprime.py"

# Targets (issue: foundation).
MR_SERIAL_MAX_SECONDS = 1e-3        # mr on the course workload, serial backend
TRIAL_MIN_SPEEDUP = 1.8             # threads, processes, openmp vs serial (trial)
OPENCL_MAX_VS_OPENMP = 1.5          # opencl median <= 1.5 x openmp median (trial)

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
    rows = [dict(ptool_row(r, f"ptool {r['backend']} ({method})"), method=method)
            for r in obj["rows"]]
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
    name = "every row's answer is right (all prime / verified against serial)"
    checked = [r for r in rows if r.get("ok") is not None]
    if not checked:
        return Check(name, False, no_data("every run"))
    bad = [r["name"] for r in checked if r["ok"] is False]
    return Check(name, not bad, f"all {len(checked)} rows right" if not bad
                 else "WRONG: " + ", ".join(bad))


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


