"""A release's analysis, step by step: each step's traffic, each check's value and verdict, the outcome.

Built from points in time, each with the step the release was at and the checks' values as Flagger
had recorded them (flagger_canary_metric_analysis): `wait` takes one point per poll, `history`
one per scrape from Prometheus's range queries. Flagger keeps a check's last value until it
evaluates the check again, so values from before this release's first analysis are left out:
a point counts once a value differs from what was recorded when the release started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from canaryctl.canary import Check
from canaryctl.checks import FAIL, NO_DATA, PASS, Reading, bound, judge, number
from canaryctl.timefmt import clock


@dataclass(frozen=True)
class Point:
    at: float
    """Unix seconds."""
    step: str
    """Where the release was: "10%", "iteration 3", ..."""
    values: Mapping[str, float]
    no_data: str | None = None
    """A check whose last query found nothing, from Flagger's event (wait)."""


@dataclass(frozen=True)
class Step:
    label: str
    started_at: float
    ended_at: float
    readings: tuple[Reading, ...]
    """The checks as last measured in this step; empty when none was measured in it."""
    failed_checks: int | None
    """Failed checks Flagger counted during this step, when known."""


@dataclass
class Report:
    canary: str
    outcome: str
    """promoted, rolled back, in progress, timed out, ..."""
    checks: tuple[Check, ...]
    started_at: float | None
    ended_at: float | None
    version: str = ""
    planned_seconds: int | None = None
    failed_checks: int | None = None
    threshold: int | None = None
    reason: str = ""
    steps: list[Step] = field(default_factory=list)
    worst: tuple[Reading, ...] = ()
    """Each check's worst value measured in the release (lowest for a minimum, highest for a
    maximum) and whether it passed."""
    reached: str = ""
    """How far the release got: "50% (5 of 5 steps)", "10 of 10 iterations"."""

    @property
    def took_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at)


def analyse(
    checks: Sequence[Check],
    points: Sequence[Point],
    baseline: Mapping[str, float] | None,
    failures: Mapping[str, int] | None = None,
) -> tuple[list[Step], tuple[Reading, ...]]:
    """Steps and worst values from `points` (oldest first). `baseline`: the values recorded when
    the release started (None: all points are this release's). `failures`: failed checks Flagger
    counted per step, when known."""
    fresh = list(points)
    if baseline is not None:
        first = next((i for i, p in enumerate(points) if _changed(p.values, baseline)), None)
        fresh = list(points[first:]) if first is not None else []
    counted = {id(p) for p in fresh}
    steps: list[Step] = []
    for label, group in _segments(points):
        measured = [p for p in group if id(p) in counted]
        last = measured[-1] if measured else None
        readings = tuple(judge(checks, last.values, last.no_data)) if last else ()
        failed = None if failures is None else failures.get(label, 0)
        steps.append(Step(label, group[0].at, group[-1].at, readings, failed))
    return steps, _worst(checks, fresh)


def _segments(points: Sequence[Point]) -> list[tuple[str, list[Point]]]:
    found: list[tuple[str, list[Point]]] = []
    for point in points:
        if found and found[-1][0] == point.step:
            found[-1][1].append(point)
        else:
            found.append((point.step, [point]))
    return found


def _changed(values: Mapping[str, float], baseline: Mapping[str, float]) -> bool:
    return any(baseline.get(name) != value for name, value in values.items())


def _worst(checks: Sequence[Check], points: Sequence[Point]) -> tuple[Reading, ...]:
    """Per check, the worst value among points where Flagger evaluated it (earlier checks
    passing at that point), judged against its threshold."""
    worst: dict[str, float] = {}
    no_data: set[str] = set()
    for point in points:
        for reading in judge(checks, point.values, point.no_data):
            name, value = reading.check.name, reading.value
            if reading.state == NO_DATA:
                no_data.add(name)
            if reading.state not in (PASS, FAIL) or value is None:
                continue
            low = reading.check.minimum is not None
            if name not in worst or (value < worst[name] if low else value > worst[name]):
                worst[name] = value
    found = []
    for check in checks:
        value = worst.get(check.name)
        if value is None:
            state = NO_DATA if check.name in no_data else "-"
        else:
            state = PASS if check.passes(value) and check.name not in no_data else FAIL
        found.append(Reading(check, value, state))
    return tuple(found)


def render_text(report: Report) -> str:
    """The report as lines for a person."""
    took = report.took_seconds
    planned = f" (planned ~{clock(report.planned_seconds)})" if report.planned_seconds else ""
    head = f"Release report: {report.canary}"
    head += f" {report.version}" if report.version else ""
    head += f": {report.outcome}"
    head += f" after {clock(took)}{planned}" if took is not None else ""
    lines = [head]
    if report.started_at is not None:
        lines.append(
            f"  started {_stamp(report.started_at)}"
            + (f", ended {_stamp(report.ended_at)}" if report.ended_at is not None else "")
        )
    if report.reached:
        lines.append(f"  reached {report.reached}")
    if report.failed_checks is not None and report.threshold is not None:
        lines.append(f"  failed checks {report.failed_checks} of {report.threshold} allowed")
    if report.reason:
        lines.append(f"  why: {report.reason}")
    if report.steps:
        names = [c.name for c in report.checks]
        header = ["step", "from", *names, "failed"]
        rows = []
        start = report.started_at if report.started_at is not None else report.steps[0].started_at
        for step in report.steps:
            by_name = {r.check.name: r for r in step.readings}
            cells = [_cell(by_name.get(name)) for name in names]
            failed = "-" if step.failed_checks is None else str(step.failed_checks)
            rows.append([step.label, clock(step.started_at - start), *cells, failed])
        lines.append("  thresholds: " + ", ".join(f"{c.name} {bound(c)}" for c in report.checks))
        lines += ["  " + line for line in _table(header, rows)]
    if report.worst:
        lines.append("  worst: " + ", ".join(f"{r.check.name} {_cell(r)}" for r in report.worst))
    return "\n".join(lines)


def render_json(report: Report) -> dict[str, Any]:
    """The report for CI (`--output json`)."""

    def checks(readings: Sequence[Reading]) -> dict[str, Any]:
        return {r.check.name: r.as_json() for r in readings}

    return {
        "canary": report.canary,
        "version": report.version or None,
        "outcome": report.outcome,
        "startedAt": _iso(report.started_at),
        "endedAt": _iso(report.ended_at),
        "durationSeconds": None if report.took_seconds is None else round(report.took_seconds),
        "plannedSeconds": report.planned_seconds,
        "failedChecks": report.failed_checks,
        "threshold": report.threshold,
        "reason": report.reason or None,
        "reached": report.reached or None,
        "checks": [
            {"name": c.name, "min": c.minimum, "max": c.maximum, "window": f"{c.window_seconds}s"}
            for c in report.checks
        ],
        "steps": [
            {
                "step": s.label,
                "startedAt": _iso(s.started_at),
                "endedAt": _iso(s.ended_at),
                "checks": checks(s.readings),
                "failedChecks": s.failed_checks,
            }
            for s in report.steps
        ],
        "worst": checks(report.worst),
    }


def _cell(reading: Reading | None) -> str:
    if reading is None or (reading.value is None and reading.state in ("-", "")):
        return "-"
    if reading.value is None:
        return reading.state
    return f"{number(reading.check, reading.value)} {reading.state}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
