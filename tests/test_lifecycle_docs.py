"""docs/lifecycle.md: every test it names exists, and every row of its tables names one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "lifecycle.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_test_named_in_the_lifecycle_reference_exists() -> None:
    named = REFERENCE.findall(DOC.read_text())
    assert len(named) > 40, "the reference names too few tests to pin its rows"
    missing = [
        f"{file}::{name}"
        for file, name in named
        if not (ROOT / file).exists() or name not in _functions_in(ROOT / file)
    ]
    assert missing == [], f"docs/lifecycle.md names tests that do not exist: {missing}"


def test_every_row_names_the_test_that_pins_it() -> None:
    rows = [
        line
        for line in DOC.read_text().splitlines()
        if line.startswith("| ")
        and not line.startswith(("| rule |", "| action |", "| key |"))
        and not line.startswith(("| stack |", "| case |", "| what changed |"))
    ]
    assert rows
    unpinned = [row for row in rows if not REFERENCE.search(row)]
    assert unpinned == [], f"rows without a test: {unpinned}"
