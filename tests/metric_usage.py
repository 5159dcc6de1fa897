"""Which metrics the platform's consumers query: dashboards, MetricTemplates, alert rules, linkerd-viz.

The kept set of proxy metrics (manifests/telemetry/prometheus-values.yaml, job linkerd-proxy) must
be exactly what these read, so nothing a consumer needs is dropped and nothing else is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from stacks.telemetry import dashboards
from stacks.telemetry.promql import uses

# linkerd-viz's metrics API and CLI read these from the platform's Prometheus (linkerd2 at
# edge-26.8.3): viz/metrics-api/stat_summary.go:51-55, edges.go:17,46, grpc_server.go:43,
# policy.go:18-19, top_routes.go:21-23, gateways.go:16-17, viz/cmd/stat-outbound.go:151-243
# and stat-inbound.go.
VIZ_METRICS = frozenset(
    {
        "response_total",
        "response_latency_ms_bucket",
        "tcp_open_connections",
        "tcp_read_bytes_total",
        "tcp_write_bytes_total",
        "process_start_time_seconds",
        "inbound_http_authz_allow_total",
        "inbound_http_authz_deny_total",
        "route_response_total",
        "route_actual_response_total",
        "route_response_latency_ms_bucket",
        "gateway_alive",
        "gateway_probe_latency_ms_bucket",
        "outbound_http_route_request_duration_seconds_bucket",
        "outbound_http_route_request_statuses_total",
        "outbound_http_route_backend_response_duration_seconds_bucket",
        "outbound_http_route_backend_response_statuses_total",
        "outbound_http_route_retry_requests_total",
        "outbound_grpc_route_request_duration_seconds_bucket",
        "outbound_grpc_route_request_statuses_total",
        "outbound_grpc_route_backend_response_duration_seconds_bucket",
        "outbound_grpc_route_backend_response_statuses_total",
        "outbound_grpc_route_retry_requests_total",
    }
)
# Families other jobs scrape (Go controllers, cadvisor, Prometheus, Flagger, cert-manager,
# Alertmanager, kubelet, kube-state-metrics) and the platform's recording rules.
_NOT_PROXY = re.compile(
    r"^(go_|container_|machine_|prometheus_|http_server_|http_client_|grpc_server_|flagger_|"
    r"certmanager_|issuer_cert_|kube_|node_|up$|scrape_|alertmanager_|kubelet_|canary_check_)"
)
_LABEL_VALUES = re.compile(r"^(label_values|query_result)\((.*)\)$", re.DOTALL)


def dashboard_queries(board: dict[str, Any]) -> Iterator[str]:
    """Every query of a Grafana dashboard: panel targets, annotations and template variables."""
    for key, value in _items(board):
        if key in ("expr", "query", "definition") and isinstance(value, str) and value.strip():
            text = value.strip()
            match = _LABEL_VALUES.match(text)
            if match and match.group(1) == "query_result":
                yield match.group(2)
            elif text != "prometheus":  # a data source variable's query is its type
                yield text


def metric_names(queries: list[str]) -> set[str]:
    return {use.metric for query in queries for use in uses(query)}


def proxy_metrics_used(queries: list[str]) -> set[str]:
    """The proxy metric names the consumers read: what the linkerd-proxy job must keep."""
    return {m for m in metric_names(queries) | VIZ_METRICS if not _NOT_PROXY.match(m)}


def provisioned_dashboards() -> list[dict[str, Any]]:
    return [json.loads(text) for _, text in dashboards.dashboards().values()]


def _items(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _items(value)
    elif isinstance(node, list):
        for value in node:
            yield from _items(value)
