"""Benchmark: how long `make test`'s pytest takes here, median of N runs in fresh processes.

Usage: python scripts/bench_tests.py [--runs N] [-- PYTEST_ARGS ...]. Prints each run's wall
seconds and test count, the machine's cores and load average, then the median against the
target (60 s on 2 cores, issue 17); exits 1 when the median is over it. Not a timed test: run it
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


def one_run(extra: list[str]) -> tuple[float, int, int]:
    """(wall seconds, tests passed, exit code) of one `python -m pytest` in the checkout."""
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
    return seconds, int(found[-1]) if found else 0, result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    options = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    seconds = []
    for index in range(options.runs):
        wall, passed, code = one_run(options.pytest_args)
        print(f"run {index + 1}: {wall:.1f} s, {passed} passed, exit {code}")
        if code != 0:
            print("FAIL the suite did not pass: fix it before timing it")
            return 1
        seconds.append(wall)
    median = statistics.median(seconds)
    print(
        f"median {median:.1f} s (target <= {TARGET_SECONDS:.0f} s); load average after: "
        f"{os.getloadavg()[0]:.2f}"
    )
    return 0 if median <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
