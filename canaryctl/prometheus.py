"""The platform's Prometheus, asked through the Kubernetes API server's service proxy.

No port-forward: canaryctl sends GET /api/v1/namespaces/monitoring/services/prometheus-server:80/
proxy/api/v1/query (or query_range) with the user's kubeconfig, which needs `get` on
`services/proxy` in `monitoring`. Answers are Prometheus's HTTP API JSON (prometheus
web/api/v1/api.go Response and QueryData, v3.14.0): {"status": "success", "data": {"resultType":
"vector" | "matrix", "result": [{"metric": {...}, "value": [t, "v"]} | {..., "values": [[t, "v"],
...]}]}}; values are strings ("NaN" and "+Inf" included), times Unix seconds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from canaryctl.errors import CanaryctlError
from canaryctl.kube import Cluster, ServiceRefused

# The telemetry layer's Prometheus: release "prometheus" in namespace "monitoring", whose chart
# serves it as Service prometheus-server on port 80 (stacks/telemetry/layer.py PROMETHEUS_URL).
NAMESPACE = "monitoring"
SERVICE = "prometheus-server:80"
# Prometheus refuses a range query of more points than this per series (api.go:688).
MAX_POINTS = 11000


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]
    """(Unix seconds, value), oldest first."""


class PrometheusError(CanaryctlError):
    """Prometheus could not be asked, or refused the query."""


class Prometheus:
    """Instant and range queries against the platform's Prometheus, through the API server."""

    def __init__(self, cluster: Cluster, namespace: str = NAMESPACE, service: str = SERVICE):
        self.cluster = cluster
        self.namespace = namespace
        self.service = service

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.service.split(':')[0]}"

    def query(self, expr: str, at: datetime | None = None) -> list[Sample]:
        params = [("query", expr)]
        if at is not None:
            params.append(("time", _unix(at)))
        data = self._get("api/v1/query", params)
        if data.get("resultType") != "vector":
            raise PrometheusError(f"Prometheus answered {data.get('resultType')} to {expr!r}")
        return [
            Sample(dict(item.get("metric") or {}), _value(item["value"][1]))
            for item in data.get("result") or []
        ]

    def query_range(
        self, expr: str, start: datetime, end: datetime, step_seconds: float
    ) -> list[Series]:
        params = [
            ("query", expr),
            ("start", _unix(start)),
            ("end", _unix(end)),
            ("step", f"{step_seconds:g}"),
        ]
        data = self._get("api/v1/query_range", params)
        if data.get("resultType") != "matrix":
            raise PrometheusError(f"Prometheus answered {data.get('resultType')} to {expr!r}")
        return [
            Series(
                dict(item.get("metric") or {}),
                tuple((float(t), _value(v)) for t, v in item.get("values") or ()),
            )
            for item in data.get("result") or []
        ]

    def _get(self, path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        try:
            body = self.cluster.get_from_service(
                self.namespace, self.service, path, params, what="Prometheus"
            )
        except ServiceRefused as refused:
            raise PrometheusError(
                f"Prometheus {self.where} refused the query ({refused.status}): "
                f"{_error_text(refused.body)}"
            ) from None
        try:
            answer = json.loads(body)
        except ValueError:
            raise PrometheusError(
                f"Prometheus {self.where} did not answer JSON: {body[:120]!r}"
            ) from None
        if answer.get("status") != "success":
            raise PrometheusError(f"Prometheus {self.where}: {_error_text(body)}")
        return dict(answer.get("data") or {})


def range_step(start: datetime, end: datetime, finest: float) -> float:
    """The finest step at least `finest` seconds that Prometheus accepts for [start, end]."""
    span = max(0.0, (end - start).total_seconds())
    return max(finest, math.ceil(span / (MAX_POINTS - 1)))


def _unix(at: datetime) -> str:
    return f"{at.timestamp():.3f}"


def _value(text: Any) -> float:
    # Prometheus writes NaN and +Inf/-Inf as strings; float() reads them all.
    return float(text)


def _error_text(body: bytes | str) -> str:
    text = body.decode() if isinstance(body, bytes) else body
    try:
        answer = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    if isinstance(answer, dict):
        kind = answer.get("errorType")
        return f"{kind}: {answer.get('error')}" if kind else str(answer.get("error") or text)[:200]
    return text[:200]


def now() -> datetime:
    return datetime.now(UTC)
