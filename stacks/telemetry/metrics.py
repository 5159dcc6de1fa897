"""The metrics the platform's Prometheus really holds, with their labels, and a PromQL checker.

The program checks every custom analysis query against it before anything is created; tests
check every dashboard, alert and MetricTemplate query against it.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

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

# Prometheus v3.14.0 (what prometheus chart 29.27.0 runs) refuses these unless started with
# --enable-feature=promql-experimental-functions, which the platform does not set:
# promql/parser/functions.go (`Experimental: true`), parse.go (limitk, limit_ratio: lex.go
# IsExperimentalAggregator; binop fill modifiers need promql-binop-fill-modifiers).
EXPERIMENTAL_FUNCTIONS = frozenset(
    {
        "double_exponential_smoothing",
        "end",
        "histogram_quantiles",
        "info",
        "mad_over_time",
        "max_of",
        "min_of",
        "range",
        "sort_by_label",
        "sort_by_label_desc",
        "start",
        "start_timestamp",
        "step",
        "ts_of_first_over_time",
        "ts_of_last_over_time",
        "ts_of_max_over_time",
        "ts_of_min_over_time",
    }
)
EXPERIMENTAL_AGGREGATIONS = frozenset({"limitk", "limit_ratio"})

# Grafana variables and Flagger template variables become plain values before parsing.
_GRAFANA_VARIABLE = re.compile(r"\$\{?(__range|__rate_interval|__interval)\}?")
_PLACEHOLDER = re.compile(r"\$\{?\w+\}?|\{\{\s*[\w.]+\s*\}\}")
_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?(\w+)\)$")
_LABEL_FUNCTIONS = ("label_replace", "label_join")


@dataclass(frozen=True)
class Use:
    metric: str
    """The metric's name, or the pattern of a `{__name__=~"..."}` selector (`regex`)."""
    labels: frozenset[str]
    regex: bool = False


def concrete(query: str) -> str:
    """A dashboard or MetricTemplate query with its variables filled in, ready to parse."""
    text = _GRAFANA_VARIABLE.sub("1m", query)
    text = text.replace("[{{ interval }}]", "[1m]")
    return _PLACEHOLDER.sub("x", text)


def parse(query: str) -> object:
    """The query's syntax tree (promql_parser); ValueError when it does not parse."""
    import promql_parser  # only when a query is checked: most runs never need the parser

    return promql_parser.parse(concrete(query).strip())


def uses(query: str) -> list[Use]:
    """Every metric a query reads, with the labels it selects, groups or joins on."""
    text = concrete(query).strip()
    values = _LABEL_VALUES.match(text)
    if values:  # Grafana's label_values(selector, label)
        selector, label = values.group(1) or "", values.group(2)
        found = uses(selector) if selector else []
        return [Use(u.metric, u.labels | {label}, u.regex) for u in found]
    return list(_walk(parse(text), frozenset()))


def problems(query: str) -> list[str]:
    """What in `query` the platform's Prometheus does not have or would refuse (empty when all
    is real)."""
    try:
        found = uses(query)
        tree = None if _LABEL_VALUES.match(concrete(query).strip()) else parse(query)
    except ValueError as error:  # promql_parser's parse error
        return [f"does not parse: {error}"]
    wrong = [] if tree is None else _experimental(tree)
    for use in found:
        known = _known(use)
        if not known:
            wrong.append(
                f"no metric the platform keeps matches __name__=~{use.metric!r}"
                if use.regex
                else f"metric {use.metric} is kept but no Linkerd proxy of this release exports it"
                if use.metric in NOT_EMITTED
                else f"metric {use.metric} is not scraped by the platform"
            )
        elif unknown := sorted(use.labels - frozenset().union(*(METRICS[m] for m in known))):
            wrong.append(f"{use.metric} has no label(s) {', '.join(unknown)}")
    return wrong


def _known(use: Use) -> list[str]:
    if not use.regex:
        return [use.metric] if use.metric in METRICS else []
    pattern = _anchored(use.metric)
    return [m for m in METRICS if pattern is not None and pattern.fullmatch(m)]


