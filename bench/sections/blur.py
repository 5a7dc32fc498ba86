"""bench section blur: MPix/s of each backend on a 4096x4096 RGB PNG.

The input is generated here (seeded random pixels, written with zlib; it
is kept in the build directory as bench-data/blur-4096-rgb.png and reused).
Rows: `ptool bench blur --input ... --sigma 2` (every backend, verified
against serial: within 1 per channel), and the serial backend with
PTOOL_ISA=baseline / avx2 (report only: the SIMD variants' speedup).
There is no speed target; the check is that every backend's result was
verified.
"""

import random
import struct
import tempfile
import zlib

from benchlib import *  # noqa: F401,F403 (the section toolkit)
from sections.mandelbrot import run_json_env

SIDE = 4096


def write_png(path, width, height, channels, pixels):
    """A minimal 8-bit PNG writer (filter 0 on every row)."""
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    stride = width * channels
    raw = b"".join(b"\x00" + pixels[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 1)))
        f.write(chunk(b"IEND", b""))
    tmp.replace(path)


def input_image(ctx):
    path = ctx.build / "bench-data" / f"blur-{SIDE}-rgb.png"
    if not path.exists():
        progress(f"  writing {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_png(path, SIDE, SIDE, 3, random.Random(1).randbytes(SIDE * SIDE * 3))
    return path


def fmt_mpix(v):
    return f"{v / 1e6:.1f}"


@section("blur")
def blur_section(ctx):
    result = SectionResult(f"Gaussian blur, sigma 2, {SIDE}x{SIDE} RGB: MPix/s per backend")
    if not ctx.ptool.exists():
        result.notes.append(missing_binary_note(ctx.ptool, "ptool"))
        result.checks.append(Check("every backend verified against serial", False,
                                   "no data (ptool missing)"))
        return result
    src = input_image(ctx)
    errors, raw, rows = [], {}, []
    with tempfile.TemporaryDirectory(prefix="ptool-bench-blur-") as tmp:
        out = Path(tmp) / "out.png"
        common = ["--input", src, "--output", out, "--sigma", 2, "--repeat", ctx.repeat, "--json"]
        pt, err = run_json([ctx.ptool, "bench", "blur", *common])
        errors.append(err)
        raw["ptool_bench"] = pt
        rows += [ptool_row(r) for r in (pt or {}).get("rows", [])]
        serial = next((r["median"] for r in rows if r.get("backend") == "serial"), None)
        for isa in ("baseline", "avx2"):
            obj, err = run_json_env([ctx.ptool, "bench", "blur", *common, "--backends", "serial"],
                                    {"PTOOL_ISA": isa})
            errors.append(err)
            raw[f"ptool_serial_{isa}"] = obj
            if obj and obj["rows"] and obj["rows"][0].get("available"):
                r = obj["rows"][0]
                rows.append({"name": f"ptool serial, PTOOL_ISA={isa}",
                             "median": r["median_seconds"], "rate": r["throughput"],
                             "speedup": ratio(serial, r["median_seconds"]),
                             "ok": bool(r.get("verified")), "note": f"ISA used: {obj['isa']}"})
    result.raw = raw
    result.notes += [f"ERROR: {e}" for e in dict.fromkeys(e for e in errors if e)]
    result.columns = [
        Column("what", "name", left=True),
        Column("median", "median", fmt_seconds),
        Column("MPix/s", "rate", fmt_mpix),
        Column("vs serial", "speedup", fmt_ratio),
        Column("note", "note", left=True),
    ]
    result.rows = rows
    result.notes.insert(0, f"medians of {ctx.repeat}; ptool ISA {(pt or {}).get('isa', '?')}; "
                           "no speed target (report only)")
    bad = [r["name"] for r in rows if r.get("ok") is False]
    verified = [r for r in rows if r.get("ok")]
    result.checks.append(Check(
        "every backend verified against serial (within 1 per channel)",
        bool(verified) and not bad,
        f"all {len(verified)} rows that ran verified" if verified and not bad
        else "WRONG: " + ", ".join(bad) if bad else no_data("ptool bench blur")))
    return result
