"""bench section hash: `ptool hash` vs `xargs -P2 openssl dgst -sha256` (see bench/README.md)."""

import hashlib
import math
import random
import re
import resource
import shutil
import statistics

from benchlib import *  # noqa: F401,F403 (the section toolkit)

# Target (issue 4): on 2 cores, ptool hash reaches this fraction of the
# throughput of two openssl processes over the same files.
MIN_VS_OPENSSL = 0.9
CORES = 2
MiB = 1024 * 1024
FILE_SETS = (("200 x 1 MiB", "small", 200, 1 * MiB),
             ("10 x 100 MiB", "large", 10, 100 * MiB))
FAST_RUNS = 9   # runs of ptool and openssl per set (sha256sum: --repeat)
DATA_DIR = Path(os.environ.get("PTOOL_BENCH_HASH_DIR", "/tmp/ptool-bench-hash"))
KEEP_ENV = "PTOOL_BENCH_HASH_KEEP"      # set: leave the data for the next run


def make_files(subdir, count, size):
    """Random files of `size` bytes; existing ones of the right size are reused."""
    d = DATA_DIR / subdir
    d.mkdir(parents=True, exist_ok=True)
    rng = random.Random(size * 1000 + count)
    files = []
    for i in range(count):
        path = d / f"f{i:04d}"
        if not (path.exists() and path.stat().st_size == size):
            with open(path, "wb") as f:
                left = size
                while left:
                    n = min(left, 4 * MiB)
                    f.write(rng.randbytes(n))
                    left -= n
        files.append(path)
    return files


def warm(files):
    """Read every file once: every tool then finds them in the page cache."""
    for path in files:
        with open(path, "rb") as f:
            while f.read(8 * MiB):
                pass


