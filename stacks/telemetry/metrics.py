"""The metrics the platform's Prometheus really holds, with their labels.

stacks/telemetry/promql.py checks a query against them: the program every custom analysis query
before anything is created, tests every dashboard, alert and MetricTemplate query.

Where a scrape job keeps only a list of names, the names are that list as configured
(manifests/telemetry/proxy-metrics.yaml for the proxies, the keep regexes of the node jobs in
manifests/telemetry/prometheus-values.yaml), so what Prometheus keeps and what a query may read
cannot drift apart. Jobs that keep everything a target exposes (Flagger, cert-manager, Linkerd's
controllers, Prometheus, Alertmanager, kube-state-metrics) are listed by the names the platform
reads. Each family says where its labels come from at the pinned versions; the labels a job's
relabelling adds come from its job (prometheus-values.yaml, or prometheus chart 29.27.0's default
jobs in its values.yaml `scrapeConfigs`).

Service pods are not scraped for their own metrics: no job here keeps a service's application
metrics (the chart's kubernetes-pods job takes only pods annotated prometheus.io/scrape, and the
platform's Deployments carry no such annotation), so a custom check reads what the proxies and
the platform export.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stacks.manifests import load_one

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
# The chart's kubernetes-nodes and kubernetes-nodes-cadvisor jobs: labelmap of the node's labels
# (the well-known ones every kubelet sets, kubernetes.io "Well-Known Labels") and, for cAdvisor,
# metrics_path.
NODE_TARGET = SCRAPE | {
    "kubernetes_io_hostname",
    "kubernetes_io_os",
    "kubernetes_io_arch",
    "node_kubernetes_io_instance_type",
    "topology_kubernetes_io_region",
    "topology_kubernetes_io_zone",
}
# The chart's kubernetes-pods job (Flagger's and cert-manager's pods carry prometheus.io/scrape,
# flagger chart 1.44.0 values.yaml:15-19; honor_labels keeps Flagger's own `namespace`).
POD_TARGET = SCRAPE | {
    "namespace",
    "pod",
    "node",
    "app",
    "app_kubernetes_io_component",
    "app_kubernetes_io_name",
    "app_kubernetes_io_instance",
}
# The chart's kubernetes-service-endpoints job (kube-state-metrics' Service is annotated).
ENDPOINTS_TARGET = SCRAPE | {
    "namespace",
    "service",
    "node",
    "app_kubernetes_io_component",
    "app_kubernetes_io_name",
    "app_kubernetes_io_instance",
}
CONTROLLER_TARGET = SCRAPE | {"component"}  # job linkerd-controller
ALERTMANAGER_TARGET = SCRAPE | {"namespace", "pod"}  # job alertmanager
EVERY_TARGET = (
    PROXY_TARGET | NODE_TARGET | {"metrics_path"} | POD_TARGET | ENDPOINTS_TARGET
) | CONTROLLER_TARGET

# Linkerd proxy labels (linkerd2-proxy v2.366.0): linkerd/app/core/src/metrics.rs (endpoint,
# server, route and authz labels, response classes), transport/labels.rs (tls, target address),
# linkerd/app/outbound/src/metrics.rs and http/logical/policy/route/metrics/labels.rs (Gateway
# API route metrics), linkerd/transport-metrics (errno). dst_* are the destination's metric labels
# from Linkerd's destination controller (linkerd2 edge-26.8.3 pkg/k8s/labels.go GetPodLabels,
# controller/api/destination/endpoint_translator.go).
_TLS = {"tls", "server_id", "client_id", "no_tls_reason", "sni"}
_TARGET_ADDR = {"target_addr", "target_ip", "target_port"}
_DST = {
    f"dst_{label}"
    for label in (
        "namespace",
        "service",
        "pod",
        "deployment",
        "replicaset",
        "statefulset",
        "daemonset",
        "job",
        "cronjob",
        "serviceaccount",
        "control_plane_ns",
        "pod_template_hash",
        "zone",
        "external_workload",
    )
}
_SERVER = {"srv_group", "srv_kind", "srv_name", "srv_port"}
_INBOUND_ROUTE = {"route_group", "route_kind", "route_name"}
_AUTHZ = {"authz_group", "authz_kind", "authz_name"}
_ENDPOINT = PROXY_TARGET | {"direction", "authority"} | _TARGET_ADDR | _TLS | _DST | _SERVER
_ENDPOINT |= _INBOUND_ROUTE | _AUTHZ
_CLASSIFIED = {"status_code", "classification", "grpc_status", "error"}
_PROFILE_ROUTE = PROXY_TARGET | {"direction", "dst", "rt_route"}  # ServiceProfile routes
_PARENT = {f"parent_{x}" for x in ("group", "kind", "namespace", "name", "port", "section_name")}
_ROUTE_REF = {f"route_{x}" for x in ("group", "kind", "namespace", "name")}
_BACKEND = {f"backend_{x}" for x in ("group", "kind", "namespace", "name", "port", "section_name")}
_ROUTE = PROXY_TARGET | _PARENT | _ROUTE_REF | {"hostname"}
_ROUTE_BACKEND = PROXY_TARGET | _PARENT | _ROUTE_REF | _BACKEND
_TRANSPORT = PROXY_TARGET | {"direction", "peer"} | _TARGET_ADDR | _TLS | _DST | _SERVER

NOT_EMITTED = frozenset(
    {"tcp_connection_duration_ms_bucket", "gateway_alive", "gateway_probe_latency_ms_bucket"}
)
"""Kept for Linkerd's dashboards and linkerd-viz, which ask for them, but no proxy at v2.366.0
exports them (no such name in its source; the gateway probes belong to the multicluster
extension, not installed here): a check on them would never get a value."""


def _proxy_labels(name: str) -> frozenset[str] | None:
    """The labels of a proxy metric the linkerd-proxy job keeps; None for an unknown family."""
    route = re.fullmatch(r"outbound_(http|grpc)_route_(backend_)?(\w+)", name)
    if route:
        protocol, backend, rest = route.groups()
        base = _ROUTE_BACKEND if backend else _ROUTE
        status = {"http_status" if protocol == "http" else "grpc_status", "error"}
        return (
            frozenset(
                {
                    "request_duration_seconds_bucket": base | {"le"},
                    "response_duration_seconds_bucket": base | {"le"},
                    "request_statuses_total": base | status,
                    "response_statuses_total": base | status,
                    "retry_requests_total": base,
                    "requests_total": base,
                }.get(rest, set())
            )
            or None
        )
    if name.startswith("process_") or name == "identity_cert_expiration_timestamp_seconds":
        return PROXY_TARGET
    families: dict[str, set[str] | frozenset[str]] = {
        "request_total": _ENDPOINT,
        "response_total": _ENDPOINT | _CLASSIFIED,
        "response_latency_ms_bucket": _ENDPOINT | {"status_code", "le"},
        "route_request_total": _PROFILE_ROUTE,
        "route_response_total": _PROFILE_ROUTE | _CLASSIFIED,
        "route_actual_response_total": _PROFILE_ROUTE | _CLASSIFIED,
        "route_response_latency_ms_bucket": _PROFILE_ROUTE | {"status_code", "le"},
        "inbound_http_authz_allow_total": PROXY_TARGET
        | _TARGET_ADDR
        | _TLS
        | _SERVER
        | _INBOUND_ROUTE
        | _AUTHZ,
        "inbound_http_authz_deny_total": PROXY_TARGET
        | _TARGET_ADDR
        | _TLS
        | _SERVER
        | _INBOUND_ROUTE,
        "tcp_open_total": _TRANSPORT,
        "tcp_open_connections": _TRANSPORT,
        "tcp_read_bytes_total": _TRANSPORT,
        "tcp_write_bytes_total": _TRANSPORT,
        "tcp_close_total": _TRANSPORT | {"errno"},
    }
    found = families.get(name)
    return frozenset(found) if found is not None else None


# cAdvisor's labels on the kubelet's /metrics/cadvisor: the container's identity, plus the
# interface of network counters and the device of filesystem gauges; machine_* describe the node.
_CONTAINER = {"container", "id", "image", "name", "namespace", "pod"}


def _cadvisor_labels(name: str) -> frozenset[str]:
    target = NODE_TARGET | {"metrics_path"}
    if name.startswith("machine_"):
        return frozenset(target | {"boot_id", "machine_id", "system_uuid"})
    extra = {"interface"} if "_network_" in name else {"device"} if "_fs_" in name else set()
    return frozenset(target | _CONTAINER | extra)


def kept(job: str) -> tuple[str, ...]:
    """The metric names a job keeps, as configured: the linkerd-proxy list, or the `keep` regex
    of a node job's metric_relabel_configs (a plain alternation of names)."""
    if job == "linkerd-proxy":
        return tuple(load_one("telemetry/proxy-metrics.yaml"))
    config = load_one("telemetry/prometheus-values.yaml")["scrapeConfigs"][job]
    (keep,) = (r for r in config["metric_relabel_configs"] if r["action"] == "keep")
    return tuple(keep["regex"].strip("()").split("|"))


