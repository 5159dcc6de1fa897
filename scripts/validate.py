"""Validate offline every Kubernetes object each stack would create, and the plain manifests.

Usage: python scripts/validate.py [-h] [STACK ...]   (default: every Pulumi.<name>.yaml here)
Runs the program under mocks on the project's own stack files and services/, says what it fills
in that you must set before `pulumi up`, and checks every object against the official schema of
the stack's Kubernetes version and the CRDs the platform installs. A config `pulumi up` would
refuse is listed as `make check` lists it. Exits 1 on any problem.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stacks.components.pinned import PinnedFileError
from tests import offline
from tests.chart_cache import ChartMissing
from tests.render_check import validate_stack
from tests.schema_check import target_versions, validate_manifest_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", metavar="STACK", help=offline.STACK_HELP)
    args = parser.parse_args(argv)
    offline.use_project()
    failed = False
    for stack in offline.stacks(args.stacks):
        if not offline.ready(stack):
            failed = True
            continue
        try:
            count, found = validate_stack(stack)
        except (ChartMissing, PinnedFileError) as missing:
            print(f"stack {stack}: {missing}")
            failed = True
            continue
        versions = ", ".join(target_versions(stack))
        print(
            f"stack {stack}: {count} objects against Kubernetes {versions}: {len(found)} problem(s)"
        )
        for problem in found:
            print(f"  - {problem}")
        failed |= bool(found)
    count, found = validate_manifest_files()
    print(f"manifests/service: {count} objects: {len(found)} problem(s)")
    for problem in found:
        print(f"  - {problem}")
    return 1 if failed or found else 0


if __name__ == "__main__":
    sys.exit(main())
