"""bench section mandelbrot: ptool's backends vs a plain scalar C OpenMP loop.

The image: 4096x4096, 256 iterations, ptool's default view (centre -0.5+0i,
width 3). The reference is bench_mandel_scalar_omp (bench/mandel_scalar_omp.c):
the same arithmetic as ptool, one pixel at a time, -O2, `omp parallel for
schedule(dynamic, 1)` over rows, every CPU. It runs before and after ptool
(the median of both batches counts), so a load change on the shared machine
hits both sides. Its checksum must equal ptool's: the same image.

Rows: the loop on 1 thread and on every CPU; `ptool bench mandelbrot` (every
backend, verified against serial); and the serial backend with PTOOL_ISA=
baseline / avx2 (report only: the SIMD variants' speedup). Giter/s counts
the iterations actually done (the sum of the iteration counts).

Targets: the best backend >= 3x the scalar OpenMP loop; openmp >= 1.8x serial.
"""

import subprocess

from benchlib import *  # noqa: F401,F403 (the section toolkit)

SIZE = ("--width", 4096, "--height", 4096, "--iters", 256)
BEST_VS_LOOP = 3.0
OPENMP_VS_SERIAL = 1.8


def run_json_env(cmd, env_extra, timeout=3600):
    """run_json with extra environment variables."""
    progress("  running: " + " ".join(f"{k}={v}" for k, v in env_extra.items()) + " "
             + " ".join(str(c) for c in cmd))
    if not Path(cmd[0]).exists():
        return None, f"missing binary {cmd[0]}"
    env = dict(os.environ, **env_extra)
    try:
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, f"{Path(str(cmd[0])).name} timed out after {timeout} s"
    obj = parse_json_output(proc.stdout)
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-400:]
        return obj, f"{Path(str(cmd[0])).name} exited {proc.returncode}: {tail}"
    if obj is None:
        return None, f"{Path(str(cmd[0])).name} printed no JSON"
    return obj, None


def fmt_giter(v):
    return f"{v / 1e9:.2f}"


