"""A fake of the platform's Prometheus HTTP API for canaryctl's tests: recorded series, real answers.

It answers /api/v1/query and /api/v1/query_range in the exact JSON of Prometheus's API (prometheus
web/api/v1/api.go Response and QueryData, json_codec.go, v3.14.0): vectors as {"metric", "value":
[t, "v"]}, matrices as {"metric", "values": [[t, "v"], ...]}, values as strings, errors as
{"status": "error", "errorType": "bad_data", "error": ...} with 400. canaryctl only sends plain
selectors; each is evaluated as Prometheus does (promql/engine.go): the newest sample at or before
the evaluation time and no older than the 5 minute lookback, the name kept in "metric", a range
query's steps from start to end inclusive. tests/test_canaryctl_prometheus.py checks these answers
against promtool's evaluation of the same series.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import promql_parser

LOOKBACK_SECONDS = 300.0
Labels = tuple[tuple[str, str], ...]


@dataclass
class FakePrometheus:
    series: dict[Labels, list[tuple[float, float]]] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    """Every expression asked, in order."""
    broken: str | None = None
    """Answer every query with this error (as Prometheus would for a bad query)."""

    def record(self, labels: dict[str, str], at: float, value: float) -> None:
        """One scraped sample: `labels` with __name__ (samples of a series arrive in order)."""
        points = self.series.setdefault(tuple(sorted(labels.items())), [])
        if points and points[-1][0] > at:
            bisect.insort(points, (at, value))
        else:
            points.append((at, value))

    def stale(self, labels: dict[str, str], at: float) -> None:
        """The series disappears at `at` (its pod is gone): Prometheus writes a stale marker."""
        self.record(labels, at, STALE)

    def record_all(self, labels: dict[str, str], points: Iterable[tuple[float, float]]) -> None:
        for at, value in points:
            self.record(labels, at, value)

    def answer(self, path: str, params: dict[str, list[str]], now: float) -> tuple[int, bytes]:
        """(HTTP status, body) for GET <path> with these query parameters."""
        expr = params.get("query", [""])[0]
        self.queries.append(expr)
        if self.broken is not None:
            return _error(self.broken)
        try:
            matchers = _selector(expr)
        except ValueError as error:
            return _error(f'invalid parameter "query": {error}')
        if path == "api/v1/query":
            at = float(params.get("time", [now])[0])
            result = [
                {"metric": dict(labels), "value": [_time(at), _text(value)]}
                for labels, value in self._at(matchers, at)
            ]
            return _ok("vector", result)
        if path == "api/v1/query_range":
            start, end = float(params["start"][0]), float(params["end"][0])
            step = float(params["step"][0])
            if (end - start) / step > 11000:
                return _error(
                    "exceeded maximum resolution of 11,000 points per timeseries. Try "
                    "decreasing the query resolution (?step=XX)"
                )
            steps = [start + i * step for i in range(math.floor((end - start) / step) + 1)]
            found: dict[Labels, list[list[Any]]] = {}
            selected = self._select(matchers)
            for at in steps:
                for labels, value in _newest(selected, at):
                    found.setdefault(labels, []).append([_time(at), _text(value)])
            result = [{"metric": dict(k), "values": v} for k, v in sorted(found.items())]
            return _ok("matrix", result)
        return 404, b"404 page not found\n"

    def _at(self, matchers: list[tuple[str, str, str]], at: float) -> list[tuple[Labels, float]]:
        return _newest(self._select(matchers), at)

    def _select(
        self, matchers: list[tuple[str, str, str]]
    ) -> list[tuple[Labels, list[tuple[float, float]]]]:
        return [
            (labels, points)
            for labels, points in sorted(self.series.items())
            if all(_matches(dict(labels).get(n, ""), op, v) for n, op, v in matchers)
        ]


def _newest(
    selected: list[tuple[Labels, list[tuple[float, float]]]], at: float
) -> list[tuple[Labels, float]]:
    """Each selected series' sample at `at`: its newest within the lookback, unless stale."""
    found = []
    for labels, points in selected:
        newest = bisect.bisect_right(points, at, key=lambda p: p[0]) - 1
        if newest < 0 or points[newest][0] <= at - LOOKBACK_SECONDS:
            continue
        # A stale marker ends the series at once (a target gone, a series no longer exposed).
        if points[newest][1] is not STALE:
            found.append((labels, points[newest][1]))
    return found


class _Stale(float):
    """Prometheus's stale marker: written when a target or series disappears (scrape.go)."""


STALE = _Stale("nan")


def _selector(expr: str) -> list[tuple[str, str, str]]:
    node = promql_parser.parse(expr)
    if not isinstance(node, promql_parser.VectorSelector) or node.offset or node.at:
        raise ValueError(f"the fake answers plain selectors only, not {expr!r}")
    matchers = [(m.name, str(m.op).rsplit(".", 1)[-1], m.value) for m in node.matchers.matchers]
    if node.name:
        matchers.append(("__name__", "Equal", str(node.name)))
    return matchers


def _matches(actual: str, op: str, wanted: str) -> bool:
    if op == "Equal":
        return actual == wanted
    if op == "NotEqual":
        return actual != wanted
    full = re.fullmatch(wanted, actual) is not None
    return full if op == "Re" else not full


def _time(at: float) -> float | int:
    # Prometheus writes Unix seconds with at most millisecond precision.
    rounded = round(at, 3)
    return int(rounded) if rounded == int(rounded) else rounded


def _text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value) if value != int(value) else str(int(value))


def _ok(kind: str, result: list[dict[str, Any]]) -> tuple[int, bytes]:
    body = {"status": "success", "data": {"resultType": kind, "result": result}}
    return 200, json.dumps(body).encode()


def _error(message: str) -> tuple[int, bytes]:
    body = {"status": "error", "errorType": "bad_data", "error": message}
    return 400, json.dumps(body).encode()
