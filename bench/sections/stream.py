"""bench section stream: memory bandwidth, ptool's STREAM kernels vs a plain OpenMP triad loop.

Two parts:
  1. Report: `ptool run stream --backend B --threads T --json` once per backend and
     thread count (1 and 2): GB/s of copy, scale, add, triad and dot.
  2. Target: the best backend's triad (picked from part 1, per thread count) against
     bench_stream_triad_omp (a plain `omp parallel for` triad, same n and passes), run
     alternately in pairs (ptool, loop, ptool, loop, ...): two-thread bandwidth on these
     machines jumps between two levels, so only neighbours are compared. Medians of the
     pairs and the ratio; target ptool >= 85% of the loop.
GB/s count STREAM's bytes (triad: 24 B per element, no write-allocate traffic) on both
sides, averaged over the passes of one run. Default n: every array 4x the last-level
cache (ptool decides and reports it; the loop gets the same n).
"""

import statistics

from benchlib import *  # noqa: F401,F403 (the section toolkit)

TRIAD_MIN_VS_LOOP = 0.85
THREADS = (1, 2)
KERNELS = ("copy", "scale", "add", "triad", "dot")


def ptool_stream(ctx, backend, threads):
    """One `ptool run stream`; returns (result dict or None, error)."""
    cmd = [ctx.ptool, "run", "stream", "--backend", backend, "--strict",
           "--threads", threads, "--json", "--quiet"]
    obj, error = run_json(cmd)
    if obj is None or error:
        return None, error or "no result"
    res = obj.get("result", {})
    res["backend"] = obj.get("backend", backend)
    res["device"] = obj.get("device")
    res["threads_used"] = obj.get("threads")
    return res, None


def triad_gbps(res):
    for k in res.get("kernels", []):
        if k["name"] == "triad":
            return k["gbps"]
    return None


def loop_triad(ctx, threads, n, ntimes):
    exe = ctx.bench_binary("bench_stream_triad_omp")
    if not exe.exists():
        return None, missing_binary_note(exe, "bench_stream_triad_omp (needs OpenMP)")
    obj, error = run_json(["env", f"OMP_NUM_THREADS={threads}", "OMP_PROC_BIND=false", exe,
                           "--n", n, "--ntimes", ntimes])
    if obj is None or error:
        return None, error or "no result"
    return obj["gbps"], None


@section("stream")
def stream_section(ctx):
    result = SectionResult("memory bandwidth: STREAM kernels (GB/s) and triad vs a plain "
                           "OpenMP loop, alternating")
    if not ctx.ptool.exists():
        result.notes.append(missing_binary_note(ctx.ptool, "ptool"))
        for t in THREADS:
            result.checks.append(Check(f"triad, {plural(t, 'thread')}: best backend >= "
                                       f"{TRIAD_MIN_VS_LOOP:.0%} of the plain OpenMP loop",
                                       False, no_data("ptool")))
        return result
    rows, raw = [], {"runs": [], "pairs": {}}
    errors = []
    best = {}
    for t in THREADS:
        for backend in PTOOL_BACKENDS:
            if (backend == "serial" and t != 1) or (backend == "opencl" and t != THREADS[-1]):
                continue    # serial is one thread; opencl uses its own compute units
            res, error = ptool_stream(ctx, backend, t)
            if error:
                errors.append(f"{backend}, {plural(t, 'thread')}: {error}")
                continue
            raw["runs"].append(res)
            row = {"name": f"ptool {backend}", "threads": res.get("threads_used"),
                   "stores": res.get("stores")}
            for k in res.get("kernels", []):
                row[k["name"]] = k["gbps"]
            rows.append(row)
            tri = triad_gbps(res)
            if tri and (t not in best or tri > best[t][1]):
                best[t] = (backend, tri, res)

    pair_rows = []
    pairs = 3 if ctx.quick else 7
    for t in THREADS:
        if t not in best:
            result.checks.append(Check(
                f"triad, {plural(t, 'thread')}: best backend >= {TRIAD_MIN_VS_LOOP:.0%} of "
                f"the plain OpenMP loop", False, no_data("ptool run stream")))
            continue
        backend, _, res = best[t]
        n, ntimes = res["n"], res["ntimes"]
        ours, theirs = [], []
        for _ in range(pairs):
            r, e1 = ptool_stream(ctx, backend, t)
            g, e2 = loop_triad(ctx, t, n, ntimes)
            if e1 or e2:
                errors.append(e1 or e2)
                break
            ours.append(triad_gbps(r))
            theirs.append(g)
        raw["pairs"][t] = {"backend": backend, "ptool": ours, "loop": theirs}
        if not ours:
            result.checks.append(Check(
                f"triad, {plural(t, 'thread')}: best backend >= {TRIAD_MIN_VS_LOOP:.0%} of "
                f"the plain OpenMP loop", False, no_data("the alternating pairs")))
            continue
        per_pair = [a / b for a, b in zip(ours, theirs)]
        med_ours, med_loop = statistics.median(ours), statistics.median(theirs)
        ratio_med = statistics.median(per_pair)
        pair_rows.append(f"{plural(t, 'thread')}: ptool {backend} triad "
                         + ", ".join(f"{x:.1f}" for x in ours) + " GB/s; loop "
                         + ", ".join(f"{x:.1f}" for x in theirs) + " GB/s")
        rows.append({"name": f"plain OpenMP triad loop", "threads": t, "stores": "normal",
                     "triad": med_loop})
        result.checks.append(Check(
            f"triad, {plural(t, 'thread')}: best backend ({backend}) >= "
            f"{TRIAD_MIN_VS_LOOP:.0%} of the plain OpenMP loop",
            ratio_med >= TRIAD_MIN_VS_LOOP,
            f"median of {len(per_pair)} alternating pairs: ptool/loop = {ratio_med:.2f} "
            f"(ptool median {med_ours:.1f} GB/s, loop {med_loop:.1f} GB/s, n = {n:,})"))

    gb = lambda v: f"{v:.1f}"  # noqa: E731
    result.columns = [Column("what", "name", left=True), Column("threads", "threads"),
                      Column("stores", "stores", left=True)] + \
        [Column(f"{k} GB/s", k, gb) for k in KERNELS]
    result.rows = rows
    result.raw = raw
    first = raw["runs"][0] if raw["runs"] else {}
    result.notes.append(
        f"n = {first.get('n', '?'):,} doubles per array ({first.get('array_bytes', 0) / 2**20:.0f} "
        f"MiB; last-level cache {first.get('llc_bytes', 0) / 2**20:.0f} MiB), "
        f"{first.get('ntimes', '?')} passes per run, GB/s averaged over the passes; STREAM's "
        f"byte counts (copy/scale/dot 16 B, add/triad 24 B per element), 1 GB = 1e9 B")
    result.notes.append("plain OpenMP triad loop row: the median of the alternating runs")
    result.notes += ["pairs " + p for p in pair_rows]
    result.notes += [f"ERROR: {e}" for e in dict.fromkeys(errors)]
    return result
