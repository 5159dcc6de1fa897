"""Benchmark: evaluate the whole program under mocks for each stack; print resources and seconds.

Usage: python scripts/bench.py [--runs N] [--services N] [STACK ...]. Each stack runs in a fresh
interpreter so import cost is counted the way `pulumi up` pays it; the figure is the median of N
runs. Each stack is measured twice: with its committed services, then with N declared services
(default 50: podinfo plus generated ones of every strategy, spread over 10 namespaces). Both
must stay under the target, and the longest chain of dependent resources (what the engine must
create one after another) must not grow with the number of services.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 2.0
NAMESPACES = 10

_ONE_RUN = """
import json, sys, time
start = time.perf_counter()
from tests.harness import run_program
overrides = json.loads(sys.argv[2])
run = run_program(sys.argv[1], overrides)
seconds = time.perf_counter() - start
print(json.dumps({
    "resources": len(run.resources),
    "services": len(run.outputs["services"]),
    "chain": run.longest_chain(),
    "seconds": seconds,
}))
"""

# One release setting per strategy, applied to podinfo's declaration in turn.
_STRATEGIES: list[dict[str, Any]] = [
    {"strategy": "canary", "stepWeight": 20, "maxWeight": 60},
    {"strategy": "abTesting", "iterations": 5, "match": {"header": "x-canary", "value": "insider"}},
    {"strategy": "blueGreen", "iterations": 5, "primaryScalerReplicas": {"min": 4}},
]


def declare(directory: Path, count: int) -> dict[str, Any]:
    """podinfo and count-1 services made from its declaration; the stack's `services` config."""
    podinfo = yaml.safe_load((ROOT / "services" / "podinfo.yaml").read_text())
    (directory / "podinfo.yaml").write_text(yaml.safe_dump(podinfo))
    entries: dict[str, Any] = {"podinfo": {"version": "6.14.1"}}
    for index in range(1, count):
        name = f"svc-{index:02d}"
        declaration = {
            **podinfo,
            "namespace": f"team-{index % NAMESPACES}",
            "release": _STRATEGIES[index % len(_STRATEGIES)],
        }
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(declaration))
        entries[name] = {"version": "6.14.1"}
    return entries


def measure(stack: str, overrides: dict[str, Any], services_dir: str | None) -> dict[str, float]:
    env = None
    if services_dir is not None:
        env = {**os.environ, "PROGRESSIVE_DELIVERY_SERVICES_DIR": services_dir}
    result = subprocess.run(
        [sys.executable, "-c", _ONE_RUN, stack, json.dumps(overrides)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def row(label: str, samples: list[dict[str, float]]) -> float:
    seconds = [s["seconds"] for s in samples]
    median = statistics.median(seconds)
    first = samples[0]
    print(
        f"{label:<10}{int(first['services']):>9}{int(first['resources']):>10}"
        f"{int(first['chain']):>7}{median:>10.2f}{max(seconds):>8.2f}"
    )
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per stack (default 5)")
    parser.add_argument(
        "--services", type=int, default=50, help="services in the second run (default 50)"
    )
    parser.add_argument("stacks", nargs="*", default=["dev", "prod", "local"])
    options = parser.parse_args()
    failed = []
    print(
        f"{'stack':<10}{'services':>9}{'resources':>10}{'chain':>7}{'median s':>10}{'max s':>8}"
        f"   (target <= {TARGET_SECONDS} s)"
    )
    with tempfile.TemporaryDirectory() as directory:
        many = declare(Path(directory), options.services)
        for stack in options.stacks:
            few = [measure(stack, {}, None) for _ in range(options.runs)]
            lots = [measure(stack, {"services": many}, directory) for _ in range(options.runs)]
            for label, samples in ((stack, few), (f"{stack}+{options.services}", lots)):
                if row(label, samples) > TARGET_SECONDS:
                    failed.append(f"{label}: median over {TARGET_SECONDS} s")
            if lots[0]["chain"] > few[0]["chain"]:
                failed.append(
                    f"{stack}: the longest chain grew from {few[0]['chain']} to {lots[0]['chain']}"
                    f" resources with {options.services} services"
                )
    for failure in failed:
        print(f"FAIL {failure}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
