"""Shared fixtures: each committed stack evaluated once under the recording mocks."""

from __future__ import annotations

import pytest

from tests.harness import STACKS, Run, run_program


@pytest.fixture(scope="session")
def runs() -> dict[str, Run]:
    """The three committed stacks, each evaluated once with its committed config."""
    return {stack: run_program(stack) for stack in STACKS}


@pytest.fixture(params=STACKS)
def stack_run(request: pytest.FixtureRequest, runs: dict[str, Run]) -> Run:
    return runs[request.param]
