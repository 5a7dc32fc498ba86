"""bench section crawl: `ptool crawl` over a generated 5000-page site on local nginx
(see bench/README.md). Report-only: pages/s and peak RSS, plus a check that every
page was found exactly once."""

import json
import os
import random

from benchlib import *  # noqa: F401,F403 (the section toolkit)

NPAGES = 5000
LINKS_TREE = 3           # page i links to 3i+1, 3i+2, 3i+3: every page reachable
LINKS_RANDOM = 3         # and to 3 random pages (duplicates across the site)
DEPTH = 100              # far more than the site needs (its depth is 8)


def write_site(html, npages):
    """npages linked HTML pages (about 2.5 KiB each) into the directory html."""
    rng = random.Random(20261127)
    filler = " ".join(["lorem ipsum dolor sit amet"] * 60)
    for i in range(npages):
        kids = [(LINKS_TREE * i + j + 1) for j in range(LINKS_TREE)]
        targets = [k for k in kids if k < npages]
        targets += [rng.randrange(npages) for _ in range(LINKS_RANDOM)]
        links = "\n".join(f'<li><a href="p{t}.html#s">page {t}</a></li>' for t in targets)
        (html / f"p{i}.html").write_text(
            f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Page {i}</title>"
            f"</head>\n<body><h1>Page {i}</h1><p>{filler}</p>\n<ul>\n{links}\n</ul>\n"
            f"<a href=\"/p0.html\">home</a></body></html>\n")


def page_url(ng, i):
    return ng.url(f"p{i}.html")


def check_output(path, ng):
    """(pages found, every page once and ok with its title and depth, problem)."""
    seen = {}
    problem = None
    with open(path) as f:
        for line in f:
            obj = json.loads(line)
            seen[obj["url"]] = seen.get(obj["url"], 0) + 1
            if problem is None and ("error" in obj or obj["status"] != 200):
                problem = f"{obj['url']}: {obj.get('error')}"
            i = int(obj["url"].rsplit("/p", 1)[1].split(".")[0])
            if problem is None and obj["title"] != f"Page {i}":
                problem = f"{obj['url']}: title {obj['title']!r}"
    want = {page_url(ng, i) for i in range(NPAGES)}
    if problem is None and set(seen) != want:
        problem = f"{len(set(seen) - want)} unexpected, {len(want - set(seen))} missing URLs"
    if problem is None and any(n != 1 for n in seen.values()):
        problem = "a page was written more than once"
    return len(seen), problem


@section("crawl")
def crawl_section(ctx):
    result = SectionResult(f"crawl a generated {NPAGES}-page site on local nginx "
                           f"({LINKS_TREE} tree + {LINKS_RANDOM} random links a page)")
    found_check = f"all {NPAGES} pages found, each once, with its title"
    if not ctx.ptool.exists():
        result.notes.append(missing_binary_note(ctx.ptool, "ptool"))
        result.checks.append(Check(found_check, False, "no data (ptool)"))
        return result
    if not nginx_binary():
        result.notes.append("MISSING nginx: install it (scripts/deps.sh bench)")
        result.checks.append(Check(found_check, False, "no data (nginx)"))
        return result
    if not Path(GNU_TIME).exists():
        result.notes.append("MISSING GNU time (/usr/bin/time): install 'time' "
                            "(scripts/deps.sh bench)")
        result.checks.append(Check(found_check, False, "no data (/usr/bin/time)"))
        return result

    progress(f"  crawl: generating {NPAGES} pages, starting nginx")
    ng = Nginx("crawl")
    variants = [("c50", "--concurrency 50", ["--concurrency", 50]),
                ("c10", "--concurrency 10", ["--concurrency", 10])]
    if not ctx.quick:
        variants.append(("c50p1", "--concurrency 50 --parsers 1",
                         ["--concurrency", 50, "--parsers", 1]))
    runs = {key: [] for key, _, _ in variants}
    problems = {}
    found = {}
    try:
        write_site(ng.html, NPAGES)
        ng.start()
        out = ng.dir / "pages.jsonl"
        for rnd in range(ctx.repeat + 1):      # round 0 warms nginx and the page cache
            for key, label, extra in variants:
                progress(f"  crawl: {label} (round {rnd}{' warm-up' if rnd == 0 else ''})")
                cmd = [ctx.ptool, "crawl", page_url(ng, 0), "--depth", DEPTH, "-o", out] + extra
                r = run_timed(cmd)
                if r["rc"] != 0:
                    problems[key] = f"ptool crawl {label} exited {r['rc']}: {r['stderr']}"
                    continue
                n, problem = check_output(out, ng)
                found[key] = n
                if problem:
                    problems[key] = problem
                r["pps"] = NPAGES / r["wall"]
                if rnd > 0:
                    runs[key].append(r)
                os.unlink(out)
    except (RuntimeError, OSError, ValueError) as e:
        result.notes.append(f"ERROR: {e}")
        result.checks.append(Check(found_check, False, f"no data ({e})"))
        return result
    finally:
        ng.stop()

    result.columns = [
        Column("ptool crawl", "name", left=True),
        Column("pages/s (median)", "pps", lambda v: f"{v:,.0f}"),
        Column("min..max", "range", left=True),
        Column("wall (median)", "wall", fmt_seconds),
        Column("peak RSS", "rss", lambda v: f"{v / 1024:.1f} MiB"),
    ]
    for key, label, _ in variants:
        rs = runs[key]
        pps = [r["pps"] for r in rs]
        result.rows.append({
            "name": label, "pps": median(pps),
            "range": f"{min(pps):,.0f}..{max(pps):,.0f}" if pps else None,
            "wall": median([r["wall"] for r in rs]),
            "rss": median([r["rss_kib"] for r in rs])})
    result.notes.append(f"{ctx.repeat} alternating rounds after one warm-up round; medians. "
                        f"pages/s = {NPAGES} / wall time of the whole process (start-up, "
                        f"parsing and writing the JSON lines to a file included). Peak RSS: "
                        f"GNU time %M. nginx: 1 worker, keep-alive; pages about 2.5 KiB.")
    result.notes.append("Report only (issue 4 asks for the numbers): no target.")
    for key, p in problems.items():
        result.notes.append(f"ERROR: {key}: {p}")
    result.raw = {k: [{x: r[x] for x in ("wall", "pps", "rss_kib")} for r in rs]
                  for k, rs in runs.items()}
    ok = not problems and all(found.get(k) == NPAGES for k, _, _ in variants)
    detail = (f"{NPAGES} of {NPAGES} in every run" if ok
              else "; ".join(f"{k}: {found.get(k)} pages, {problems.get(k, '')}"
                             for k, _, _ in variants))
    result.checks.append(Check(found_check, ok, detail))
    return result