def pin_two_cpus():
    """preexec_fn: run on the first CORES CPUs we may use (no-op with <= CORES)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > CORES:
        os.sched_setaffinity(0, cpus[:CORES])


def timed(cmd, stdin_bytes=None, capture=False):
    """Runs cmd; returns (seconds, cpu seconds of the children, stdout, error)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        proc = subprocess.run([str(c) for c in cmd], input=stdin_bytes,
                              stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                              stderr=subprocess.PIPE, preexec_fn=pin_two_cpus, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, None, None, f"{Path(str(cmd[0])).name}: {e}"
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        return None, None, None, (f"{Path(str(cmd[0])).name} exited {proc.returncode}: "
                                  f"{proc.stderr.decode(errors='replace').strip()[-300:]}")
    return wall, cpu, proc.stdout, None


def commands(ctx, files):
    """label -> (argv, stdin bytes) for one file set."""
    per_proc = math.ceil(len(files) / CORES)    # two balanced openssl processes
    nul_list = b"".join(bytes(str(p), "utf-8") + b"\0" for p in files)
    return {
        "ptool hash": ([ctx.ptool, "hash", "--threads", CORES] + files, None),
        f"xargs -P{CORES} openssl dgst -sha256": (
            ["xargs", "-0", f"-P{CORES}", "-n", per_proc, "openssl", "dgst", "-sha256"],
            nul_list),
        "sha256sum (1 process)": (["sha256sum"] + files, None),
    }


def parse_digests(text):
    """{path: hex} from sha256sum-style output."""
    out = {}
    for line in text.decode(errors="replace").splitlines():
        m = re.match(r"^([0-9a-f]{64})  (.*)$", line)
        if m:
            out[m.group(2)] = m.group(1)
    return out


def reference_digests(files):
    """{path: hex} computed here (hashlib), to check ptool's output."""
    out = {}
    for path in files:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(4 * MiB):
                h.update(chunk)
        out[str(path)] = h.hexdigest()
    return out


def run_set(ctx, label, files, repeat, result):
    total = sum(p.stat().st_size for p in files)
    cmds = commands(ctx, files)
    times = {name: [] for name in cmds}
    cpus = {name: [] for name in cmds}
    outputs = {}
    errors = []
    # ptool and openssl runs last 0.1-0.4 s, so one busy moment moves a
    # median of 3: they get FAST_RUNS runs; sha256sum (slow) gets `repeat`.
    runs = repeat if ctx.quick else max(repeat, FAST_RUNS)
    for rep in range(runs):                       # alternate the tools
        for name, (argv, stdin_bytes) in cmds.items():
            if name.startswith("sha256sum") and rep >= repeat:
                continue
            n = repeat if name.startswith("sha256sum") else runs
            progress(f"  {label}: {name} (run {rep + 1}/{n})")
            capture = rep == 0 and name == "ptool hash"
            wall, cpu, out, err = timed(argv, stdin_bytes, capture)
            if err:
                errors.append(err)
                continue
            times[name].append(wall)
            cpus[name].append(cpu)
            if capture:
                outputs[name] = out
    rows = []
    for name in cmds:
        if not times[name]:
            rows.append({"set": label, "tool": name, "note": "did not run"})
            continue
        med = statistics.median(times[name])
        rows.append({"set": label, "tool": name, "gbps": total / med / 1e9,
                     "best": total / min(times[name]) / 1e9,
                     "cpu": statistics.median(cpus[name]) / (total / 1e9),
                     "runs": len(times[name])})
    ref = next((r.get("gbps") for r in rows if r["tool"].startswith("xargs")), None)
    for r in rows:
        r["vs_openssl"] = ratio(r.get("gbps"), ref)
    result.rows += rows
    result.notes += [f"ERROR ({label}): {e}" for e in dict.fromkeys(errors)]

    mine = next((r.get("gbps") for r in rows if r["tool"] == "ptool hash"), None)
    rel = ratio(mine, ref)
    result.checks.append(Check(
        f"ptool hash >= {MIN_VS_OPENSSL}x xargs -P{CORES} openssl dgst -sha256, {label}",
        rel is not None and rel >= MIN_VS_OPENSSL,
        f"{mine:.2f} vs {ref:.2f} GB/s: {fmt_ratio(rel)}" if rel is not None
        else no_data_note(errors)))
    mine_d = parse_digests(outputs.get("ptool hash", b""))
    ref_d = reference_digests(files)
    same = mine_d == ref_d
    result.checks.append(Check(
        f"ptool hash digests equal Python hashlib's, {label}", same,
        f"{len(mine_d)} files, all equal" if same
        else f"ptool gave {len(mine_d)} digests for {len(ref_d)} files, "
             f"{sum(1 for k in ref_d if mine_d.get(k) != ref_d[k])} differ or are missing"))


def no_data_note(errors):
    return "no data: " + (errors[0] if errors else "a tool did not run")


@section("hash")
def hash_section(ctx):
    result = SectionResult(
        f"SHA-256 of files in the page cache on {CORES} cores: ptool hash vs "
        f"xargs -P{CORES} openssl dgst -sha256 (and sha256sum)")
    result.columns = [
        Column("files", "set", left=True),
        Column("tool", "tool", left=True),
        Column("median", "gbps", lambda v: f"{v:.2f} GB/s"),
        Column("best", "best", lambda v: f"{v:.2f} GB/s"),
        Column("CPU per GB", "cpu", lambda v: f"{v:.2f} s"),
        Column("vs openssl", "vs_openssl", fmt_ratio),
        Column("note", "note", left=True),
    ]
    if not ctx.ptool.exists():
        result.notes.append(missing_binary_note(ctx.ptool, "ptool"))
        for label, *_ in FILE_SETS:
            result.checks.append(Check(
                f"ptool hash >= {MIN_VS_OPENSSL}x xargs -P{CORES} openssl dgst -sha256, {label}",
                False, "no data (ptool missing)"))
        return result
    missing = [t for t in ("openssl", "sha256sum", "xargs") if not shutil.which(t)]
    if missing:
        result.notes.append(f"MISSING tools: {', '.join(missing)}")
    try:
        for label, subdir, count, size in FILE_SETS:
            progress(f"  {label}: preparing files in {DATA_DIR / subdir}")
            files = make_files(subdir, count, size)
            warm(files)
            run_set(ctx, label, files, ctx.repeat, result)
    finally:
        if os.environ.get(KEEP_ENV):
            result.notes.append(f"data kept in {DATA_DIR} ({KEEP_ENV} is set)")
        else:
            shutil.rmtree(DATA_DIR, ignore_errors=True)
    pinned = len(os.sched_getaffinity(0)) > CORES
    result.notes.insert(0, (
        f"GB/s = bytes hashed / wall time, median of "
        f"{ctx.repeat if ctx.quick else max(ctx.repeat, FAST_RUNS)} runs (sha256sum: "
        f"{ctx.repeat}), tools alternating; "
        f"every file read once before timing, so all tools find them in the page cache "
        f"(no cache is dropped). ptool runs with --threads {CORES}; openssl as {CORES} "
        f"balanced processes (xargs -n ceil(files/{CORES}))"
        + (f"; every command pinned to {CORES} CPUs" if pinned else "")
        + f". Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}."))
    return result
