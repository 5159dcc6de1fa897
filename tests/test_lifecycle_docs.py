"""docs/lifecycle.md: every test it names exists, and every row of its tables names one; and no
document tells the user to run a command that starts a release by accident."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "lifecycle.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCED = re.compile(r"^[ \t]*```.*?^[ \t]*```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`]+)`")
ROLLOUT_RESTART = re.compile(r"rollout\s+restart")


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


def commands_in(text: str) -> list[str]:
    """What a document gives the user to run: fenced blocks and inline code spans (which may wrap
    onto the next line)."""
    fenced = FENCED.findall(text)
    paragraphs = re.split(r"\n[ \t]*\n", FENCED.sub("", text))
    return fenced + [span for p in paragraphs for span in INLINE.findall(p)]


def test_no_document_tells_the_user_to_rollout_restart() -> None:
    """`kubectl rollout restart` of a Flagger target changes its pod template: Flagger
    (v1.44.0 pkg/canary/deployment_controller.go HasTargetChanged) starts a release. Every
    procedure restarts the mesh with `canaryctl restart-mesh`, which spares the targets."""
    found = []
    counted = 0
    for path in DOCS:
        commands = commands_in(path.read_text())
        counted += len(commands)
        found += [
            f"{path.relative_to(ROOT)}: {' '.join(c.split())}"
            for c in commands
            if ROLLOUT_RESTART.search(c)
        ]
    assert counted > 500, "no commands found: the documents are not read"
    assert found == [], f"use `canaryctl restart-mesh` instead: {found}"


def test_commands_are_found_inline_wrapped_and_fenced() -> None:
    text = (
        "Run `kubectl -n x rollout\n  restart deploy` or\n   ```\n   kubectl rollout restart\n"
        "   ```\n\nthen `a` and `b`.\n"
    )
    found = [bool(ROLLOUT_RESTART.search(c)) for c in commands_in(text)]
    assert found == [True, True, False, False]
