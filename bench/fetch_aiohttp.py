#!/usr/bin/env python3
"""fetch_aiohttp.py - the course's answer to "fetch many URLs": asyncio +
aiohttp, with an asyncio.Semaphore(N) capping the requests in flight. The
reference `ptool fetch` is compared with (bench/sections/fetch.py).

    python3 fetch_aiohttp.py URLFILE [--concurrency N] [--json]

Reads one URL per line, fetches them all through one ClientSession (each
body read whole and dropped, as `ptool fetch` does without --output-dir),
and reports requests/s over the fetch loop only (interpreter start-up and
`import aiohttp` excluded, which favours aiohttp) and the process's peak RSS.
Needs Debian's python3-aiohttp (run with /usr/bin/python3).
"""

import argparse
import asyncio
import json
import resource
import sys
import time

import aiohttp


async def fetch_all(urls, concurrency):
    sem = asyncio.Semaphore(concurrency)
    ok = failed = nbytes = 0

    async def one(session, url):
        nonlocal ok, failed, nbytes
        async with sem:
            try:
                async with session.get(url) as resp:
                    body = await resp.read()
                    if 200 <= resp.status < 300:
                        ok += 1
                        nbytes += len(body)
                    else:
                        failed += 1
            except aiohttp.ClientError:
                failed += 1

    async with aiohttp.ClientSession() as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(one(session, u) for u in urls))
        seconds = time.perf_counter() - t0
    return ok, failed, nbytes, seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("urlfile")
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.concurrency < 1:
        p.error("--concurrency must be at least 1")
    with open(args.urlfile) as f:
        urls = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    ok, failed, nbytes, seconds = asyncio.run(fetch_all(urls, args.concurrency))
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"client": "aiohttp", "aiohttp": aiohttp.__version__, "urls": len(urls),
           "concurrency": args.concurrency, "ok": ok, "failed": failed, "bytes": nbytes,
           "seconds": seconds, "requests_per_s": len(urls) / seconds if seconds > 0 else None,
           "peak_rss_kib": rss_kib}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{len(urls)} URLs, {ok} ok, {failed} failed, {nbytes} bytes in {seconds:.3f} s: "
              f"{out['requests_per_s']:.0f} req/s, peak RSS {rss_kib / 1024:.1f} MiB")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
