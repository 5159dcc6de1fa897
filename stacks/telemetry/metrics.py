"""The metrics the platform's Prometheus really holds, with their labels, and a PromQL checker.

The program checks every custom analysis query against it before anything is created; tests
check every dashboard, alert and MetricTemplate query against it.

Each family says where its names and labels come from at the pinned versions. Labels added at
scrape time come from the jobs in manifests/telemetry/prometheus-values.yaml (linkerd-proxy) and
the chart's own kubernetes-pods job (Flagger's pod carries prometheus.io/scrape, flagger chart
1.44.0 values.yaml:15-19; honor_labels keeps Flagger's own `namespace`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

SCRAPE = frozenset({"job", "instance"})
# linkerd-proxy job relabelling: namespace, pod, the workload labels of linkerd.io/proxy-<kind>,
# k8s_job, control_plane_ns (linkerd.io/control-plane-ns) and the pod's own labels.
PROXY_TARGET = SCRAPE | {
    "namespace",
    "pod",
    "deployment",
    "replicaset",
    "statefulset",
    "daemonset",
    "cronjob",
    "k8s_job",
    "control_plane_ns",
    "app",
    # app.kubernetes.io/version on every service pod (stacks/services/analysis.py VERSION_LABEL)
    "app_kubernetes_io_version",
}
# Proxy HTTP metrics (linkerd2-proxy v2.366.0, linkerd/app/core/src/metrics.rs:462-507, and the
# transport labels in linkerd/app/core/src/transport/labels.rs).
_PROXY_HTTP = PROXY_TARGET | {
    "direction",
    "authority",
    "tls",
    "server_id",
    "client_id",
    "no_tls_reason",
    "target_addr",
    "target_ip",
    "target_port",
    "dst_namespace",
    "dst_deployment",
    "dst_service",
    "dst_pod",
    "srv_group",
    "srv_kind",
    "srv_name",
    "srv_port",
    "route_group",
    "route_kind",
    "route_name",
}
_ROUTE_BACKEND = PROXY_TARGET | {
    # linkerd/app/outbound/src/metrics.rs:173-239
    *(f"parent_{x}" for x in ("group", "kind", "namespace", "name", "port", "section_name")),
    *(f"route_{x}" for x in ("group", "kind", "namespace", "name")),
    *(f"backend_{x}" for x in ("group", "kind", "namespace", "name", "port", "section_name")),
}
FLAGGER_TARGET = SCRAPE | {"namespace", "pod", "app"}
# cert-manager's controller, scraped through its prometheus.io annotations by kubernetes-pods.
_CERTIFICATE = SCRAPE | {"name", "namespace", "issuer_name", "issuer_kind", "issuer_group"}

METRICS: dict[str, frozenset[str]] = {
    # Linkerd proxies (job linkerd-proxy).
    "request_total": frozenset(_PROXY_HTTP),
    "response_total": frozenset(
        _PROXY_HTTP | {"status_code", "classification", "grpc_status", "error"}
    ),
    "response_latency_ms_bucket": frozenset(_PROXY_HTTP | {"status_code", "le"}),
    "outbound_http_route_backend_requests_total": frozenset(_ROUTE_BACKEND),
    # Flagger (pkg/metrics/recorder.go at v1.44.0; the `name` label is targetRef.name).
    "flagger_info": frozenset(FLAGGER_TARGET | {"version", "mesh_provider"}),
    "flagger_canary_status": frozenset(FLAGGER_TARGET | {"name"}),
    "flagger_canary_weight": frozenset(FLAGGER_TARGET | {"workload"}),
    "flagger_canary_total": frozenset(FLAGGER_TARGET),
    "flagger_canary_metric_analysis": frozenset(FLAGGER_TARGET | {"name", "metric"}),
    "flagger_canary_successes_total": frozenset(
        FLAGGER_TARGET | {"name", "deployment_strategy", "analysis_status"}
    ),
    "flagger_canary_failures_total": frozenset(
        FLAGGER_TARGET | {"name", "deployment_strategy", "analysis_status"}
    ),
    # Linkerd's identity controller (job linkerd-controller, pkg/identity/service.go:156-169).
    "issuer_cert_ttl_seconds": frozenset(SCRAPE | {"component"}),
    # cert-manager v1.21.1 internal/collectors/certificate_collector.go:29-34.
    "certmanager_certificate_ready_status": frozenset(_CERTIFICATE | {"condition"}),
    "certmanager_certificate_expiration_timestamp_seconds": frozenset(_CERTIFICATE),
    "certmanager_certificate_renewal_timestamp_seconds": frozenset(_CERTIFICATE),
    # Linkerd proxies (linkerd2-proxy v2.366.0 linkerd/identity/src/metrics.rs; the name in
    # linkerd2 edge-26.8.3 testutil/prommatch/testdata/sampleMetrics.txt).
    "identity_cert_expiration_timestamp_seconds": frozenset(PROXY_TARGET),
    # Prometheus's own health of every target, with the labels each job's relabelling adds:
    # component (linkerd-controller), pod labels (kubernetes-pods: app_kubernetes_io_*), the
    # Service's name (kubernetes-service-endpoints), node labels (kubernetes-nodes).
    "up": frozenset(
        SCRAPE
        | {
            "namespace",
            "pod",
            "component",
            "node",
            "app",
            "service",
            "app_kubernetes_io_component",
            "app_kubernetes_io_name",
        }
    ),
    # Prometheus v3.14.0's own metrics (job prometheus): notifier/metric.go, config reload and
    # rule manager (rules/group.go).
    "prometheus_notifications_dropped_total": frozenset(SCRAPE),
    "prometheus_notifications_alertmanagers_discovered": frozenset(SCRAPE),
    "prometheus_config_last_reload_successful": frozenset(SCRAPE),
    "prometheus_rule_evaluation_failures_total": frozenset(SCRAPE | {"rule_group"}),
    "prometheus_tsdb_storage_blocks_bytes": frozenset(SCRAPE),
    "prometheus_tsdb_head_chunks_storage_size_bytes": frozenset(SCRAPE),
    "prometheus_tsdb_wal_storage_size_bytes": frozenset(SCRAPE),
    # Alertmanager v0.34.0 notify/metrics.go (job alertmanager adds namespace and pod).
    "alertmanager_notifications_failed_total": frozenset(
        SCRAPE | {"namespace", "pod", "integration", "reason"}
    ),
    # kubelet's volume stats (job kubernetes-nodes; pkg/kubelet/metrics/collectors/volume_stats.go).
    "kubelet_volume_stats_available_bytes": frozenset(
        SCRAPE | {"namespace", "persistentvolumeclaim"}
    ),
    "kubelet_volume_stats_capacity_bytes": frozenset(
        SCRAPE | {"namespace", "persistentvolumeclaim"}
    ),
    # kube-state-metrics v2.20.0 custom-resource StateSet of the Canary's status.phase
    # (stacks/telemetry/layer.py canary_phase_metrics; customresource_* labels from registry_factory.go).
    "kube_flagger_canary_phase": frozenset(
        SCRAPE
        | {
            "name",
            "namespace",
            "phase",
            "service",
            "customresource_group",
            "customresource_kind",
            "customresource_version",
        }
    ),
    # The platform's recording rules: each check's threshold per Canary (stacks/services/analysis.py).
    "canary_check_threshold": frozenset({"namespace", "name", "metric", "bound"}),
}

# Grafana variables and Flagger template variables become plain values before parsing.
_GRAFANA_VARIABLE = re.compile(r"\$\{?(__range|__rate_interval|__interval)\}?")
_PLACEHOLDER = re.compile(r"\$\{?\w+\}?|\{\{\s*[\w.]+\s*\}\}")
_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?(\w+)\)$")


@dataclass(frozen=True)
class Use:
    metric: str
    labels: frozenset[str]


def concrete(query: str) -> str:
    """A dashboard or MetricTemplate query with its variables filled in, ready to parse."""
    text = _GRAFANA_VARIABLE.sub("1m", query)
    text = text.replace("[{{ interval }}]", "[1m]")
    return _PLACEHOLDER.sub("x", text)


def uses(query: str) -> list[Use]:
    """Every metric a query reads, with the labels it selects, groups or joins on."""
    text = concrete(query).strip()
    values = _LABEL_VALUES.match(text)
    if values:  # Grafana's label_values(selector, label)
        selector, label = values.group(1) or "", values.group(2)
        found = uses(selector) if selector else []
        return [Use(u.metric, u.labels | {label}) for u in found]
    import promql_parser  # only when a query is checked: most runs never need the parser

    return list(_walk(promql_parser.parse(text), frozenset()))


def problems(query: str) -> list[str]:
    """What in `query` the platform's Prometheus does not have (empty when all is real)."""
    try:
        found = uses(query)
    except ValueError as error:  # promql_parser's parse error
        return [f"does not parse: {error}"]
    wrong = []
    for use in found:
        if use.metric not in METRICS:
            wrong.append(f"metric {use.metric} is not scraped by the platform")
        elif unknown := sorted(use.labels - METRICS[use.metric]):
            wrong.append(f"{use.metric} has no label(s) {', '.join(unknown)}")
    return wrong


def _walk(node: object, grouping: frozenset[str]) -> Iterator[Use]:
    import promql_parser

    if isinstance(node, promql_parser.VectorSelector):
        labels = {m.name for m in node.matchers.matchers if m.name != "__name__"}
        yield Use(str(node.name), frozenset(labels) | grouping)
        return
    if isinstance(node, promql_parser.AggregateExpr):
        extra = frozenset(node.modifier.labels) if node.modifier is not None else frozenset()
        yield from _walk(node.expr, grouping | extra)
        return
    if isinstance(node, promql_parser.BinaryExpr):
        matching = node.modifier.matching if node.modifier is not None else None
        extra = frozenset(matching.labels) if matching is not None else frozenset()
        yield from _walk(node.lhs, grouping | extra)
        yield from _walk(node.rhs, grouping | extra)
        return
    for child in _children(node):
        yield from _walk(child, grouping)


def _children(node: object) -> list[object]:
    import promql_parser

    if isinstance(node, promql_parser.Call):
        return list(node.args)
    if isinstance(node, promql_parser.MatrixSelector):
        return [node.vector_selector]
    for attribute in ("expr",):
        child = getattr(node, attribute, None)
        if child is not None:
            return [child]
    return []
