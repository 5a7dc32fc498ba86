"""benchlib: the plumbing bench/run.py and its sections share.

A section is a module in bench/sections/ that registers one or more
functions with @section("name"); each takes the Context and returns a
SectionResult (a table, notes and named PASS/FAIL checks). run.py imports
every module in bench/sections/, so adding a comparison touches no shared
file. Standard library only.
"""

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
PTOOL_BACKENDS = ("serial", "threads", "processes", "openmp", "opencl")


# --------------------------------------------------------------------------
# Plumbing: context, results, running commands


@dataclasses.dataclass
class Context:
    build: Path
    repeat: int
    quick: bool

    @property
    def ptool(self):
        return self.build / "cli" / "ptool"

    def bench_binary(self, name):
        return self.build / "bench" / name


@dataclasses.dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclasses.dataclass
class Column:
    header: str
    key: str
    fmt: object = str      # value -> str; None values print as "-"
    left: bool = False     # left-align (text) instead of right-align (numbers)


@dataclasses.dataclass
class SectionResult:
    title: str
    columns: list = dataclasses.field(default_factory=list)
    rows: list = dataclasses.field(default_factory=list)      # dicts keyed by Column.key
    notes: list = dataclasses.field(default_factory=list)     # report-only lines
    checks: list = dataclasses.field(default_factory=list)
    raw: dict = dataclasses.field(default_factory=dict)       # tool outputs, for --json

    def to_json(self):
        return {"title": self.title, "rows": self.rows, "notes": self.notes,
                "checks": [dataclasses.asdict(c) for c in self.checks],
                "raw": self.raw}


def progress(message):
    """Progress goes to stderr so that --json output stays one object."""
    print(message, file=sys.stderr, flush=True)


def run_json(cmd, timeout=3600):
    """Run a command that prints JSON; return (object or None, error or None).

    A nonzero exit with valid JSON still returns the object (with the error),
    so that a section can show what went wrong.
    """
    progress("  running: " + " ".join(str(c) for c in cmd))
    exe = Path(cmd[0])
    if exe.is_absolute() and not exe.exists():
        return None, f"missing binary {exe}"
    try:
        proc = subprocess.run([str(c) for c in cmd], capture_output=True,
                              text=True, timeout=timeout)
    except FileNotFoundError:
        return None, f"cannot run {cmd[0]}: not found"
    except subprocess.TimeoutExpired:
        return None, f"{Path(cmd[0]).name} timed out after {timeout} s"
    obj = parse_json_output(proc.stdout)
    error = None
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-400:]
        error = f"{Path(str(cmd[0])).name} exited {proc.returncode}: {tail}"
    elif obj is None:
        error = f"{Path(str(cmd[0])).name} printed no JSON: {proc.stdout[-200:]!r}"
    return obj, error


def parse_json_output(text):
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    for line in reversed(text.splitlines()):    # one JSON line after chatter
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return None


def no_data(what):
    """The detail of a check that could not be measured because what did not run."""
    return f"no data ({what} did not run; see the notes above)"


def ptool_row(r, name=None):
    """One row of `ptool bench --json` as a table row: name, backend,
    available, median, rate (its throughput), speedup, ok (True verified,
    False failed or wrong, None did not run) and a note: why it did not run,
    else its threads or OpenCL device, and NOT VERIFIED with the reason."""
    row = {"name": name or f"ptool {r['backend']}", "backend": r["backend"],
           "available": r["available"], "median": None, "rate": None, "speedup": None,
           "ok": None}
    if not r["available"]:
        row["note"] = f"unavailable: {r.get('error')}"
    elif r.get("error"):
        row.update(ok=False, note=f"FAILED: {r['error']}")
    else:
        row.update(median=r.get("median_seconds"), rate=r.get("throughput"),
                   speedup=r.get("speedup"), ok=bool(r.get("verified")))
        if r["backend"] == "opencl" and r.get("device"):
            row["note"] = f"{r['device']}, {plural(r['threads'], 'compute unit')}"
        else:
            row["note"] = plural(r["threads"], "thread")
        if not row["ok"]:
            row["note"] += f", NOT VERIFIED: {r.get('verify_error') or 'no check ran'}"
    return row


def missing_binary_note(path, what):
    return (f"MISSING {what}: {path} does not exist. Build it "
            f"(cmake -S {REPO_DIR} -B DIR && cmake --build DIR) and pass --build DIR.")