@section("mandelbrot")
def mandelbrot_section(ctx):
    result = SectionResult("Mandelbrot 4096x4096, 256 iterations: ptool vs a plain scalar "
                           "C OpenMP loop")
    errors, raw = [], {}
    loop = ctx.bench_binary("bench_mandel_scalar_omp")
    loop_args = [loop, *SIZE, "--repeat", ctx.repeat]

    # the loop on every CPU, before ptool
    loop_all_1, err = run_json_env(loop_args, {})
    errors.append(err)
    # ptool, every backend
    pt = None
    if ctx.ptool.exists():
        pt, err = run_json([ctx.ptool, "bench", "mandelbrot", *SIZE, "--repeat", ctx.repeat,
                            "--json"])
        errors.append(err)
    else:
        errors.append(missing_binary_note(ctx.ptool, "ptool"))
    # the loop on every CPU again, after; then on one thread
    loop_all_2, err = run_json_env(loop_args, {})
    errors.append(err)
    loop_one, err = run_json_env(loop_args, {"OMP_NUM_THREADS": "1"})
    errors.append(err)
    # the SIMD variants on the serial backend (report only)
    isa_rows = []
    for isa in ("baseline", "avx2"):
        if not ctx.ptool.exists():
            break
        obj, err = run_json_env([ctx.ptool, "bench", "mandelbrot", *SIZE, "--backends", "serial",
                                 "--repeat", ctx.repeat, "--json"], {"PTOOL_ISA": isa})
        errors.append(err)
        raw[f"ptool_serial_{isa}"] = obj
        if obj and obj["rows"] and obj["rows"][0].get("available"):
            r = obj["rows"][0]
            isa_rows.append({"name": f"ptool serial, PTOOL_ISA={isa}",
                             "median": r["median_seconds"], "rate": r["throughput"],
                             "ok": bool(r.get("verified")), "note": f"ISA used: {obj['isa']}"})
    # the checksum of ptool's image (one serial run)
    pt_sum = None
    if ctx.ptool.exists():
        obj, err = run_json([ctx.ptool, "run", "mandelbrot", *SIZE, "--backend", "serial",
                             "--json"])
        errors.append(err)
        raw["ptool_run_serial"] = obj
        if obj:
            pt_sum = obj["result"]["checksum"]
    raw.update({"loop_all_before": loop_all_1, "loop_all_after": loop_all_2,
                "loop_one_thread": loop_one, "ptool_bench": pt})
    result.raw = raw
    result.notes += [f"ERROR: {e}" for e in dict.fromkeys(e for e in errors if e)]

    rows = []
    loop_times = [t for o in (loop_all_1, loop_all_2) if o for t in o.get("times", [])]
    loop_med = median(loop_times)
    iterations = next((o["iterations"] for o in (loop_all_1, loop_all_2, loop_one) if o), None)
    loop_sums = {o["checksum"] for o in (loop_all_1, loop_all_2, loop_one) if o}
    if loop_one:
        rows.append({"name": "plain scalar C loop, 1 thread", "median": loop_one["median_seconds"],
                     "ok": pt_sum is None or loop_one["checksum"] == pt_sum,
                     "note": "OMP_NUM_THREADS=1"})
    if loop_med is not None:
        threads = (loop_all_1 or loop_all_2)["threads"]
        rows.append({"name": "plain scalar C OpenMP loop", "median": loop_med,
                     "ok": pt_sum is None or loop_sums == {pt_sum},
                     "note": f"{plural(threads, 'thread')}, dynamic schedule, "
                             f"median of {len(loop_times)} (before and after ptool)"})
    for r in rows:
        r["rate"] = iterations / r["median"] if iterations and r["median"] else None
    pt_rows = [ptool_row(r) for r in (pt or {}).get("rows", [])]
    rows += pt_rows + isa_rows
    for r in rows:
        r["vs_loop"] = ratio(loop_med, r["median"])

    result.columns = [
        Column("what", "name", left=True),
        Column("median", "median", fmt_seconds),
        Column("Giter/s", "rate", fmt_giter),
        Column("vs scalar OpenMP loop", "vs_loop", fmt_ratio),
        Column("note", "note", left=True),
    ]
    result.rows = rows
    result.notes.insert(0, f"speedup = loop median / row median; medians of {ctx.repeat}; "
                           f"ptool ISA {(pt or {}).get('isa', '?')}; "
                           f"{iterations or '?'} iterations per image")
    if pt_sum:
        result.notes.append(f"checksum: ptool {pt_sum}, loop "
                            f"{', '.join(sorted(loop_sums)) or '-'}")

    timed = [(r["median"], r["backend"]) for r in pt_rows if r["median"] is not None]
    best, best_name = min(timed) if timed else (None, None)
    sp = ratio(loop_med, best)
    result.checks.append(Check(
        f"best backend >= {BEST_VS_LOOP:g}x the plain scalar C OpenMP loop",
        sp is not None and sp >= BEST_VS_LOOP,
        f"{best_name} {fmt_seconds(best)} vs loop {fmt_seconds(loop_med)}: {fmt_ratio(sp)}"
        if sp is not None else "no data (ptool or bench_mandel_scalar_omp did not run)"))
    med = {r["backend"]: r["median"] for r in pt_rows}
    sp = ratio(med.get("serial"), med.get("openmp"))
    result.checks.append(Check(
        f"openmp >= {OPENMP_VS_SERIAL:g}x serial", sp is not None and sp >= OPENMP_VS_SERIAL,
        f"{fmt_ratio(sp)} ({fmt_seconds(med['openmp'])} vs {fmt_seconds(med['serial'])})"
        if sp is not None else "no data (ptool serial or openmp did not run)"))
    bad = [r["name"] for r in rows if r.get("ok") is False]
    result.checks.append(Check(
        "same image everywhere (loop checksum = ptool's; every backend verified)",
        not bad and any(r.get("ok") for r in pt_rows) and pt_sum is not None,
        "all rows right" if not bad and pt_sum else "WRONG: " + (", ".join(bad) or "no data")))
    return result
