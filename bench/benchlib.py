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
import subprocess
import sys
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
# Section registry

SECTIONS = {}


def section(name):
    def register(func):
        SECTIONS[name] = func
        return func
    return register