# --------------------------------------------------------------------------
# Formatting


def fmt_seconds(s):
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def fmt_ratio(r):
    if r >= 100:
        return f"{r:,.0f}x"
    return f"{r:.2f}x"


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def render_table(columns, rows):
    cells = [[c.header for c in columns]]
    for row in rows:
        cells.append([("-" if row.get(c.key) is None else c.fmt(row[c.key]))
                      for c in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = []
    for n, r in enumerate(cells):
        parts = [v.ljust(w) if c.left else v.rjust(w)
                 for v, w, c in zip(r, widths, columns)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def print_section(name, result):
    print()
    print(f"== {name}: {result.title}")
    if result.rows:
        print()
        for line in render_table(result.columns, result.rows):
            print("  " + line)
    if result.notes:
        print()
        for note in result.notes:
            print("  " + note)
    if result.checks:
        print()
        print("  Targets:")
        for check in result.checks:
            mark = "PASS" if check.passed else "FAIL"
            print(f"  [{mark}] {check.name}: {check.detail}")


# --------------------------------------------------------------------------
# Local servers and timed clients (the fetch, crawl and serve sections)

GNU_TIME = "/usr/bin/time"


def median(values):
    """The median of the values that are not None; None when none are left."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_binary():
    """nginx's path, or None when the Debian package is not installed."""
    if shutil.which("nginx"):
        return shutil.which("nginx")
    return "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None


class Nginx:
    """nginx, one worker, keep-alive, no access log, on 127.0.0.1 and a free
    port, serving the files a section writes under .html. Everything lives in
    a fresh temporary directory (.dir) that stop() removes."""

    def __init__(self, tag):
        self.dir = Path(tempfile.mkdtemp(prefix=f"ptool-bench-{tag}-nginx-"))
        self.html = self.dir / "html"
        for sub in ("logs", "tmp", "html"):
            (self.dir / sub).mkdir()
        self.port = free_port()
        self.proc = None

    def start(self, timeout=30):
        """Starts nginx and waits until it accepts; RuntimeError if it cannot."""
        nginx = nginx_binary()
        if not nginx:
            raise RuntimeError("nginx not installed (Debian package nginx; scripts/deps.sh bench)")
        d = self.dir
        # As root the worker would run as nobody and could not read a 0700 tree.
        user = "user root;" if os.geteuid() == 0 else ""
        (d / "nginx.conf").write_text(f"""daemon off; master_process on; worker_processes 1; {user}
pid {d}/nginx.pid; error_log {d}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off; default_type application/octet-stream; keepalive_requests 1000000;
  types {{ text/html html; }}
  client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fcgi; uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
  server {{ listen 127.0.0.1:{self.port}; root {self.html}; }}
}}
""")
        self.proc = subprocess.Popen([nginx, "-p", str(d), "-e", str(d / "logs/error.log"),
                                      "-c", str(d / "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited: " + (d / "logs/error.log").read_text()[-400:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"nginx did not answer within {timeout} s")

    def url(self, path):
        """The URL of the file path under .html."""
        return f"http://127.0.0.1:{self.port}/{path}"

    def stop(self):
        """Stops nginx gracefully (SIGQUIT; SIGKILL after 15 s) and removes .dir."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_timed(cmd, capture_stdout=False):
    """Runs cmd; returns dict(wall, rss_kib, rc, stdout, stderr).

    Peak RSS comes from GNU time (-f %M): a child forked from this Python
    process would report Python's own ~20 MiB (ru_maxrss keeps the high-water
    mark of the memory it had before exec). Output goes to temporary files
    (curl's progress table can be large); stderr keeps its last 2000 bytes."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r") as rss:
        full = [GNU_TIME, "-f", "%M", "-o", rss.name] + [str(c) for c in cmd]
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out if capture_stdout else subprocess.DEVNULL,
                                stderr=err)
        proc.wait()
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        lines = rss.read().split()
        return {"wall": wall, "rss_kib": int(lines[-1]) if lines else None,
                "rc": proc.returncode,
                "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace")[-2000:]}


# --------------------------------------------------------------------------
# Section registry

SECTIONS = {}


def section(name):
    def register(func):
        SECTIONS[name] = func
        return func
    return register


