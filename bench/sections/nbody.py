"""bench section nbody: all-pairs gravity, interactions/s on every backend.

1. `ptool bench nbody --n N --steps S --threads 2 --json`: every backend, median of
   --repeat runs after a warm-up, each verified against serial (bit-identical on the
   CPU, within the stated tolerance on OpenCL): the table.
2. The targets, from rounds of `ptool run nbody --backend B --json` for serial, openmp
   and opencl in turn (5 rounds, 3 with --quick): the ratio of neighbouring runs, so
   that a burst of other work on a shared machine hits both sides alike; the check is
   the median of the per-round ratios. The `ptool bench` medians are shown beside it.
The size makes serial take about a second on the reference machine (N^2 S = 4.3e9
interactions at ~3.5 G/s). Targets: openmp >= 1.8x serial (2 cores); opencl (PoCL's
CPU device) >= 0.9x openmp.
"""

import statistics

from benchlib import *  # noqa: F401,F403 (the section toolkit)

OPENMP_MIN_VS_SERIAL = 1.8
OPENCL_MIN_VS_OPENMP = 0.9
N, STEPS = 32768, 4
N_QUICK, STEPS_QUICK = 16384, 4


@section("nbody")
def nbody_section(ctx):
    n, steps = (N_QUICK, STEPS_QUICK) if ctx.quick else (N, STEPS)
    result = SectionResult(f"n-body, {n:,} bodies x {steps} steps (float, all pairs), "
                           f"2 threads")
    checks = [f"openmp >= {OPENMP_MIN_VS_SERIAL}x serial",
              f"opencl >= {OPENCL_MIN_VS_OPENMP}x openmp"]
    if not ctx.ptool.exists():
        result.notes.append(missing_binary_note(ctx.ptool, "ptool"))
        result.checks = [Check(c, False, no_data("ptool")) for c in checks]
        return result
    obj, error = run_json([ctx.ptool, "bench", "nbody", "--n", n, "--steps", steps,
                           "--threads", 2, "--repeat", ctx.repeat, "--json"])
    result.raw = {"bench": obj}
    rows, med = [], {}
    for r in (obj or {}).get("rows", []):
        row = ptool_row(r)
        if row["median"] is not None:
            med[r["backend"]] = row["median"]
        rows.append(row)
    result.columns = [
        Column("backend", "backend", left=True),
        Column("median", "median", fmt_seconds),
        Column("Ginteractions/s", "rate", lambda v: f"{v / 1e9:.2f}"),
        Column("vs serial", "speedup", fmt_ratio),
        Column("note", "note", left=True),
    ]
    result.rows = rows
    if error:
        result.notes.append(f"ERROR: {error}")
    # Alternating rounds: serial, openmp, opencl, serial, ...
    rounds = 3 if ctx.quick else 5
    times = {"serial": [], "openmp": [], "opencl": []}
    errors = []
    for _ in range(rounds):
        for b in times:
            o, e = run_json([ctx.ptool, "run", "nbody", "--n", n, "--steps", steps,
                             "--backend", b, "--strict", "--threads", 2, "--json", "--quiet"])
            if o is None or e:
                errors.append(f"{b}: {e or 'no result'}")
                continue
            times[b].append(o["seconds"])
    result.raw["rounds"] = times
    result.notes += [f"ERROR: {e}" for e in dict.fromkeys(errors)]

    def pair_check(name, num, den, target, what):
        k = min(len(times[num]), len(times[den]))
        if k == 0:
            result.checks.append(Check(name, False, no_data(f"ptool run nbody {num}/{den}")))
            return
        r = statistics.median(times[num][i] / times[den][i] for i in range(k))
        b = ratio(med.get(num), med.get(den))
        result.checks.append(Check(
            name, r >= target,
            f"{fmt_ratio(r)}: median of {k} alternating rounds ({what}); the ptool bench "
            f"medians give {fmt_ratio(b) if b is not None else '-'}"))

    pair_check(checks[0], "serial", "openmp", OPENMP_MIN_VS_SERIAL, "serial time / openmp time")
    pair_check(checks[1], "openmp", "opencl", OPENCL_MIN_VS_OPENMP, "openmp time / opencl time")
    result.notes.append("rounds (seconds): " + "; ".join(
        f"{b} " + ", ".join(f"{t:.3f}" for t in v) for b, v in times.items()))
    bad = [r["backend"] for r in rows if r["ok"] is False]
    result.checks.append(Check("every backend verified against serial", not bad and bool(med),
                               "all verified" if not bad and med else
                               ("WRONG: " + ", ".join(bad) if bad else no_data("ptool bench"))))
    # Report only: the SIMD variants on one core (PTOOL_ISA caps the variant).
    isa_rates = []
    for isa in ("baseline", "avx2", "avx512"):
        o, e = run_json(["env", f"PTOOL_ISA={isa}", ctx.ptool, "run", "nbody", "--n", 8192,
                         "--steps", 2, "--backend", "serial", "--json", "--quiet"])
        if o and not e:
            isa_rates.append(f"{o.get('isa', isa)} {o['throughput']['value'] / 1e9:.2f}")
    if isa_rates:
        result.notes.append("report: serial by SIMD variant (PTOOL_ISA; n = 8192, 2 steps), "
                            "Ginteractions/s: " + ", ".join(isa_rates))
    result.notes.insert(0, f"median of {ctx.repeat} runs after a warm-up; interactions = "
                           f"N^2 x steps = {n * n * steps:.3g}")
    return result
