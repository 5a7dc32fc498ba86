"""bench section pool: thread-pool submit-to-completion latency (see bench/README.md)."""

from benchlib import *  # noqa: F401,F403 (the section toolkit)

POOL_MAX_MEDIAN_US = 5.0            # submit -> completion, median

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


