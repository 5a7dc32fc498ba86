"""bench section histogram: the course's Lock lesson, measured.

`ptool bench histogram --strategy S --threads 2 --json` for S in lock, atomic,
private: every backend's throughput (values/s) for every strategy, each verified
against serial (exact counts). OpenCL always counts in local-memory bins (the
strategy is a CPU choice), so its three rows measure the same kernel.
Target: private >= 5x lock on 2 threads, for the threads and openmp backends.
"""

from benchlib import *  # noqa: F401,F403 (the section toolkit)

PRIVATE_MIN_VS_LOCK = 5.0
STRATEGIES = ("lock", "atomic", "private")
N = 50_000_000
N_QUICK = 10_000_000
BINS = 256


def bench_strategy(ctx, strategy, n):
    cmd = [ctx.ptool, "bench", "histogram", "--strategy", strategy, "--n", n,
           "--bins", BINS, "--threads", 2, "--repeat", ctx.repeat, "--json"]
    return run_json(cmd)


@section("histogram")
def histogram_section(ctx):
    n = N_QUICK if ctx.quick else N
    result = SectionResult(f"histogram of {n:,} values into {BINS} bins: lock vs atomic vs "
                           f"private bins, 2 threads")
    targets = ("threads", "openmp")
    if not ctx.ptool.exists():
        result.notes.append(missing_binary_note(ctx.ptool, "ptool"))
        for b in targets:
            result.checks.append(Check(f"{b}: private >= {PRIVATE_MIN_VS_LOCK:g}x lock",
                                       False, no_data("ptool")))
        return result
    rows, raw, errors = [], {}, []
    tput = {}  # (strategy, backend) -> values/s
    for strategy in STRATEGIES:
        obj, error = bench_strategy(ctx, strategy, n)
        raw[strategy] = obj
        if error:
            errors.append(f"{strategy}: {error}")
        for r in (obj or {}).get("rows", []):
            row = dict(ptool_row(r), strategy=strategy)
            if row["rate"] is not None:
                tput[(strategy, r["backend"])] = row["rate"]
                if r["backend"] == "opencl":
                    row["note"] += ", local-memory bins"
            rows.append(row)
    result.columns = [
        Column("strategy", "strategy", left=True),
        Column("backend", "backend", left=True),
        Column("median", "median", fmt_seconds),
        Column("Mvalues/s", "rate", lambda v: f"{v / 1e6:,.1f}"),
        Column("vs serial", "speedup", fmt_ratio),
        Column("note", "note", left=True),
    ]
    result.rows = rows
    result.raw = raw
    for b in targets:
        r = ratio(tput.get(("private", b)), tput.get(("lock", b)))
        result.checks.append(Check(
            f"{b}: private >= {PRIVATE_MIN_VS_LOCK:g}x lock (2 threads)",
            r is not None and r >= PRIVATE_MIN_VS_LOCK,
            f"{fmt_ratio(r)} ({tput[('private', b)] / 1e6:,.0f} vs "
            f"{tput[('lock', b)] / 1e6:,.0f} Mvalues/s)" if r is not None
            else no_data(f"ptool bench histogram on {b}")))
    for b in ("serial", "processes"):
        r = ratio(tput.get(("private", b)), tput.get(("lock", b)))
        if r is not None:
            result.notes.append(f"report: {b}: private / lock = {fmt_ratio(r)}")
    bad = [f"{r['strategy']} {r['backend']}" for r in rows if r["ok"] is False]
    verified = [r for r in rows if r["ok"]]
    result.checks.append(Check("every count exact (verified against serial)",
                               bool(verified) and not bad,
                               f"all {len(verified)} rows that ran verified" if verified and not bad
                               else ("WRONG: " + ", ".join(bad) if bad else no_data("ptool bench"))))
    # Report only: the SIMD variants of the value-to-bin mapping, one core.
    isa_rates = []
    for isa in ("baseline", "avx2", "avx512"):
        o, e = run_json(["env", f"PTOOL_ISA={isa}", ctx.ptool, "run", "histogram", "--n", n,
                         "--bins", BINS, "--backend", "serial", "--json", "--quiet"])
        if o and not e:
            isa_rates.append(f"{o.get('isa', isa)} {o['throughput']['value'] / 1e6:,.0f}")
    if isa_rates:
        result.notes.append("report: private on serial by SIMD variant (PTOOL_ISA), "
                            "Mvalues/s: " + ", ".join(isa_rates))
    result.notes.insert(0, f"median of {ctx.repeat} runs per row; throughput = values / "
                           f"median time")
    result.notes += [f"ERROR: {e}" for e in errors]
    return result
