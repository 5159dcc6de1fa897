"""Telemetry layer, alerting: rules on the platform's components, on the watchers themselves
(heartbeat, Alertmanager, Prometheus) and on Prometheus's disk.

A component is down when none of its pods answers a scrape: `absent(up{…} == 1)` per component.
That one expression covers every way it breaks: a crashing container still has a pod IP, so its
target exists and `up` is 0; a Pending pod has no IP, and Prometheus's pod discovery makes no
target for it at all (prometheus v3.14.0 discovery/kubernetes/pod.go, buildPod: "PodIP can be
empty when a pod is starting or has been evicted"); a deleted Deployment leaves no target either.
`up == 0 or absent(up{job=…})` would miss the Pending case whenever another pod of the same job
still runs. kube-state-metrics is not needed for this: every component below serves metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stacks.delivery import NAMESPACE as FLAGGER_NAMESPACE
from stacks.mesh.layer import CERT_MANAGER_NAMESPACE
from stacks.mesh.layer import NAMESPACE as LINKERD_NAMESPACE
from stacks.telemetry.alerts_rule import rule

HEARTBEAT = "Heartbeat"
NOTIFICATIONS_FAILING = "AlertmanagerNotificationsFailing"
# The chart names the kube-state-metrics Service <release>-kube-state-metrics; the chart's
# kubernetes-service-endpoints job scrapes it (its prometheus.io/scrape annotation) and keeps
# the Service's name as `service`.
KUBE_STATE_METRICS_SERVICE = "prometheus-kube-state-metrics"
MONITORING_NAMESPACE = "monitoring"


@dataclass(frozen=True)
class Component:
    """One platform component and the `up` series of its pods."""

    alert: str
    name: str
    namespace: str
    selector: str
    """Label matchers of its targets' `up` series."""
    consequence: str


def _linkerd(container: str) -> str:
    # Job linkerd-controller (manifests/telemetry/prometheus-values.yaml) labels each target
    # with its container's name; the destination pod runs destination, sp-validator and policy.
    return f'job="linkerd-controller", component="{container}"'


def _annotated_pod(namespace: str, label: str, value: str) -> str:
    # The chart's kubernetes-pods job scrapes pods with prometheus.io/scrape and copies their
    # labels (app.kubernetes.io/component becomes app_kubernetes_io_component).
    return f'job="kubernetes-pods", namespace="{namespace}", {label}="{value}"'


COMPONENTS = (
    Component(
        "LinkerdIdentityDown",
        "Linkerd identity",
        LINKERD_NAMESPACE,
        _linkerd("identity"),
        "proxies get no certificates: new meshed pods never become ready, running ones lose "
        "mTLS within 24 h",
    ),
    Component(
        "LinkerdDestinationDown",
        "Linkerd destination",
        LINKERD_NAMESPACE,
        _linkerd("destination"),
        "proxies cannot resolve services or traffic splits: new connections fail",
    ),
    Component(
        "LinkerdProxyInjectorDown",
        "Linkerd's proxy injector",
        LINKERD_NAMESPACE,
        _linkerd("proxy-injector"),
        "with meshHighAvailability (webhook Fail) every meshed pod creation is refused; "
        "without, pods start unmeshed",
    ),
    Component(
        "LinkerdSPValidatorDown",
        "Linkerd's ServiceProfile validator",
        LINKERD_NAMESPACE,
        _linkerd("sp-validator"),
        "ServiceProfile writes are refused or unchecked",
    ),
    Component(
        "LinkerdPolicyDown",
        "Linkerd policy",
        LINKERD_NAMESPACE,
        _linkerd("policy"),
        "proxies get no authorization policy and HTTPRoute writes are refused: Flagger cannot "
        "shift traffic",
    ),
    Component(
        "CertManagerControllerDown",
        "cert-manager's controller",
        CERT_MANAGER_NAMESPACE,
        _annotated_pod(CERT_MANAGER_NAMESPACE, "app_kubernetes_io_component", "controller"),
        "no certificate is renewed (the identity issuer lives 48 h) and the certificate "
        "alerts go silent",
    ),
    Component(
        "CertManagerWebhookDown",
        "cert-manager's webhook",
        CERT_MANAGER_NAMESPACE,
        _annotated_pod(CERT_MANAGER_NAMESPACE, "app_kubernetes_io_component", "webhook"),
        "every write of a Certificate or Issuer is refused",
    ),
    Component(
        "CertManagerCAInjectorDown",
        "cert-manager's CA injector",
        CERT_MANAGER_NAMESPACE,
        _annotated_pod(CERT_MANAGER_NAMESPACE, "app_kubernetes_io_component", "cainjector"),
        "renewed webhook CAs never reach the webhook configurations: the API server rejects "
        "the webhooks' certificates",
    ),
    Component(
        "FlaggerDown",
        "Flagger",
        FLAGGER_NAMESPACE,
        _annotated_pod(FLAGGER_NAMESPACE, "app_kubernetes_io_name", "flagger"),
        "no release is analysed, promoted or rolled back",
    ),
    Component(
        "AlertmanagerDown",
        "Alertmanager",
        MONITORING_NAMESPACE,
        'job="alertmanager"',
        "no alert reaches anyone; the dead man's switch pages as the heartbeat stops",
    ),
    Component(
        "KubeStateMetricsDown",
        "kube-state-metrics",
        MONITORING_NAMESPACE,
        f'job="kubernetes-service-endpoints", service="{KUBE_STATE_METRICS_SERVICE}"',
        "the Canary phase alerts (CanaryStuck, CanaryGateWaiting) go silent",
    ),
)