def _curated() -> dict[str, frozenset[str]]:
    """Jobs that keep everything: the names the platform reads, with their labels."""
    flagger = POD_TARGET
    certificate = POD_TARGET | {"name", "issuer_name", "issuer_kind", "issuer_group"}
    volume = NODE_TARGET | {"namespace", "persistentvolumeclaim"}
    return {
        # Flagger (pkg/metrics/recorder.go at v1.44.0; the `name` label is targetRef.name).
        "flagger_info": flagger | {"version", "mesh_provider"},
        "flagger_canary_status": flagger | {"name"},
        "flagger_canary_weight": flagger | {"workload"},
        "flagger_canary_total": flagger,
        "flagger_canary_metric_analysis": flagger | {"name", "metric"},
        "flagger_canary_successes_total": flagger
        | {"name", "deployment_strategy", "analysis_status"},
        "flagger_canary_failures_total": flagger
        | {"name", "deployment_strategy", "analysis_status"},
        # Linkerd's identity controller (job linkerd-controller, pkg/identity/service.go:156-169).
        "issuer_cert_ttl_seconds": CONTROLLER_TARGET,
        # cert-manager v1.21.1 internal/collectors/certificate_collector.go:29-34.
        "certmanager_certificate_ready_status": certificate | {"condition"},
        "certmanager_certificate_expiration_timestamp_seconds": certificate,
        "certmanager_certificate_renewal_timestamp_seconds": certificate,
        # Prometheus v3.14.0's own metrics (job prometheus): notifier/metric.go, config reload,
        # rule manager (rules/group.go), TSDB.
        "prometheus_notifications_dropped_total": SCRAPE,
        "prometheus_notifications_alertmanagers_discovered": SCRAPE,
        "prometheus_config_last_reload_successful": SCRAPE,
        "prometheus_rule_evaluation_failures_total": SCRAPE | {"rule_group"},
        "prometheus_tsdb_storage_blocks_bytes": SCRAPE,
        "prometheus_tsdb_head_chunks_storage_size_bytes": SCRAPE,
        "prometheus_tsdb_wal_storage_size_bytes": SCRAPE,
        # Alertmanager v0.34.0 notify/metrics.go.
        "alertmanager_notifications_failed_total": ALERTMANAGER_TARGET | {"integration", "reason"},
        # kubelet's volume stats (pkg/kubelet/metrics/collectors/volume_stats.go); the job keeps
        # these two (kept("kubernetes-nodes")).
        "kubelet_volume_stats_available_bytes": volume,
        "kubelet_volume_stats_capacity_bytes": volume,
        # kube-state-metrics v2.20.0 custom-resource StateSet of the Canary's status.phase
        # (stacks/telemetry/layer.py canary_phase_metrics; customresource_* from
        # registry_factory.go), scraped by kubernetes-service-endpoints.
        "kube_flagger_canary_phase": ENDPOINTS_TARGET
        | {"name", "phase", "customresource_group", "customresource_kind"}
        | {"customresource_version"},
        # The platform's recording rules: each check's threshold per Canary
        # (stacks/services/analysis.py).
        "canary_check_threshold": frozenset({"namespace", "name", "metric", "bound"}),
    }


