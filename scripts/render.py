"""Render every Helm release of each stack with Helm's own engine, validate it, and write it out.

Usage: python scripts/render.py [--stack STACK ...] [--out DIR] [--offline]
For each stack (default: dev prod local) prints one line per release, e.g.
`linkerd-control-plane 2026.8.3: 36 objects, valid`, then every problem, and writes the rendered
manifests to DIR/<stack>/<release>/ (default build/render). Exits 1 on any problem. Charts come
from $CHART_CACHE (default ../shared/charts), pulled into it when online; --offline (or CI set)
makes a missing chart an error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import render_check  # noqa: E402
from tests.chart_cache import ChartMissing  # noqa: E402
from tests.crd_schemas import ManifestMissing  # noqa: E402
from tests.harness import STACKS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", choices=STACKS, help="repeatable")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "render")
    parser.add_argument("--offline", action="store_true", help="never pull a missing chart")
    args = parser.parse_args(argv)
    if args.offline:
        os.environ["CHARTS_OFFLINE"] = "1"
    failed = False
    start = time.perf_counter()
    for stack in args.stack or STACKS:
        try:
            failed |= report(stack, args.out)
        except (ChartMissing, ManifestMissing) as missing:
            print(f"stack {stack}: {missing}")
            failed = True
    print(f"{len(args.stack or STACKS)} stack(s) in {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


def report(stack: str, out: Path) -> bool:
    """Print the stack's report; True if anything is wrong."""
    sr = render_check.render_stack(stack)
    problems = render_check.check(sr)
    folder = render_check.write(sr, out)
    versions = ", ".join(sr.versions)
    print(
        f"stack {stack}: rendered for Kubernetes {sr.kube}, validated against {versions} "
        f"-> {folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder}"
    )
    for line in render_check.summary(sr, problems):
        print(f"  {line}")
    for release in sr.declared:
        for stand_in in release.stand_ins:
            print(f"  {release.name}: {stand_in}")
    listed = [p for found in problems.values() for p in found]
    for problem in listed:
        print(f"  - {problem}")
    return bool(listed)


if __name__ == "__main__":
    sys.exit(main())
