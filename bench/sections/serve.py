"""bench section serve: `ptool serve` under wrk vs Flask and nginx (see bench/README.md)."""

import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from benchlib import *  # noqa: F401,F403 (the section toolkit)

FLASK_SCRIPT = BENCH_DIR / "flask_isprime.py"
NUMBER = 112272535095293                  # the course's prime

# Targets (issue 5).
MR_MIN_VS_FLASK = 1000.0                  # ptool /is_prime (mr) req/s vs Flask's
TRIAL_MIN_VS_FLASK = 10.0                 # ptool /is_prime?method=trial vs Flask's
HEALTHZ_MIN_VS_NGINX = 0.5                # ptool /healthz vs nginx serving a small file

WRK_THREADS = 2
WRK_CONNECTIONS = 100
WRK_TIMEOUT = "30s"                       # Flask answers in seconds under this load


# --------------------------------------------------------------------------
# Servers


def read_port(proc, what, timeout=60):
    """The first stdout line of a server that prints its port."""
    import select
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.strip().isdigit():
                return int(line)
            if not line:
                break
        if proc.poll() is not None:
            break
    raise RuntimeError(f"{what} did not print its port (exit status {proc.poll()})")


def wait_http(url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read()
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode if proc else None


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def start_nginx():
    """nginx serving an 11-byte file: (Nginx, its URL, None) or (None, None, why)."""
    ng = Nginx("serve")
    try:
        (ng.html / "small.txt").write_text("hello world")          # 11 bytes
        ng.start()
    except (OSError, RuntimeError) as e:
        ng.stop()
        return None, None, f"nginx: {e}"
    return ng, ng.url("small.txt"), None


# --------------------------------------------------------------------------
# wrk


def parse_duration(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return None
    v = float(m.group(1))
    return v * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(2)]


def wrk(url, seconds):
    """One wrk run: dict(rps, p99, requests, errors, non2xx) or (None, error)."""
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s",
           "--timeout", WRK_TIMEOUT, "--latency", url]
    progress("  running: " + " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"wrk: {e}"
    if proc.returncode != 0:
        return None, f"wrk exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
    out = proc.stdout
    res = {"rps": None, "p99": None, "requests": None, "errors": 0, "non2xx": 0, "raw": out}
    for line in out.splitlines():
        s = line.strip()
        if s.startswith("Requests/sec:"):
            res["rps"] = float(s.split(":")[1])
        elif s.startswith("99%"):
            res["p99"] = parse_duration(s.split()[1])
        elif "requests in" in s:
            res["requests"] = int(s.split()[0])
        elif s.startswith("Socket errors:"):
            res["errors"] = sum(int(x) for x in re.findall(r"\d+", s))
        elif s.startswith("Non-2xx or 3xx responses:"):
            res["non2xx"] = int(s.split(":")[1])
    if res["rps"] is None:
        return None, f"wrk printed no Requests/sec: {out[-300:]!r}"
    return res, None


# --------------------------------------------------------------------------
# Section "serve"


def fmt_rps(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def fmt_p99(v):
    return fmt_seconds(v)


@section("serve")
def serve_section(ctx):
    result = SectionResult(f"HTTP under wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}: ptool serve "
                           f"vs Flask + ProcessPoolExecutor and nginx")
    seconds = 3 if ctx.quick else 10
    rows, errors, raw = [], [], {}
    work = Path(tempfile.mkdtemp(prefix="ptool-bench-serve-"))
    ptool = flask = nginx = None
    rss = {}
    try:
        if not shutil.which("wrk"):
            raise RuntimeError("wrk not installed (Debian package wrk; scripts/deps.sh bench)")
        if not ctx.ptool.exists():
            raise RuntimeError(missing_binary_note(ctx.ptool, "ptool"))
        ptool_log = open(work / "ptool.log", "w")
        ptool = subprocess.Popen([str(ctx.ptool), "serve", "--port", "0", "--print-port"],
                                 stdout=subprocess.PIPE, stderr=ptool_log, text=True)
        pport = read_port(ptool, "ptool serve")
        base = f"http://127.0.0.1:{pport}"
        answer = wait_http(f"{base}/is_prime/{NUMBER},{NUMBER + 2}?method=trial").decode()
        ok = (f'{{"n":{NUMBER},"prime":true}}' in answer
              and f'{{"n":{NUMBER + 2},"prime":false}}' in answer)
        rss["idle"] = rss_kib(ptool.pid)

        flask_note = None
        try:
            flask = subprocess.Popen([sys.executable, str(FLASK_SCRIPT)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
            fport = read_port(flask, "flask_isprime.py")
            furl = f"http://127.0.0.1:{fport}/is_prime/{NUMBER}"
            fans = wait_http(furl, timeout=120).decode()
            fok = f'"n":{NUMBER},"prime":true' in fans.replace(" ", "")
        except (OSError, RuntimeError) as e:
            flask_note, furl, fok = f"Flask reference unavailable: {e}", None, None
            stop(flask)
            flask = None
        nginx, nurl, nginx_note = start_nginx()

        runs = [
            ("ptool /is_prime (mr, default)", f"{base}/is_prime/{NUMBER}", ok, "ptool_mr"),
            ("ptool /is_prime?method=trial", f"{base}/is_prime/{NUMBER}?method=trial", ok,
             "ptool_trial"),
            ("Flask + ProcessPoolExecutor /is_prime (trial)", furl, fok, "flask"),
            ("ptool /healthz", f"{base}/healthz", True, "ptool_healthz"),
            ("nginx static file (11 B)", nurl, True, "nginx"),
        ]
        for name, url, right, key in runs:
            row = {"name": name, "key": key, "rps": None, "p99": None, "ok": right}
            if url is None:
                row["note"] = flask_note if key == "flask" else nginx_note
                rows.append(row)
                continue
            res, err = wrk(url, seconds)
            if err:
                errors.append(f"{name}: {err}")
                row["note"] = err
            else:
                row.update(rps=res["rps"], p99=res["p99"], requests=res["requests"],
                           errors=res["errors"], non2xx=res["non2xx"])
                bad = res["errors"] + res["non2xx"]
                row["note"] = (f"{res['requests']:,} requests"
                               + (f", {res['errors']} socket errors" if res["errors"] else "")
                               + (f", {res['non2xx']} non-2xx" if res["non2xx"] else ""))
                row["clean"] = bad == 0
                raw[key] = res["raw"]
            rows.append(row)
            if key == "ptool_healthz":
                rss["after"] = rss_kib(ptool.pid)
        rss["after"] = rss.get("after") or rss_kib(ptool.pid)
        # Still correct after the load.
        again = wait_http(f"{base}/is_prime/{NUMBER},{NUMBER + 2}").decode()
        still_ok = (f'{{"n":{NUMBER},"prime":true}}' in again
                    and f'{{"n":{NUMBER + 2},"prime":false}}' in again)
    except (OSError, RuntimeError) as e:
        errors.append(str(e))
        still_ok = False
    finally:
        status = stop(ptool)
        stop(flask)
        if nginx:
            nginx.stop()
        shutil.rmtree(work, ignore_errors=True)
    if ptool is not None and status not in (0, None):
        errors.append(f"ptool serve exited {status} after SIGTERM (want 0)")

    def rps_of(key):
        for r in rows:
            if r["key"] == key:
                return r["rps"]
        return None

    flask_rps = rps_of("flask")
    nginx_rps = rps_of("nginx")
    for r in rows:
        r["vs_flask"] = ratio(r["rps"], flask_rps)
        r["vs_nginx"] = ratio(r["rps"], nginx_rps)
    result.rows = rows
    result.columns = [
        Column("what", "name", left=True),
        Column("req/s", "rps", fmt_rps),
        Column("p99", "p99", fmt_p99),
        Column("vs Flask", "vs_flask", fmt_ratio),
        Column("vs nginx", "vs_nginx", fmt_ratio),
        Column("note", "note", left=True),
    ]
    result.raw = {"wrk": raw, "rss_kib": rss, "seconds": seconds}
    result.notes.append(f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{seconds}s --timeout "
                        f"{WRK_TIMEOUT}, each server alone, all on this machine (wrk shares "
                        f"the cores with the server)")
    if rss.get("idle") is not None:
        result.notes.append(f"ptool serve RSS (the server process; the process pool's workers "
                            f"are separate): idle {rss['idle']:,} KiB, after the load "
                            f"{rss.get('after') or 0:,} KiB")
    result.notes += [f"ERROR: {e}" for e in errors]

    def ratio_check(name, key, ref_rps, ref_name, minimum):
        v = ratio(rps_of(key), ref_rps)
        detail = (f"{fmt_ratio(v)} ({fmt_rps(rps_of(key))} vs {fmt_rps(ref_rps)} req/s)"
                  if v is not None else no_data_of(key, ref_name))
        return Check(name, v is not None and v >= minimum, detail)

    def no_data_of(key, ref_name):
        return f"no data (ptool {key} or {ref_name} did not run)"

    result.checks = [
        ratio_check(f"/is_prime (mr) >= {MR_MIN_VS_FLASK:g}x Flask's req/s", "ptool_mr",
                    flask_rps, "Flask", MR_MIN_VS_FLASK),
        ratio_check(f"/is_prime?method=trial >= {TRIAL_MIN_VS_FLASK:g}x Flask's req/s",
                    "ptool_trial", flask_rps, "Flask", TRIAL_MIN_VS_FLASK),
        ratio_check(f"/healthz >= {HEALTHZ_MIN_VS_NGINX:.0%} of nginx's req/s", "ptool_healthz",
                    nginx_rps, "nginx", HEALTHZ_MIN_VS_NGINX),
    ]
    ptool_rows = [r for r in rows if r["key"].startswith("ptool")]
    clean = all(r.get("clean") for r in ptool_rows) and ptool_rows
    result.checks.append(Check("every ptool answer under load was 2xx, no socket errors",
                               bool(clean), "all clean" if clean else
                               "; ".join(f"{r['name']}: {r.get('note')}" for r in ptool_rows
                                         if not r.get("clean")) or no_data("ptool serve")))
    right = [r for r in rows if r.get("ok") is False]
    result.checks.append(Check("answers are right (the course's prime; before and after the "
                               "load)", not right and still_ok,
                               "all right" if not right and still_ok else
                               no_data("ptool serve") if not ptool_rows else
                               "WRONG: " + ", ".join(r["name"] for r in right)
                               + ("" if still_ok else " (after the load)")))
    return result
