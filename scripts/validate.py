"""Validate offline every Kubernetes object each stack would create, and the plain manifests.

Usage: python scripts/validate.py [STACK ...]   (default: dev prod local)
Prints what was checked and every problem; exits 1 if there is any.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.render_check import validate_stack
from tests.schema_check import target_versions, validate_manifest_files


def main(stacks: list[str]) -> int:
    failed = False
    for stack in stacks or ["dev", "prod", "local"]:
        count, found = validate_stack(stack)
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
    sys.exit(main(sys.argv[1:]))
