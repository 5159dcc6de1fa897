"""Prometheus's own engine in tests: `promtool test rules` and `promtool check rules`.

Every query the platform ships (MetricTemplates, alert rules) is evaluated here by Prometheus's
real PromQL engine on synthetic series, not by a re-implementation. `promtool` comes from
Debian's `prometheus` package (`apt-get install -y --no-install-recommends prometheus`);
`.ci/run` installs it. Without it these tests fail with that one line, unless
`PROMTOOL_OPTIONAL=1` is set, when they are skipped (never in CI).

Debian bookworm's promtool is Prometheus 2.42; the platform runs Prometheus 3 (chart 29.27.0).
One difference matters for synthetic series: Prometheus 3 selects a range `[t-w, t]` left-open
(a sample exactly at t-w is left out), 2.x closed. Series in these tests are built so that the
verdicts hold under both: thresholds are not placed on the one-sample edge.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

INSTALL_HINT = "apt-get install -y --no-install-recommends prometheus"


def promtool() -> str:
    """The promtool binary's path; fails (or skips when PROMTOOL_OPTIONAL=1) when absent."""
    found = shutil.which("promtool")
    if found:
        return found
    message = f"promtool is not installed: {INSTALL_HINT} (Debian's prometheus package)"
    if os.environ.get("PROMTOOL_OPTIONAL") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # promtool writes each failed case to stderr
        text=True,
        timeout=120,
        check=False,
    )


def check_rules(groups: dict[str, Any]) -> None:
    """`promtool check rules` on one rule file ({"groups": [...]}); fails with its output."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yml"
        path.write_text(yaml.safe_dump(groups, sort_keys=False))
        result = _run("check", "rules", str(path), cwd=Path(folder))
        assert result.returncode == 0, f"promtool check rules:\n{result.stdout}"


def run_rule_tests(
    groups: dict[str, Any] | None,
    tests: list[dict[str, Any]],
    evaluation_interval: str = "10s",
) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` with `groups` as the one rule file and `tests` as its cases.

    Returns promtool's result; callers assert on `returncode` (0: every case held) and show
    `stdout` (stderr folded in), which names each case that did not with what it got.
    """
    with tempfile.TemporaryDirectory() as folder:
        rule_files = []
        if groups is not None:
            (Path(folder) / "rules.yml").write_text(yaml.safe_dump(groups, sort_keys=False))
            rule_files = ["rules.yml"]
        spec = {
            "rule_files": rule_files,
            "evaluation_interval": evaluation_interval,
            "tests": tests,
        }
        (Path(folder) / "tests.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
        return _run("test", "rules", "tests.yml", cwd=Path(folder))


def assert_rules_hold(
    groups: dict[str, Any] | None, tests: list[dict[str, Any]], evaluation_interval: str = "10s"
) -> None:
    """Every case in `tests` holds for `groups` under Prometheus's engine."""
    result = run_rule_tests(groups, tests, evaluation_interval)
    assert result.returncode == 0, f"promtool test rules:\n{result.stdout}"


def holds(expr: str, series: list[dict[str, str]], eval_time: str, interval: str = "10s") -> bool:
    """Whether `expr` returns at least one sample at `eval_time` on `series`.

    A comparison without `bool` drops what fails it, and NaN compares false: `(q) >= 99` holds
    exactly when Flagger would pass a check of `q` with min 99 (an empty or NaN result fails it,
    flagger v1.44.0 pkg/metrics/providers/prometheus.go).
    """
    # count() of an empty vector is empty, `or vector(0)` makes it 0: the answer is 1 or 0.
    case = {
        "interval": interval,
        "input_series": series,
        "promql_expr_test": [
            {
                "expr": f"count(({expr})) > bool 0 or vector(0)",
                "eval_time": eval_time,
                "exp_samples": [{"labels": "{}", "value": 1}],
            }
        ],
    }
    result = run_rule_tests(None, [case])
    if result.returncode == 0:
        return True
    assert "got:" in result.stdout, f"promtool could not evaluate {expr!r}:\n{result.stdout}"
    return False


def measure(
    expr: str, series: list[dict[str, str]], eval_seconds: list[float]
) -> list[float | None]:
    """The value of `expr` (one sample, or nothing: None) at each of `eval_seconds`, from one
    promtool run. promtool prints only what differs from the expectation, so each time expects
    an impossible value and its "got:" line is read (Go's shortest exact form, 1.9955E+02)."""
    return measure_cases(expr, [(series, eval_seconds)])[0]


def measure_cases(
    expr: str, cases: list[tuple[list[dict[str, str]], list[float]]]
) -> list[list[float | None]]:
    """measure() for several sets of series at once, in one promtool run (one test case each):
    case k expects the impossible value -(k + 1), which names it in promtool's report."""
    tests = [
        {
            "interval": "10s",
            "input_series": series,
            "promql_expr_test": [
                {
                    "expr": expr,
                    "eval_time": f"{round(t * 1000)}ms",
                    "exp_samples": [{"labels": "{}", "value": -(k + 1)}],
                }
                for t in eval_seconds
            ],
        }
        for k, (series, eval_seconds) in enumerate(cases)
    ]
    result = run_rule_tests(None, tests)
    got = re.findall(r"time: (\S+),\s+exp: \{\} (\S+)\n\s+got: (.*)", result.stdout)
    expected = sum(len(times) for _, times in cases)
    assert len(got) == expected, f"promtool could not evaluate {expr!r}:\n{result.stdout}"
    found: dict[tuple[int, float], float | None] = {}
    for when, case, value in got:
        number = re.fullmatch(r"\{\} (\S+)", value.strip())
        key = (round(-float(case)) - 1, _go_seconds(when))
        found[key] = float(number[1]) if number else None
    return [
        [found[(k, round(t * 1000) / 1000)] for t in eval_seconds]
        for k, (_, eval_seconds) in enumerate(cases)
    ]


def _go_seconds(text: str) -> float:
    """Seconds of a duration as Prometheus's model.Duration prints it: 1m1s, 41s500ms."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total = sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|[smhdwy])", text))
    return round(total, 3)
