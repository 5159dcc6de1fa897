"""`history`: a service's past releases, reconstructed from what the platform's Prometheus retains.

Flagger keeps no record of a release once the next one starts, and Kubernetes keeps events for an
hour; Prometheus keeps the series for its retention (prometheusRetention: 24h in dev, 15d in
prod). A release is the time the canary's pods exist: Flagger scales the target Deployment up when
it notices a new revision and to zero when the release ends (scheduler.go checkCanaryStatus
ScaleFromZero; Finalising and rollback ScaleToZero), and Prometheus sees each pod's proxy
(process_start_time_seconds{deployment=<target>}, job linkerd-proxy) with the version the platform
labels it with (app_kubernetes_io_version). Its outcome is Flagger's counter that rose as it ended
(flagger_canary_successes_total or _failures_total, recorder.go IncSuccesses/IncFailures); its
steps and checks come from flagger_canary_weight and flagger_canary_metric_analysis, judged
against the thresholds recorded at the time (canary_check_threshold, stacks/services/analysis.py).

Two passes keep within Prometheus's 11,000 points per series: a coarse one over the whole span
finds the releases, a fine one (one sample per scrape) reads each. Only plain selectors are sent.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TextIO

from canaryctl.canary import Canary, Check
from canaryctl.checks import number as number_text
from canaryctl.errors import OK, CanaryctlError
from canaryctl.kube import Cluster
from canaryctl.prometheus import Prometheus, Series, range_step
from canaryctl.report import Point, Report, analyse, render_json, render_text
from canaryctl.timefmt import clock
from stacks.services.analysis import THRESHOLD_SERIES, VERSION_SERIES_LABEL

SCRAPE_SECONDS = 10.0
"""Prometheus's scrape interval (stacks/services/analysis.py SCRAPE_INTERVAL_SECONDS)."""
PROMOTED, ROLLED_BACK, IN_PROGRESS, UNKNOWN = (
    "promoted",
    "rolled back",
    "in progress",
    "ended, no outcome recorded",
)
_SINCE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def since_seconds(text: str) -> int:
    """7d, 24h, 90m, 2w -> seconds (argparse type)."""
    found = _SINCE.match(text)
    if found is None or int(found[1]) == 0:
        raise ValueError(text)
    return int(found[1]) * _UNITS[found[2]]


@dataclass(frozen=True)
class Found:
    """One release located by the coarse pass."""

    first: float
    """First coarse step with the canary's pods."""
    last: float
    """Last such step."""
    outcome: str
    step: float
    """The coarse pass's step: the release began up to one step before `first`."""


