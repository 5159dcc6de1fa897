"""Render every Helm release of each stack with Helm's own engine, validate it, and write it out.

Usage: python scripts/render.py [-h] [--stack STACK ...] [--out DIR] [--inert] [--offline]
For each stack (default: every Pulumi.<name>.yaml of the project the command runs in, with its
services/; a config `pulumi up` would refuse is listed as `make check` lists it, and what the
run fills in that you must set before `pulumi up` is said) prints one line per release, e.g.
`linkerd-control-plane 2026.8.3: 36 objects, valid`, then every problem, and writes the rendered
manifests to DIR/<stack>/<release>/ (default build/render). --inert also lists values that change
nothing a chart renders. Exits 1 on any problem or on an inert value tests/test_inert_values.py
does not know. Charts come from $CHART_CACHE (default ../shared/charts) or this machine's cache
(~/.cache/progressive-delivery/charts), pulled into that cache when online, every archive checked
against stacks/pins.py; --offline (or CI set) makes a missing chart an error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stacks.components.pinned import PinnedFileError  # noqa: E402
from tests import offline, render_check  # noqa: E402
from tests.chart_cache import ChartMissing  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stack", action="append", default=[], help=f"{offline.STACK_HELP}; repeatable"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "render")
    parser.add_argument("--inert", action="store_true", help="also list inert values (slower)")
    parser.add_argument("--offline", action="store_true", help="never pull a missing chart")
    args = parser.parse_args(argv)
    if args.offline:
        os.environ["CHARTS_OFFLINE"] = "1"
    offline.use_project()
    failed = False
    start = time.perf_counter()
    chosen = offline.stacks(args.stack)
    for stack in chosen:
        if not offline.ready(stack):
            failed = True
            continue
        try:
            failed |= report(stack, args.out, args.inert)
        except (ChartMissing, PinnedFileError) as missing:
            print(f"stack {stack}: {missing}")
            failed = True
    print(f"{len(chosen)} stack(s) in {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


def report(stack: str, out: Path, inert: bool) -> bool:
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
    return bool(listed) | (inert and report_inert(sr))


def report_inert(sr: render_check.StackRender) -> bool:
    """Print the stack's inert values; True if one is not known."""
    from tests.inert_values import inert_values
    from tests.test_inert_values import KNOWN_INERT

    found = inert_values(sr.declared, sr.kube)
    print(f"  inert values (the release renders the same without them): {len(found)}")
    new = False
    for value in found:
        reason = KNOWN_INERT.get((value.release, value.path))
        new |= reason is None
        print(f"    {value}: {reason or 'NEW: remove it, or say why it stays (KNOWN_INERT)'}")
    return new


if __name__ == "__main__":
    sys.exit(main())