def component_rules(runbook: str) -> list[dict[str, Any]]:
    return [
        rule(
            c.alert,
            f"absent(up{{{c.selector}}} == 1)",
            "5m",
            "critical",
            f"No pod of {c.name} in {c.namespace} answers Prometheus "
            f"(crashing, Pending or gone): {c.consequence}. `kubectl -n {c.namespace} get pods`.",
            runbook,
            {"namespace": c.namespace},
        )
        for c in COMPONENTS
    ]


def target_rules(runbook: str) -> list[dict[str, Any]]:
    # Targets of components with their own rule are left out, or one failure alerts twice;
    # matched on every label a component's selector uses (absent labels match as empty).
    covered = " or ".join(f"up{{{c.selector}}}" for c in COMPONENTS)
    keys = "job, namespace, component, app_kubernetes_io_component, app_kubernetes_io_name, service"
    return [
        rule(
            "PrometheusTargetsDown",
            f"up == 0 unless on ({keys}) ({covered})",
            "10m",
            "warning",
            "Prometheus cannot scrape {{ $labels.job }} target {{ $labels.instance }}: canary "
            "analysis, dashboards and alerts lose its data.",
            runbook,
        ),
        rule(
            "PrometheusConfigReloadFailed",
            "prometheus_config_last_reload_successful == 0",
            "10m",
            "critical",
            "Prometheus refused its new configuration or rules and runs on the previous ones.",
            runbook,
        ),
        rule(
            "PrometheusRuleEvaluationFailures",
            "rate(prometheus_rule_evaluation_failures_total[5m]) > 0",
            "10m",
            "critical",
            "Prometheus fails to evaluate rules of group {{ $labels.rule_group }}: those alerts "
            "cannot fire.",
            runbook,
        ),
    ]


def watcher_rules(runbook: str) -> list[dict[str, Any]]:
    return [
        rule(
            HEARTBEAT,
            "vector(1)",
            "0s",
            "none",
            "Always firing. Alertmanager posts it to the dead man's switch every 1-2 minutes; when it "
            "stops arriving, Prometheus, Alertmanager, the cluster or the receiver is broken.",
            runbook,
        ),
        rule(
            NOTIFICATIONS_FAILING,
            # Alertmanager counts a notification failed once its retries gave up
            # (v0.34.0 notify/retry_stage.go); a failed group is retried every group_interval
            # (5m), so failures in every 10-minute window for 15 minutes are not one hiccup.
            "sum by (integration) (increase(alertmanager_notifications_failed_total[10m])) > 0",
            "15m",
            "critical",
            "Alertmanager cannot deliver to {{ $labels.integration }}: alerts do not reach "
            "anyone. The heartbeat is held back meanwhile, so the dead man's switch pages.",
            runbook,
        ),
        rule(
            "PrometheusNotificationsDropped",
            "increase(prometheus_notifications_dropped_total[5m]) > 0",
            "10m",
            "critical",
            "Prometheus keeps dropping alerts it cannot send to Alertmanager.",
            runbook,
        ),
        rule(
            "PrometheusNoAlertmanager",
            "prometheus_notifications_alertmanagers_discovered < 1",
            "5m",
            "critical",
            "Prometheus has discovered no Alertmanager: every alert stays on its Alerts page.",
            runbook,
        ),
    ]