class History:
    """The queries of one Canary's past."""

    def __init__(self, prometheus: Prometheus, canary: Canary) -> None:
        self.prometheus = prometheus
        self.canary = canary
        ns, target = canary.namespace, canary.target
        self.pods = f'process_start_time_seconds{{namespace="{ns}", deployment="{target}"}}'
        self.successes = f'flagger_canary_successes_total{{namespace="{ns}", name="{target}"}}'
        self.failures = f'flagger_canary_failures_total{{namespace="{ns}", name="{target}"}}'
        self.weight = f'flagger_canary_weight{{namespace="{ns}", workload="{target}"}}'
        self.analysis = f'flagger_canary_metric_analysis{{namespace="{ns}", name="{target}"}}'
        self.status = f'flagger_canary_status{{namespace="{ns}", name="{target}"}}'
        self.thresholds = f'{THRESHOLD_SERIES}{{namespace="{ns}", name="{target}"}}'

    def find(self, start: datetime, end: datetime) -> list[Found]:
        """Every release with canary pods in [start, end], oldest first."""
        step = range_step(start, end, SCRAPE_SECONDS)
        grid = _grid(start, end, step)
        pods = _present(self.prometheus.query_range(self.pods, start, end, step), grid)
        rose_ok = _rises(self.prometheus.query_range(self.successes, start, end, step), grid)
        rose_failed = _rises(self.prometheus.query_range(self.failures, start, end, step), grid)
        found: list[Found] = []
        i = 0
        while i < len(grid):
            if not pods[i]:
                i += 1
                continue
            first = i
            while i + 1 < len(grid) and pods[i + 1]:
                i += 1
            last = i
            # The counter rises in the run that scales the canary to zero: at most a step later.
            after = range(first, min(len(grid), last + 3))
            if any(rose_failed[k] for k in after):
                outcome = ROLLED_BACK
            elif any(rose_ok[k] for k in after):
                outcome = PROMOTED
            else:
                outcome = IN_PROGRESS if last == len(grid) - 1 else UNKNOWN
            found.append(Found(grid[first], grid[last], outcome, step))
            i += 1
        return found

    def read(self, found: Found, number: int, now: datetime) -> Report:
        """One release in full, at one sample per scrape."""
        # From a minute before the pods could have appeared (Flagger's status turns 0 in the run
        # that scales them up) to five minutes after they were last seen.
        start = datetime.fromtimestamp(found.first - found.step - 60, UTC)
        end = min(now, datetime.fromtimestamp(found.last, UTC) + timedelta(minutes=5))
        step = range_step(start, end, SCRAPE_SECONDS)
        grid = _grid(start, end, step)
        ask = self.prometheus.query_range
        pods = ask(self.pods, start, end, step)
        present = _present(pods, grid)
        first_pod = next((i for i, here in enumerate(present) if here), None)
        began = grid[first_pod] if first_pod is not None else found.first
        if first_pod is not None:
            # Flagger's status is 0 from the run that noticed the revision (checkCanaryStatus).
            status = _values(ask(self.status, start, end, step))
            onset = first_pod
            while onset > 0 and status.get(grid[onset - 1]) == 0:
                onset -= 1
            began = grid[onset]
        if found.outcome in (PROMOTED, ROLLED_BACK):
            counter = self.successes if found.outcome == PROMOTED else self.failures
            rose = _rises(ask(counter, start, end, step), grid)
            ended: float | None = next(
                (t for t, up in zip(grid, rose, strict=True) if up and t >= began), found.last
            )
        else:
            ended = None if found.outcome == IN_PROGRESS else found.last
        window = [t for t in grid if t >= began and (ended is None or t <= ended)]
        weights = _values(ask(self.weight, start, end, step))
        checks = self._checks(ask(self.thresholds, start, end, step), window)
        points = _points(checks, _by_metric(ask(self.analysis, start, end, step)), weights, window)
        steps, worst = analyse(checks, points, None)
        c = self.canary
        reached = max((weights.get(t, 0) for t in window), default=0)
        if c.by_iterations:
            how_far = f"{len(points)} analysis run(s) recorded"
        else:
            planned = c.plan().weights
            passed = sum(1 for w in planned if w <= reached)
            how_far = f"{reached:g}% ({passed} of {len(planned)} steps)"
        return Report(
            canary=f"{c.key} release {number}",
            outcome=found.outcome,
            checks=checks,
            started_at=began,
            ended_at=ended,
            version=_version(pods, window),
            steps=steps,
            worst=worst,
            reached=how_far,
        )

    def _checks(self, recorded: list[Series], window: Sequence[float]) -> tuple[Check, ...]:
        """The Canary's checks with the thresholds Prometheus recorded during the release (the
        Canary's own where none was recorded)."""
        bounds: dict[tuple[str, str], float] = {}
        until = window[-1] if window else math.inf
        for series in recorded:
            during = [v for t, v in series.points if round(t, 3) <= until]
            if during:
                key = (series.labels.get("metric", ""), series.labels.get("bound", ""))
                bounds[key] = during[-1]
        return tuple(
            Check(
                c.name,
                bounds.get((c.name, "min"), c.minimum),
                bounds.get((c.name, "max"), c.maximum),
                c.window_seconds,
                c.unit,
            )
            for c in self.canary.checks
        )


def run(
    cluster: Cluster,
    namespace: str,
    name: str,
    number: int | None,
    since: int,
    output: str,
    out: TextIO,
) -> int:
    canary = Canary.from_object(cluster.get_canary(namespace, name))
    history = History(Prometheus(cluster), canary)
    now = datetime.now(UTC)
    start = now - timedelta(seconds=since)
    found = list(reversed(history.find(start, now)))  # newest first: release 1 is the last one
    span = _span(since)
    if number is not None:
        if not 1 <= number <= len(found):
            raise CanaryctlError(
                f"{canary.key} has {len(found)} release(s) in the last {span} that Prometheus "
                f"retains: pick --release 1 to {len(found)}, or look further back with --since"
                if found
                else f"no release of {canary.key} in the last {span} that Prometheus retains"
            )
        report = history.read(found[number - 1], number, now)
        if output == "json":
            out.write(json.dumps({"release": number, **render_json(report)}, indent=2) + "\n")
        else:
            out.write(render_text(report) + "\n")
        return OK
    reports = [history.read(f, n, now) for n, f in enumerate(found, start=1)]
    if output == "json":
        listed = [{"release": n, **render_json(r)} for n, r in enumerate(reports, start=1)]
        out.write(json.dumps(listed, indent=2) + "\n")
        return OK
    if not reports:
        out.write(
            f"No release of {canary.key} in the last {span} that Prometheus retains "
            "(prometheusRetention bounds how far back it goes).\n"
        )
        return OK
    out.write(
        f"Releases of {canary.key} in the last {span}, newest first (from Prometheus; each "
        "check's worst value against the threshold recorded then):\n"
    )
    out.write("\n".join(_list(canary, reports)) + "\n")
    out.write(
        f"`canaryctl history {canary.name} -n {canary.namespace} --release N` shows one in full.\n"
    )
    return OK


