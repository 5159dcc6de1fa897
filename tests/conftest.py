"""Shared fixtures: each committed stack evaluated once under the recording mocks."""

from __future__ import annotations

import pytest

from tests import pinned_inputs
from tests.harness import STACKS, Run, run_program


def pytest_sessionstart(session: pytest.Session) -> None:
    """Before the first test: every pinned chart and file is here (fetched once when online), or
    the session stops with one line saying what is missing and how to provide it."""
    problem = pinned_inputs.problem()
    if problem:
        # Printed once as "ERROR: <problem>", exit code 4 (pytest's usage error), no test run.
        raise pytest.UsageError(problem)


@pytest.fixture(scope="session")
def runs() -> dict[str, Run]:
    """The three committed stacks, each evaluated once with its committed config."""
    return {stack: run_program(stack) for stack in STACKS}


@pytest.fixture(params=STACKS)
def stack_run(request: pytest.FixtureRequest, runs: dict[str, Run]) -> Run:
    return runs[request.param]
