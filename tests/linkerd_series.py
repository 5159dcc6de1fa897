"""Synthetic Linkerd proxy series, labelled as the platform's Prometheus stores them, for promtool.

Labels, at the pinned versions:
  - the proxy's own (linkerd2-proxy release/v2.366.0, the proxy of linkerd2 edge-26.8.3's
    .proxy-version): inbound HTTP metrics carry direction, target_addr/target_ip/target_port
    (linkerd/app/core/src/transport/labels.rs TargetAddr), tls="true" with client_id for mTLS
    from a meshed client or tls="no_identity" with no_tls_reason otherwise (labels.rs
    TlsAccept), the server, route and authorization (metrics.rs RouteAuthzLabels; a default
    route is route_kind="default"), and status_code/classification (metrics.rs Class);
  - kubelet's probes match the policy controller's default "probe" route, authorized as
    "probe" (linkerd2 edge-26.8.3 policy-controller/k8s/index/src/inbound/index.rs
    default_inbound_http_routes); Prometheus's scrapes reach the admin port 4191 with
    target_addr="0.0.0.0:4191" (linkerd2 testutil/prommatch/testdata/sampleMetrics.txt);
  - the target labels of the scrape job linkerd-proxy (manifests/telemetry/prometheus-values.yaml):
    namespace, pod, deployment (from linkerd.io/proxy-deployment) and every pod label.
Labels with an empty value are left out: Prometheus stores none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Linkerd's latency buckets, milliseconds (linkerd2-proxy http_metrics latency buckets).
BUCKETS = (1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000)
BUCKETS += (5000, 10000, 20000, 30000, 40000, 50000)
MESHED_CLIENT = "default.podinfo.serviceaccount.identity.linkerd.cluster.local"


@dataclass(frozen=True)
class Pod:
    name: str
    deployment: str
    ip: str
    namespace: str = "podinfo"
    version: str = "6.14.1"

    def target(self) -> dict[str, str]:
        app = self.deployment
        return {
            "job": "linkerd-proxy",
            "instance": f"{self.ip}:4191",
            "namespace": self.namespace,
            "pod": self.name,
            "deployment": self.deployment,
            "app": app,
            "app_kubernetes_io_version": self.version,
            "control_plane_ns": "linkerd",
        }


CANARY = Pod("podinfo-7d9c6b5f4-x2m8q", "podinfo", "10.244.1.17")
PRIMARY = Pod("podinfo-primary-6b8f7d9c5-k4t7w", "podinfo-primary", "10.244.2.9")


def application(pod: Pod, port: int = 9898) -> dict[str, str]:
    """Requests from a meshed client (the load tester, or a caller behind the split)."""
    return {
        "direction": "inbound",
        "target_addr": f"{pod.ip}:{port}",
        "target_ip": pod.ip,
        "target_port": str(port),
        "tls": "true",
        "client_id": MESHED_CLIENT,
        "srv_kind": "default",
        "srv_name": "all-unauthenticated",
        "srv_port": str(port),
        "route_kind": "default",
        "route_name": "default",
        "authz_kind": "default",
        "authz_name": "all-unauthenticated",
    }


def kubelet_probe(pod: Pod, port: int = 9898) -> dict[str, str]:
    """kubelet's readiness and liveness probes of the app port: never meshed, the probe route."""
    return {
        **application(pod, port),
        "tls": "no_identity",
        "no_tls_reason": "no_tls_from_remote",
        "client_id": "",
        "route_name": "probe",
        "authz_name": "probe",
    }


def admin(pod: Pod) -> dict[str, str]:
    """Prometheus's scrapes and kubelet's probes of the proxy's admin port (sampleMetrics.txt)."""
    return {
        "direction": "inbound",
        "target_addr": "0.0.0.0:4191",
        "target_ip": "0.0.0.0",
        "target_port": "4191",
        "tls": "no_identity",
        "no_tls_reason": "no_tls_from_remote",
        "srv_kind": "default",
        "srv_name": "all-unauthenticated",
        "authz_kind": "default",
        "authz_name": "all-unauthenticated",
    }


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    kept = {k: v for k, v in labels.items() if v != ""}
    text = ", ".join(f'{k}="{v}"' for k, v in sorted(kept.items()))
    return {"series": f"{name}{{{text}}}", "values": values}


def traffic(
    pod: Pod,
    kind: dict[str, str],
    per_scrape: float,
    scrapes: int,
    error_ratio: float = 0.0,
    latency_ms: Sequence[tuple[float, float]] = ((5, 1.0),),
    start: int = 0,
) -> list[dict[str, str]]:
    """Counters of `per_scrape` responses every scrape, for `scrapes` scrapes from scrape `start`
    (missing before): response_total by classification and response_latency_ms_bucket.

    `latency_ms`: (milliseconds, share of requests) pairs; `error_ratio` of them answer 500.
    """
    labels = {**pod.target(), **kind}
    found = []
    for status, classification, share in (
        ("200", "success", 1 - error_ratio),
        ("500", "failure", error_ratio),
    ):
        if share <= 0:
            continue
        step = per_scrape * share
        found.append(
            _series(
                "response_total",
                {**labels, "status_code": status, "classification": classification},
                _counter(step, scrapes, start),
            )
        )
    for le in (*BUCKETS, "+Inf"):
        below = sum(s for ms, s in latency_ms if le == "+Inf" or ms <= le)  # type: ignore[operator]
        found.append(
            _series(
                "response_latency_ms_bucket",
                {**labels, "status_code": "200", "le": str(le)},
                _counter(per_scrape * below, scrapes, start),
            )
        )
    return found


def _counter(step: float, scrapes: int, start: int) -> str:
    """promtool's expanding notation: `start` missing samples, then 0, step, 2*step, ..."""
    missing = f"_x{start} " if start else ""
    return f"{missing}0+{step:g}x{scrapes - 1}"


def counter_values(
    name: str, labels: dict[str, str], values: Sequence[float | None]
) -> dict[str, str]:
    """A series with explicit values per scrape (None: no sample)."""
    text = " ".join("_" if v is None else f"{v:.6g}" for v in values)
    return _series(name, labels, text)