# Prometheus's TSDB (v3.14.0): blocks are compacted from 2 h in steps of 3x
# (tsdb/db.go: ExponentialBlockRanges(MinBlockDuration, 10, 3)), up to a tenth of the retention
# time and at most 31 days (cmd/prometheus/main.go, MaxBlockDuration); retention deletes whole
# blocks, oldest first (tsdb/db.go BeyondSizeRetention, BeyondTimeRetention).
MIN_BLOCK_HOURS = 2
BLOCK_STEP = 3
MAX_BLOCK_HOURS = 31 * 24
_DURATION_HOURS = {"h": 1, "d": 24, "w": 7 * 24, "y": 365 * 24}  # prometheus/common model


def largest_block_hours(retention: str) -> int:
    """The longest block Prometheus compacts to for `retention` (15d: 18 h, 30d: 54 h)."""
    limit = min(int(retention[:-1]) * _DURATION_HOURS[retention[-1]] / 10, MAX_BLOCK_HOURS)
    hours = MIN_BLOCK_HOURS
    while hours * BLOCK_STEP <= limit:
        hours *= BLOCK_STEP
    return hours


def disk_trend_hours(retention: str) -> int:
    """The window the disk's trend is judged over: at least two days and two of the largest
    blocks. Once retention holds the data at its limit, free space is a sawtooth: it falls while
    Prometheus writes and jumps back each time the oldest block (up to that size) is deleted. A
    shorter window sees only the fall and predicts a full disk in a healthy steady state."""
    return max(48, 2 * largest_block_hours(retention))


def disk_rules(
    claim: str | None, storage_bytes: int, retention: str, runbook: str
) -> list[dict[str, Any]]:
    """Prometheus's storage: its own data past what retention allows (every stack), and, on a
    volume, the volume predicted full, nearly full, or its usage not measured at all.

    Size-based retention counts the head (WAL and head chunks) and the blocks (prometheus
    v3.14.0 tsdb/db.go BeyondSizeRetention) but can only delete blocks, so a head that outgrows
    it fills the disk. kubelet reports volume stats for persistent volume claims only, not for an
    emptyDir, whose limit is its sizeLimit (stacks/telemetry/layer.py sets it to the same size).
    """
    # Prometheus's own gauges (tsdb/db.go, tsdb/head.go, tsdb/wlog/wlog.go), job prometheus.
    used = (
        "prometheus_tsdb_storage_blocks_bytes + prometheus_tsdb_head_chunks_storage_size_bytes "
        "+ prometheus_tsdb_wal_storage_size_bytes"
    )
    found = [
        rule(
            "PrometheusStorageOverRetention",
            f"({used}) / {storage_bytes} > 0.9",
            "30m",
            "critical",
            "Prometheus's data fills {{ $value | humanizePercentage }} of its storage although "
            "retentionSize is 80%: the WAL or head outgrew retention, and a full disk (or, "
            "without a volume, an evicted pod) stops alerting and Flagger's analysis.",
            runbook,
        )
    ]
    if claim is None:
        return found
    volume = f'namespace="{MONITORING_NAMESPACE}", persistentvolumeclaim="{claim}"'
    available = f"kubelet_volume_stats_available_bytes{{{volume}}}"
    capacity = f"kubelet_volume_stats_capacity_bytes{{{volume}}}"
    return [
        *found,
        rule(
            "PrometheusDiskFillingUp",
            # At the trend of the last days the volume is full within 4 days, and already a
            # quarter used up: retention is not keeping up (retentionSize too large, or the WAL
            # grows). The window spans retention's sawtooth (disk_trend_hours).
            f"{available} / {capacity} < 0.75 and "
            f"predict_linear({available}[{disk_trend_hours(retention)}h], 4 * 86400) < 0",
            "1h",
            "warning",
            "Prometheus's volume will be full within 4 days at the trend of the last "
            f"{disk_trend_hours(retention) // 24} days: a full disk stops alerting and Flagger's "
            "analysis.",
            runbook,
        ),
        rule(
            "PrometheusDiskAlmostFull",
            f"{available} / {capacity} < 0.1",
            "5m",
            "critical",
            "Prometheus's volume has {{ $value | humanizePercentage }} left.",
            runbook,
        ),
        rule(
            "PrometheusVolumeStatsMissing",
            f"absent({available})",
            "30m",
            "warning",
            "kubelet reports no usage for Prometheus's volume: the disk alerts cannot fire "
            "(the kubernetes-nodes job is down or the claim was renamed).",
            runbook,
        ),
    ]