def _list(canary: Canary, reports: Sequence[Report]) -> list[str]:
    names = [c.name for c in canary.checks]
    header = [
        "#",
        "VERSION",
        "STARTED (UTC)",
        "TOOK",
        "OUTCOME",
        "REACHED",
        *(n.upper() for n in names),
    ]
    rows = []
    for number, r in enumerate(reports, start=1):
        worst = {reading.check.name: reading for reading in r.worst}
        cells = []
        for name in names:
            reading = worst.get(name)
            if reading is None or reading.value is None:
                cells.append(reading.state if reading is not None and reading.state != "-" else "-")
            else:
                cells.append(f"{number_text(reading.check, reading.value)} {reading.state}")
        started = (
            datetime.fromtimestamp(r.started_at, UTC).strftime("%Y-%m-%d %H:%M")
            if r.started_at is not None
            else "-"
        )
        took = clock(r.took_seconds) if r.took_seconds is not None else "-"
        rows.append([str(number), r.version or "-", started, took, r.outcome, r.reached, *cells])
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def _grid(start: datetime, end: datetime, step: float) -> list[float]:
    """The evaluation times of a range query [start, end] by `step`, as Prometheus takes them:
    from the start canaryctl sends (milliseconds), one step at a time."""
    first, last = round(start.timestamp(), 3), round(end.timestamp(), 3)
    count = math.floor((last - first) / step) + 1
    return [round(first + i * step, 3) for i in range(count)]


def _at_grid(series: Series, grid: Sequence[float]) -> dict[float, float]:
    return {round(t, 3): v for t, v in series.points}


def _present(found: list[Series], grid: Sequence[float]) -> list[bool]:
    times = set()
    for series in found:
        times |= set(_at_grid(series, grid))
    return [t in times for t in grid]


def _rises(found: list[Series], grid: Sequence[float]) -> list[bool]:
    """Whether a counter rose at each step, any of its series. Flagger creates a counter at its
    first increment and a restarted Flagger starts it again at its next one, so a series that
    appears with a new value rose too; the first step is the baseline."""
    rose = [False] * len(grid)
    for series in found:
        values = _at_grid(series, grid)
        last: float | None = None
        for i, t in enumerate(grid):
            value = values.get(t)
            if value is None:
                continue
            if i > 0 and value != last:
                rose[i] = True
            last = value
    return rose


def _values(found: list[Series]) -> dict[float, float]:
    merged: dict[float, float] = {}
    for series in found:
        merged.update({round(t, 3): v for t, v in series.points})
    return merged


def _by_metric(found: list[Series]) -> dict[str, dict[float, float]]:
    merged: dict[str, dict[float, float]] = {}
    for series in found:
        merged.setdefault(series.labels.get("metric", ""), {}).update(
            {round(t, 3): v for t, v in series.points}
        )
    return merged


def _points(
    checks: Sequence[Check],
    values: dict[str, dict[float, float]],
    weights: dict[float, float],
    window: Sequence[float],
) -> list[Point]:
    """A point for each sample where Flagger recorded new values (a run analysed), labelled with
    the weight before it: Flagger queries the window, then moves traffic in the same run. What
    the gauges held when the release began is the previous release's."""
    names = [c.name for c in checks]

    def snapshot(t: float) -> dict[str, float]:
        return {name: values[name][t] for name in names if t in values.get(name, {})}

    if not window:
        return []
    points: list[Point] = []
    before = snapshot(window[0])
    weight = weights.get(window[0])
    for t in window[1:]:
        now = snapshot(t)
        if now and now != before and weight is not None:
            points.append(Point(t, f"{weight:g}%", now))
        before = now or before
        weight = weights.get(t, weight)
    return points


def _version(pods: list[Series], window: Sequence[float]) -> str:
    """The version label of the canary pods seen last in the release."""
    last, version = -math.inf, ""
    inside = set(window)
    for series in pods:
        times = [round(t, 3) for t, _ in series.points if round(t, 3) in inside]
        if times and times[-1] >= last:
            last, version = times[-1], series.labels.get(VERSION_SERIES_LABEL, "")
    return version


def _span(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
