"""bench section fetch: ptool fetch vs aiohttp + Semaphore vs curl --parallel (see bench/README.md)."""

import os
import shutil
import subprocess

from benchlib import *  # noqa: F401,F403 (the section toolkit)

AIOHTTP_SCRIPT = BENCH_DIR / "fetch_aiohttp.py"

NFILES = 2000            # files served by nginx
FILE_SIZE = 1024         # bytes each
CONCURRENCY = 50
FAST_ROUNDS = 15         # ptool and curl take ~0.1 s a run: more rounds, steadier medians

# Targets (issue 4, speed).
AIOHTTP_MIN_RATIO = 4.0  # ptool req/s >= 4 x aiohttp + Semaphore(50)
CURL_MIN_RATIO = 1.2     # ptool req/s >= 1.2 x curl --parallel --parallel-max 50
RSS_MAX_MIB = 24.0       # ptool's peak RSS


def aiohttp_python():
    """A Python that can import aiohttp (Debian's is /usr/bin/python3)."""
    for py in ("/usr/bin/python3", sys.executable, shutil.which("python3")):
        if py and Path(py).exists():
            if subprocess.run([py, "-c", "import aiohttp"], capture_output=True).returncode == 0:
                return py
    return None


# --------------------------------------------------------------------------
# Section "fetch"


