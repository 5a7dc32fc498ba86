"""bench section matmul: ptool's SGEMM against OpenBLAS at 1 and 2 threads (see bench/README.md)."""

import contextlib

from benchlib import *  # noqa: F401,F403 (the section toolkit)

# Target (issue: matmul): N = 2048, the best ptool backend reaches at least
# half of OpenBLAS's sgemm GFLOP/s at the same thread count, OpenBLAS at its
# best (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment).
MATMUL_N = 2048
MATMUL_THREADS = (1, 2)
MIN_VS_OPENBLAS = 0.5
OPENBLAS_ENV_DROPPED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
ISA_LEVELS = ("avx512", "avx2", "baseline")


@contextlib.contextmanager
def environment(set_vars=None, unset=()):
    """Run the block with some variables set and others removed (run.py runs
    sections one at a time, so changing os.environ here is safe)."""
    saved = {name: os.environ.get(name) for name in list(set_vars or {}) + list(unset)}
    try:
        for name in unset:
            os.environ.pop(name, None)
        for name, value in (set_vars or {}).items():
            os.environ[name] = str(value)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def fmt_gflops(v):
    return f"{v:,.1f} GFLOP/s"


def openblas_row(ctx, threads):
    """bench_sgemm_openblas at N and `threads`; (row or None, raw, error)."""
    exe = ctx.bench_binary("bench_sgemm_openblas")
    if not exe.exists():
        return None, None, missing_binary_note(
            exe, "OpenBLAS sgemm reference (built only when OpenBLAS is found: "
                 "Debian libopenblas-dev, scripts/deps.sh bench)")
    with environment({"OPENBLAS_NUM_THREADS": threads}, OPENBLAS_ENV_DROPPED):
        obj, error = run_json([exe, "--n", MATMUL_N, "--threads", threads,
                               "--repeat", max(ctx.repeat, 3)])
    if obj is None:
        return None, None, error
    row = {"name": f"OpenBLAS cblas_sgemm ({obj.get('core')})", "threads": threads,
           "gflops": obj["gflops"], "median": obj["median_seconds"], "ok": True,
           "note": "OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset"}
    return row, obj, error


def ptool_rows(ctx, threads):
    """`ptool bench matmul --n N --threads T --json`: every backend; (rows, raw, error)."""
    if not ctx.ptool.exists():
        return [], None, missing_binary_note(ctx.ptool, "ptool")
    obj, error = run_json([ctx.ptool, "bench", "matmul", "--n", MATMUL_N, "--threads", threads,
                           "--repeat", ctx.repeat, "--json"])
    if obj is None:
        return [], None, error
    rows = [ptool_row(r) for r in obj["rows"]]
    for row in rows:
        row.update(threads=threads, gflops=row["rate"])
    return rows, obj, error


def best_ptool(rows):
    timed = [(r["gflops"], r["backend"]) for r in rows if r.get("gflops") and r.get("ok")]
    return max(timed) if timed else (None, None)


def isa_rows(ctx):
    """serial at N, 1 thread, under PTOOL_ISA=avx512/avx2/baseline; (rows, raw, errors)."""
    rows, raw, errors = [], {}, []
    if not ctx.ptool.exists():
        return rows, raw, [missing_binary_note(ctx.ptool, "ptool")]
    for isa in ISA_LEVELS:
        with environment({"PTOOL_ISA": isa}):
            obj, error = run_json([ctx.ptool, "bench", "matmul", "--n", MATMUL_N,
                                   "--threads", 1, "--backends", "serial",
                                   "--repeat", ctx.repeat, "--json"])
        raw[isa] = obj
        if error:
            errors.append(f"PTOOL_ISA={isa}: {error}")
        if obj is None:
            continue
        r = obj["rows"][0]
        rows.append({"name": f"ptool serial, PTOOL_ISA={isa}", "isa": obj.get("isa"),
                     "threads": 1, "gflops": r.get("throughput"),
                     "median": r.get("median_seconds"), "ok": bool(r.get("verified")),
                     "note": f"ran {obj.get('isa')} kernel"})
    return rows, raw, errors


@section("matmul")
def matmul_section(ctx):
    result = SectionResult(
        f"SGEMM C = A x B, N = {MATMUL_N}: ptool's backends vs OpenBLAS at the same thread count")
    rows, raw, errors = [], {}, []
    found = {name: os.environ[name] for name in OPENBLAS_ENV_DROPPED if name in os.environ}
    per_threads = {}
    for threads in MATMUL_THREADS:
        ob, raw[f"openblas_{threads}"], err1 = openblas_row(ctx, threads)
        pt, raw[f"ptool_{threads}"], err2 = ptool_rows(ctx, threads)
        errors += [e for e in (err1, err2) if e]
        ref = ob["gflops"] if ob else None
        for row in ([ob] if ob else []) + pt:
            row["vs_openblas"] = ratio(row.get("gflops"), ref)
        rows += ([ob] if ob else []) + pt
        per_threads[threads] = (ob, pt)

    isa, raw["isa"], err3 = isa_rows(ctx)
    errors += err3
    base = next((r["gflops"] for r in isa if r["isa"] == "baseline" and r.get("gflops")), None)
    for row in isa:
        row["vs_openblas"] = None
    rows += isa

    result.rows = rows
    result.raw = raw
    result.columns = [
        Column("what", "name", left=True),
        Column("threads", "threads"),
        Column("median", "median", fmt_seconds),
        Column("throughput", "gflops", fmt_gflops),
        Column("vs OpenBLAS", "vs_openblas", fmt_ratio),
        Column("note", "note", left=True),
    ]
    result.notes += [f"ERROR: {e}" for e in dict.fromkeys(errors)]
    result.notes.append(
        f"medians of {ctx.repeat} runs (OpenBLAS: of {max(ctx.repeat, 3)}); GFLOP/s = 2 N^3 / "
        f"median; ptool rows are verified against serial (bit for bit on the CPU, within "
        f"k 2^-22 ||a_i|| ||b_j|| on OpenCL)")
    if found:
        result.notes.append("the environment had " + ", ".join(f"{k}={v}" for k, v in
                            found.items()) + ": removed for the OpenBLAS runs only")
    if base:
        speedups = ", ".join(f"{r['isa']} {fmt_ratio(r['gflops'] / base)}" for r in isa
                             if r.get("gflops"))
        result.notes.append(f"SIMD (serial, 1 thread, PTOOL_ISA): {speedups} the baseline "
                            f"(x86-64) kernel's GFLOP/s")

    for threads in MATMUL_THREADS:
        ob, pt = per_threads[threads]
        best, name = best_ptool(pt)
        rel = ratio(best, ob["gflops"] if ob else None)
        name_check = (f"N = {MATMUL_N}, {plural(threads, 'thread')}: best ptool backend >= "
                      f"{MIN_VS_OPENBLAS:.0%} of OpenBLAS sgemm")
        if rel is None:
            detail = no_data("OpenBLAS" if not ob else "every ptool backend")
        else:
            detail = (f"{name} {fmt_gflops(best)} = {rel:.0%} of OpenBLAS "
                      f"{fmt_gflops(ob['gflops'])}")
        result.checks.append(Check(name_check, rel is not None and rel >= MIN_VS_OPENBLAS,
                                   detail))
    bad = [f"{r['name']} ({r['threads']} thr)" for r in rows if r.get("ok") is False]
    measured = [r for r in rows if r.get("ok") is not None]
    result.checks.append(Check(
        "every ptool row verified against serial", bool(measured) and not bad,
        "all verified" if measured and not bad else
        ("WRONG: " + ", ".join(bad) if bad else no_data("ptool"))))
    return result