def _catalogue() -> dict[str, frozenset[str]]:
    metrics: dict[str, frozenset[str]] = {}

    def add(name: str, labels: Iterable[str]) -> None:
        metrics[name] = metrics.get(name, frozenset()) | frozenset(labels)

    for name in kept("linkerd-proxy"):
        if name not in NOT_EMITTED:
            add(name, _proxy_labels(name) or PROXY_TARGET)
    for name in kept("kubernetes-nodes-cadvisor"):
        add(name, _cadvisor_labels(name))
    for name, labels in _curated().items():
        add(name, labels)
    # Go programs in the keep-everything jobs export the process collector's gauges too
    # (client_golang prometheus/process_collector.go): Flagger, cert-manager, Linkerd's
    # controllers, Prometheus, Alertmanager, kube-state-metrics.
    for name in ("process_cpu_seconds_total", "process_open_fds", "process_max_fds"):
        add(name, EVERY_TARGET | ALERTMANAGER_TARGET)
    for name in ("process_resident_memory_bytes", "process_virtual_memory_bytes"):
        add(name, EVERY_TARGET | ALERTMANAGER_TARGET)
    add("process_start_time_seconds", EVERY_TARGET | ALERTMANAGER_TARGET)
    # What Prometheus records for every target (docs: "Jobs and instances", automatically
    # generated series), with every job's target labels.
    for name in (
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ):
        add(name, EVERY_TARGET | ALERTMANAGER_TARGET)
    return metrics


METRICS: dict[str, frozenset[str]] = _catalogue()