@section("fetch")
def fetch_section(ctx):
    result = SectionResult(f"fetch {NFILES} x {FILE_SIZE} B files from local nginx "
                           f"(bodies dropped by every client)")
    checks_missing = lambda why: [  # noqa: E731
        Check(f"ptool >= {AIOHTTP_MIN_RATIO:g}x aiohttp + Semaphore({CONCURRENCY})", False, why),
        Check(f"ptool >= {CURL_MIN_RATIO:g}x curl --parallel-max {CONCURRENCY}", False, why),
        Check(f"ptool peak RSS <= {RSS_MAX_MIB:g} MiB", False, why)]
    if not ctx.ptool.exists():
        result.notes.append(missing_binary_note(ctx.ptool, "ptool"))
        result.checks = checks_missing(no_data("ptool"))
        return result
    if not nginx_binary():
        result.notes.append("MISSING nginx: install it (scripts/deps.sh bench)")
        result.checks = checks_missing(no_data("nginx"))
        return result
    py = aiohttp_python()
    if py is None:
        result.notes.append("MISSING aiohttp: install python3-aiohttp (scripts/deps.sh bench)")
    if not Path(GNU_TIME).exists():
        result.notes.append("MISSING GNU time (/usr/bin/time): install 'time' (scripts/deps.sh bench)")
        result.checks = checks_missing(no_data("/usr/bin/time"))
        return result
    curl = shutil.which("curl")
    if curl is None:
        result.notes.append("MISSING curl: install it (scripts/deps.sh bench)")

    progress(f"  fetch: starting nginx with {NFILES} files")
    ng = Nginx("fetch")
    try:
        data = os.urandom(NFILES * FILE_SIZE)
        for i in range(NFILES):
            (ng.html / f"f{i}").write_bytes(data[i * FILE_SIZE:(i + 1) * FILE_SIZE])
        ng.start()
        work = ng.dir
        urls = work / "urls.txt"
        urls.write_text("".join(ng.url(f"f{i}") + "\n" for i in range(NFILES)))
        curl_cfg = work / "curl.cfg"
        curl_cfg.write_text("".join(f'url = "{ng.url(f"f{i}")}"\noutput = "/dev/null"\n'
                                    for i in range(NFILES)))
        clients = [("ptool", f"ptool fetch --concurrency {CONCURRENCY}",
                    [ctx.ptool, "fetch", "-i", urls, "--concurrency", CONCURRENCY])]
        if py:
            clients.append(("aiohttp", f"aiohttp + Semaphore({CONCURRENCY})",
                            [py, AIOHTTP_SCRIPT, urls, "--concurrency", CONCURRENCY, "--json"]))
        if curl:
            clients.append(("curl", f"curl --parallel --parallel-max {CONCURRENCY}",
                            [curl, "-s", "--fail", "--parallel", "--parallel-max", CONCURRENCY,
                             "-K", curl_cfg]))
        if not ctx.quick:
            clients.append(("ptool10", "ptool fetch --concurrency 10",
                            [ctx.ptool, "fetch", "-i", urls, "--concurrency", 10]))
            if py:
                clients.append(("aiohttp10", "aiohttp + Semaphore(10)",
                                [py, AIOHTTP_SCRIPT, urls, "--concurrency", 10, "--json"]))
        runs = {key: [] for key, _, _ in clients}
        errors = {}
        # One untimed round (page cache, nginx workers), then alternate. A
        # ptool or curl run lasts ~0.1 s, so one busy moment moves a median
        # of 3; they get FAST_ROUNDS rounds, the slow aiohttp runs ctx.repeat.
        rounds = ctx.repeat if ctx.quick else max(ctx.repeat, FAST_ROUNDS)
        for rnd in range(rounds + 1):
            for key, label, cmd in clients:
                if key.startswith("aiohttp") and rnd > ctx.repeat:
                    continue
                progress(f"  fetch: {label} (round {rnd}{' warm-up' if rnd == 0 else ''})")
                r = run_timed(cmd, capture_stdout=key.startswith("aiohttp"))
                if r["rc"] != 0:
                    errors[key] = f"{label} exited {r['rc']}: {r['stderr'][-300:]}"
                    continue
                if key.startswith("aiohttp"):
                    obj = parse_json_output(r["stdout"])
                    if not obj or obj.get("ok") != NFILES:
                        errors[key] = f"{label}: not every URL fetched: {r['stdout'][-200:]}"
                        continue
                    r["rps"] = obj["requests_per_s"]         # fetch loop only
                else:
                    r["rps"] = NFILES / r["wall"]            # whole process
                if rnd > 0:
                    runs[key].append(r)
    except (RuntimeError, OSError) as e:
        result.notes.append(f"ERROR: {e}")
        result.checks = checks_missing(no_data("the fetch benchmark"))
        return result
    finally:
        ng.stop()

    med = {key: {"rps": median(r.get("rps") for r in rs),
                 "rss": median(r.get("rss_kib") for r in rs),
                 "wall": median(r.get("wall") for r in rs),
                 "min": min((r["rps"] for r in rs), default=None),
                 "max": max((r["rps"] for r in rs), default=None)}
           for key, rs in runs.items()}
    p = med["ptool"]["rps"]
    result.columns = [
        Column("client", "name", left=True),
        Column("req/s (median)", "rps", lambda v: f"{v:,.0f}"),
        Column("min..max", "range", left=True),
        Column("peak RSS", "rss", lambda v: f"{v / 1024:.1f} MiB"),
        Column("ptool is", "ratio", fmt_ratio),
        Column("measured over", "how", left=True),
    ]
    for key, label, _ in clients:
        m = med[key]
        result.rows.append({
            "name": label, "rps": m["rps"],
            "range": (f"{m['min']:,.0f}..{m['max']:,.0f}" if m["min"] is not None else None),
            "rss": m["rss"], "ratio": ratio(p, m["rps"]) if key != "ptool" else None,
            "how": "fetch loop (no start-up)" if key.startswith("aiohttp") else "whole process"})
    for key, err in errors.items():
        result.notes.append(f"ERROR: {err}")
    result.notes.append(f"{rounds} alternating rounds (aiohttp: the first {ctx.repeat}) after "
                        f"one warm-up round; medians. "
                        f"nginx: 1 worker, keep-alive; each client drops the bodies "
                        f"(ptool: no --output-dir; curl: output /dev/null; aiohttp: read()).")
    result.notes.append("req/s = URLs / wall time of the whole process for ptool and curl "
                        "(start-up included); aiohttp is timed inside the script, around the "
                        "fetch loop only (its start-up excluded, in its favour). Peak RSS: "
                        "GNU time %M of that process.")
    result.raw = {k: [{x: r[x] for x in ("wall", "rps", "rss_kib")} for r in rs]
                  for k, rs in runs.items()}

    a, c, rss = med.get("aiohttp", {}).get("rps"), med.get("curl", {}).get("rps"), \
        med["ptool"]["rss"]
    ra, rc_ = ratio(p, a), ratio(p, c)
    result.checks.append(Check(
        f"ptool >= {AIOHTTP_MIN_RATIO:g}x aiohttp + Semaphore({CONCURRENCY})",
        ra is not None and ra >= AIOHTTP_MIN_RATIO,
        f"{p:,.0f} vs {a:,.0f} req/s: {ra:.2f}x" if ra else no_data("aiohttp or ptool")))
    result.checks.append(Check(
        f"ptool >= {CURL_MIN_RATIO:g}x curl --parallel-max {CONCURRENCY}",
        rc_ is not None and rc_ >= CURL_MIN_RATIO,
        f"{p:,.0f} vs {c:,.0f} req/s: {rc_:.2f}x" if rc_ else no_data("curl or ptool")))
    result.checks.append(Check(
        f"ptool peak RSS <= {RSS_MAX_MIB:g} MiB", rss is not None and rss / 1024 <= RSS_MAX_MIB,
        f"{rss / 1024:.1f} MiB" if rss else no_data("ptool")))
    return result
