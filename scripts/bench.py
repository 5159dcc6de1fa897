"""Benchmark: evaluate the whole program under mocks for each stack; print resources and seconds.

Usage: python scripts/bench.py [--runs N]. Each stack runs in a fresh interpreter so import
cost is counted the way `pulumi up` pays it; the figure is the median of N runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 2.0

_ONE_RUN = """
import json, sys, time
start = time.perf_counter()
from tests.harness import run_program
run = run_program(sys.argv[1])
print(json.dumps({"resources": len(run.resources), "seconds": time.perf_counter() - start}))
"""


def measure(stack: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", _ONE_RUN, stack],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per stack (default 5)")
    parser.add_argument("stacks", nargs="*", default=["dev", "prod", "local"])
    options = parser.parse_args()
    slow = []
    print(
        f"{'stack':<8}{'resources':>10}{'median s':>10}{'max s':>8}   (target <= {TARGET_SECONDS} s)"
    )
    for stack in options.stacks:
        samples = [measure(stack) for _ in range(options.runs)]
        seconds = [s["seconds"] for s in samples]
        median = statistics.median(seconds)
        print(f"{stack:<8}{int(samples[0]['resources']):>10}{median:>10.2f}{max(seconds):>8.2f}")
        if median > TARGET_SECONDS:
            slow.append(stack)
    if slow:
        print(f"over target: {', '.join(slow)}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
