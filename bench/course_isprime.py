#!/usr/bin/env python3
"""The Python concurrency course's CPU-bound example, timed three ways.

The course checks the primality of [112272535095293] * 100 and compares

  * a plain loop in one thread,
  * concurrent.futures.ThreadPoolExecutor.map (held back by the GIL),
  * concurrent.futures.ProcessPoolExecutor.map (the course's best).

This is the Python side of `ptool bench isprime --preset course`; bench/run.py
puts both side by side. Each timed run includes creating and shutting down
the executor, as the course's `with ...Executor() as executor:` does.

  python3 bench/course_isprime.py [--repeat N] [--method trial|mr]
                                  [--count N] [--number N] [--json]

Exit status: 0 when every number tested prime, 1 otherwise, 2 on bad usage.
Standard library only.
"""

import argparse
import concurrent.futures
import json
import math
import os
import platform
import statistics
import sys
import time

COURSE_NUMBER = 112272535095293
COURSE_COUNT = 100

# Sinclair's seven bases: a deterministic Miller-Rabin for every n < 2**64.
MR_BASES = (2, 325, 9375, 28178, 450775, 9780504, 1795265022)
SMALL_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def is_prime_trial(n):
    """The course's trial division, as written there."""
    if n < 2:
        return False
    if n == 2:
        return True
    if n % 2 == 0:
        return False
    for i in range(3, math.isqrt(n) + 1, 2):
        if n % i == 0:
            return False
    return True


def _is_strong_probable_prime(n, d, s, a):
    """One Miller-Rabin round: n - 1 = d * 2**s with d odd."""
    x = pow(a, d, n)
    if x == 1 or x == n - 1:
        return True
    for _ in range(s - 1):
        x = x * x % n
        if x == n - 1:
            return True
    return False


def is_prime_mr(n):
    """Deterministic Miller-Rabin, correct for all n < 2**64."""
    if n < 2:
        return False
    for p in SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in MR_BASES:
        a %= n
        if a == 0:  # a multiple of n says nothing; n is odd and > 37 here
            continue
        if not _is_strong_probable_prime(n, d, s, a):
            return False
    return True


METHODS = {"trial": is_prime_trial, "mr": is_prime_mr}


def run_loop(func, numbers, workers):
    return [func(n) for n in numbers]


def run_threads(func, numbers, workers):
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as executor:
        return list(executor.map(func, numbers))


def run_processes(func, numbers, workers):
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as executor:
        return list(executor.map(func, numbers))


WAYS = (
    ("python loop", run_loop),
    ("python ThreadPoolExecutor", run_threads),
    ("python ProcessPoolExecutor", run_processes),
)


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def time_way(run, func, numbers, workers, repeat):
    """Time `repeat` runs; return (times, all_prime)."""
    times = []
    all_prime = True
    for _ in range(repeat):
        t0 = time.perf_counter()
        results = run(func, numbers, workers)
        times.append(time.perf_counter() - t0)
        all_prime = all_prime and len(results) == len(numbers) and all(results)
    return times, all_prime


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Time the course's is_prime workload: loop, threads, processes.")
    p.add_argument("--repeat", type=int, default=3,
                   help="timed runs per way; the median counts (default: 3)")
    p.add_argument("--method", choices=sorted(METHODS), default="trial",
                   help="trial = the course's trial division (default); "
                        "mr = deterministic Miller-Rabin")
    p.add_argument("--count", type=int, default=COURSE_COUNT,
                   help=f"how many copies of the number (default: {COURSE_COUNT})")
    p.add_argument("--number", type=int, default=COURSE_NUMBER,
                   help=f"the number to test (default: {COURSE_NUMBER})")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of a table")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.count < 1:
        p.error("--count must be at least 1")
    if not 0 <= args.number < 2**64:
        p.error("--number must be an unsigned 64-bit integer")
    return args


def fmt_seconds(s):
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def print_table(report):
    print(f"Python {report['python']}, method {report['method']}, "
          f"{report['count']} x {report['number']}, {report['workers']} workers, "
          f"median of {report['repeat']}")
    for row in report["rows"]:
        times = ", ".join(fmt_seconds(t) for t in row["times"])
        print(f"  {row['name']:<28} {fmt_seconds(row['median_seconds']):>10}   [{times}]")
    if not report["all_prime"]:
        print("  NOT all results were True: the number is not prime "
              "(or a method is wrong)")


def main(argv=None):
    args = parse_args(argv)
    func = METHODS[args.method]
    numbers = [args.number] * args.count
    workers = usable_cpus()

    rows = []
    all_prime = True
    for name, run in WAYS:
        times, ok = time_way(run, func, numbers, workers, args.repeat)
        all_prime = all_prime and ok
        rows.append({"name": name, "median_seconds": statistics.median(times),
                     "times": times, "all_prime": ok})

    report = {
        "python": platform.python_version(),
        "method": args.method,
        "number": args.number,
        "count": args.count,
        "workers": workers,
        "repeat": args.repeat,
        "all_prime": all_prime,
        "rows": rows,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report)
    return 0 if all_prime else 1


if __name__ == "__main__":
    sys.exit(main())
