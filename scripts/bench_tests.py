"""Benchmark: how long `make test`'s pytest takes here, median of N runs in fresh processes.

Usage: python scripts/bench_tests.py [--runs N] [-- PYTEST_ARGS ...]. Prints each run's seconds
as pytest reports them (and the wall time with the interpreter's start-up) and its test count,
the machine's cores and load average, then the median of pytest's seconds against the target
(60 s on 2 cores, issue 17); exits 1 when the median is over it. Not a timed test: run it
on a quiet machine, as `make bench-tests`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 60.0
SUMMARY = re.compile(r"(\d+) passed")
PYTEST_SECONDS = re.compile(r" passed in ([\d.]+)s")


def one_run(extra: list[str]) -> tuple[float, float, int, int]:
    """(wall seconds, pytest's own seconds, tests passed, exit code) of one `python -m pytest`
    in the checkout."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    found = SUMMARY.findall(result.stdout)
    own = PYTEST_SECONDS.findall(result.stdout)
    passed = int(found[-1]) if found else 0
    return seconds, float(own[-1]) if own else seconds, passed, result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    options = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    walls, seconds = [], []
    for index in range(options.runs):
        wall, own, passed, code = one_run(options.pytest_args)
        print(f"run {index + 1}: pytest {own:.1f} s ({wall:.1f} s with start-up), {passed} passed")
        if code != 0:
            print(f"FAIL the suite did not pass (exit {code}): fix it before timing it")
            return 1
        walls.append(wall)
        seconds.append(own)
    median = statistics.median(seconds)
    print(
        f"median: pytest {median:.1f} s (target <= {TARGET_SECONDS:.0f} s), "
        f"{statistics.median(walls):.1f} s with start-up; load average after: "
        f"{os.getloadavg()[0]:.2f}"
    )
    return 0 if median <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