@cache
def _anchored(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _experimental(tree: object) -> list[str]:
    import promql_parser

    found: dict[str, str] = {}  # what -> the feature flag Prometheus would need
    for node in nodes(tree):
        if isinstance(node, promql_parser.Call) and node.func.name in EXPERIMENTAL_FUNCTIONS:
            found[f"{node.func.name}()"] = "promql-experimental-functions"
        elif (
            isinstance(node, promql_parser.AggregateExpr)
            and str(node.op) in EXPERIMENTAL_AGGREGATIONS
        ):
            found[f"{node.op}()"] = "promql-experimental-functions"
        elif isinstance(node, promql_parser.BinaryExpr) and _fill(node):
            found["the fill() modifier"] = "promql-binop-fill-modifiers"
    return [
        f"{what} is experimental: Prometheus v3.14.0 refuses it unless started with "
        f"--enable-feature={flag}, which the platform's Prometheus is not"
        for what, flag in found.items()
    ]


def _fill(node: object) -> bool:
    fill = getattr(getattr(node, "modifier", None), "fill_values", None)
    return fill is not None and (fill.lhs is not None or fill.rhs is not None)


def nodes(node: object) -> Iterator[object]:
    """`node` and every node below it."""
    yield node
    for child in children(node):
        yield from nodes(child)


def children(node: object) -> list[object]:
    """The expressions directly below a node (promql_parser's classes)."""
    import promql_parser

    if isinstance(node, promql_parser.Call):
        return list(node.args)
    if isinstance(node, promql_parser.MatrixSelector):
        return [node.vector_selector]
    if isinstance(node, promql_parser.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, promql_parser.AggregateExpr):
        return [node.expr] if node.param is None else [node.param, node.expr]
    child = getattr(node, "expr", None)
    return [child] if child is not None else []


def _walk(node: object, grouping: frozenset[str]) -> Iterator[Use]:
    import promql_parser

    if isinstance(node, promql_parser.VectorSelector):
        yield from _selector_uses(node, grouping)
        return
    if isinstance(node, promql_parser.AggregateExpr):
        extra = frozenset(node.modifier.labels) if node.modifier is not None else frozenset()
        # count_values("label", v) makes `label`: grouping on it above reads nothing of v.
        yield from _walk(node.expr, (grouping - _created_by(node)) | extra)
        return
    if isinstance(node, promql_parser.BinaryExpr):
        matching = node.modifier.matching if node.modifier is not None else None
        extra = frozenset(matching.labels) if matching is not None else frozenset()
        yield from _walk(node.lhs, grouping | extra)
        yield from _walk(node.rhs, grouping | extra)
        return
    if isinstance(node, promql_parser.Call) and node.func.name in _LABEL_FUNCTIONS:
        # label_replace(v, dst, replacement, src, regex) / label_join(v, dst, sep, src...):
        # dst is made here, so grouping on it reads nothing of v; the sources are read from v.
        texts = [a.val for a in node.args if isinstance(a, promql_parser.StringLiteral)]
        made = {texts[0]} if texts else set()
        sources = texts[2:3] if node.func.name == "label_replace" else texts[2:]
        yield from _walk(node.args[0], (grouping - made) | frozenset(s for s in sources if s))
        return
    for child in children(node):
        yield from _walk(child, grouping)


def _created_by(node: object) -> frozenset[str]:
    import promql_parser

    if str(getattr(node, "op", "")) == "count_values" and isinstance(
        getattr(node, "param", None), promql_parser.StringLiteral
    ):
        return frozenset({node.param.val})  # type: ignore[attr-defined]
    return frozenset()


def _selector_uses(node: object, grouping: frozenset[str]) -> Iterator[Use]:
    import promql_parser

    matchers = node.matchers.matchers  # type: ignore[attr-defined]
    labels = frozenset(m.name for m in matchers if m.name != "__name__") | grouping
    name = node.name  # type: ignore[attr-defined]
    if name:
        yield Use(str(name), labels)
        return
    for m in matchers:  # {__name__="x"} names the metric; {__name__=~"x|y"} a pattern of names
        if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal:
            yield Use(m.value, labels)
            return
        if m.name == "__name__" and m.op == promql_parser.MatchOp.Re:
            yield Use(m.value, labels, regex=True)
            return
