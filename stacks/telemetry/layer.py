"""Telemetry layer: Prometheus scraping Linkerd's proxies (with alerting), Grafana with the
platform's dashboards, linkerd-viz."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from stacks.components.helm import release
from stacks.components.secret import secret_output
from stacks.manifests import load_one
from stacks.pins import GRAFANA, PROMETHEUS
from stacks.schema.alerting import AlertingConfig
from stacks.schema.mesh import MeshConfig
from stacks.schema.telemetry import TelemetryConfig
from stacks.telemetry.alertmanager import SECRET_NAME as RECEIVERS_SECRET
from stacks.telemetry.alertmanager import alertmanager_values, secret_data
from stacks.telemetry.alerts import CANARY_PHASE_METRIC, CANARY_PHASES, CanaryWatch, Watched, rules
from stacks.telemetry.dashboards import dashboard_config_maps
from stacks.telemetry.linkerd_viz import NAMESPACE as VIZ_NAMESPACE
from stacks.telemetry.linkerd_viz import linkerd_viz

NAMESPACE = "monitoring"
PROMETHEUS_RELEASE = "prometheus"
GRAFANA_RELEASE = "grafana"
GRAFANA_ADMIN_SECRET = "grafana-admin"
ZRS_STORAGE_CLASS = "managed-csi-premium-zrs"
# The chart names the server Service <release>-server and serves it on port 80.
PROMETHEUS_URL = f"http://{PROMETHEUS_RELEASE}-server.{NAMESPACE}.svc.cluster.local:80"


# Prometheus's memory from the meshed pods it scrapes (docs/architecture.md, "Prometheus sizing"): about 1,000
# active series per proxy once unused metrics are dropped at scrape time, at roughly 4 KiB each in
# the head block, on top of Prometheus itself and the other jobs; the limit leaves room for
# compaction and queries.
PROMETHEUS_BASE_MIB = 512
PROMETHEUS_MIB_PER_MESHED_POD = 4
PROMETHEUS_LIMIT_FACTOR = 2
# The chart names the server's volume claim <release>-server (templates/pvc.yaml).
PROMETHEUS_CLAIM = f"{PROMETHEUS_RELEASE}-server"
# retentionSize counts blocks, WAL and head chunks (Prometheus docs, "Operational aspects");
# compaction writes a new block before deleting the ones it merges, so a fifth of the volume
# stays free for it. Prometheus's "GB" is 2^30 bytes, the same as Kubernetes's Gi.
RETENTION_SIZE_SHARE = 0.8


@dataclass(frozen=True)
class TelemetryArgs:
    settings: TelemetryConfig
    alerting: AlertingConfig
    zone_redundant_storage: bool
    """AKS across zones: volumes on zone-redundant (ZRS) disks, so pods can move between zones."""
    mesh: MeshConfig
    linkerd_namespace: str
    mesh_ready: pulumi.Resource
    """The Linkerd control plane: linkerd-viz is meshed and must wait for the injector."""
    cert_manager: pulumi.Resource
    """cert-manager: linkerd-viz's serving certificates are its."""
    anchor_expiries: dict[int, pulumi.Output[str]]
    """Trust anchor generation -> expiry: alerted 60 days ahead."""
    canaries: list[CanaryWatch]
    """Canaries whose stalls are alerted."""
    check_thresholds: dict[str, Any]
    """Recording rules holding each Canary check's threshold, for the canary dashboard."""


class Telemetry(pulumi.ComponentResource):
    """Prometheus, Grafana and the Linkerd dashboard, all reading the same Prometheus."""

    prometheus_url: str
    """In-cluster address of Prometheus; Flagger and metric templates query it."""
    grafana_admin_password: pulumi.Output[str]
    """Secret password of Grafana's admin user."""
    dashboard_commands: dict[str, str]
    """How a person opens each UI (nothing is exposed outside the cluster)."""

    def __init__(
        self, name: str, args: TelemetryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:telemetry:Telemetry", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)

        # Never meshed: Prometheus scrapes proxies' admin ports, which accept plain connections,
        # and it must start even while the proxy injector is down (prod's webhook policy is Fail).
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE, labels={"config.linkerd.io/admission-webhooks": "disabled"}
            ),
            # Always the stack's own (a `monitoring` it did not create is refused before anything
            # is created, stacks/cluster/existing_objects.py), so destroy deletes it, and with it what
            # the charts leave behind: Alertmanager's volume claim (a StatefulSet's claims
            # outlive it) and cert-manager's Secrets.
            opts=child,
        )
        storage_class = None
        if args.zone_redundant_storage and s.prometheus_persistence:
            storage_class = k8s.storage.v1.StorageClass(
                f"{name}-zone-redundant-disks",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=ZRS_STORAGE_CLASS),
                # Azure Disk CSI: a zone-redundant premium SSD attaches in any zone of the region.
                provisioner="disk.csi.azure.com",
                parameters={"skuName": "Premium_ZRS"},
                volume_binding_mode="WaitForFirstConsumer",
                allow_volume_expansion=True,
                reclaim_policy="Delete",
                opts=child,
            )
        needs: list[pulumi.Resource] = [storage_class] if storage_class else []
        alerts = args.alerting
        credentials = secret_data(
            secret_output(alerts.alert_receiver_secret), secret_output(alerts.dead_mans_switch_url)
        )
        if credentials:
            # Alertmanager reads each credential from this Secret's files (stacks/telemetry/alertmanager.py).
            needs.append(
                k8s.core.v1.Secret(
                    f"{name}-alertmanager-receivers",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=RECEIVERS_SECRET, namespace=namespace.metadata.name
                    ),
                    string_data=credentials,
                    opts=child,
                )
            )
        watched = Watched(
            webhook_namespaces=[args.linkerd_namespace, VIZ_NAMESPACE],
            canaries=args.canaries,
            persistent_volume_claim=PROMETHEUS_CLAIM if s.prometheus_persistence else None,
            storage_bytes=storage_mebibytes(s.prometheus_storage_size) * 1024**2,
            retention=s.prometheus_retention,
        )
        alerting_rules = rules(args.anchor_expiries, watched, alerts.runbook_url)
        release(
            f"{name}-prometheus",
            chart=PROMETHEUS,
            release_name=PROMETHEUS_RELEASE,
            namespace=namespace.metadata.name,
            values=_prometheus_values(
                s, alerts, storage_class is not None, alerting_rules, args.check_thresholds
            ),
            parent=self,
            depends_on=needs,
        )

        password = random.RandomPassword(
            f"{name}-grafana-admin-password", length=32, special=False, opts=child
        )
        admin_secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=GRAFANA_ADMIN_SECRET, namespace=namespace.metadata.name
            ),
            string_data={"admin-user": "admin", "admin-password": password.result},
            opts=child,
        )
        # Grafana's sidecar picks these up whenever they exist: no ordering needed.
        dashboard_config_maps(name, namespace.metadata.name, self)
        release(
            f"{name}-grafana",
            chart=GRAFANA,
            release_name=GRAFANA_RELEASE,
            namespace=namespace.metadata.name,
            values=_grafana_values(admin_secret.metadata.name),
            parent=self,
        )

        linkerd_viz(
            f"{name}-linkerd-viz",
            args.mesh,
            args.linkerd_namespace,
            PROMETHEUS_URL,
            args.cert_manager,
            args.mesh_ready,
            self,
        )

        self.prometheus_url = PROMETHEUS_URL
        self.grafana_admin_password = pulumi.Output.secret(password.result)
        # Service names: viz's web UI is "web"; Grafana's Service is named after its release.
        self.dashboard_commands = {
            "linkerd": f"kubectl -n {VIZ_NAMESPACE} port-forward svc/web 8084:8084, then http://localhost:8084",
            "grafana": f"kubectl -n {NAMESPACE} port-forward svc/{GRAFANA_RELEASE} 3000:80, then "
            "http://localhost:3000 as admin (pulumi stack output grafanaAdminPassword --show-secrets)",
            "prometheus": f"kubectl -n {NAMESPACE} port-forward svc/{PROMETHEUS_RELEASE}-server 9090:80, "
            "then http://localhost:9090",
            # The prometheus chart's alertmanager subchart: Service <release>-alertmanager, 9093.
            "alertmanager": f"kubectl -n {NAMESPACE} port-forward svc/{PROMETHEUS_RELEASE}-alertmanager "
            "9093:9093, then http://localhost:9093",
        }
        self.register_outputs(
            {"prometheus_url": self.prometheus_url, "dashboard_commands": self.dashboard_commands}
        )


def _prometheus_values(
    s: TelemetryConfig,
    alerting: AlertingConfig,
    zone_redundant: bool,
    alerting_rules: pulumi.Output[dict[str, Any]],
    recording_rules: dict[str, Any],
) -> dict[str, Any]:
    values = load_one("telemetry/prometheus-values.yaml")
    server = values["server"]
    server["retention"] = s.prometheus_retention
    server["retentionSize"] = retention_size(s.prometheus_storage_size)
    server["persistentVolume"]["enabled"] = s.prometheus_persistence
    server["persistentVolume"]["size"] = s.prometheus_storage_size
    if not s.prometheus_persistence:
        # On an emptyDir the node's disk is the limit: kubelet evicts the pod past sizeLimit,
        # so retentionSize stays below it exactly as below a volume.
        server["emptyDir"] = {"sizeLimit": s.prometheus_storage_size}
    memory = prometheus_memory_mib(s.meshed_pods)
    server["resources"] = {
        "requests": {"cpu": "200m", "memory": f"{memory}Mi"},
        "limits": {"memory": f"{memory * PROMETHEUS_LIMIT_FACTOR}Mi"},
    }
    # Proxy metrics no consumer reads are dropped at scrape time: they are most of the series.
    kept = "|".join(load_one("telemetry/proxy-metrics.yaml"))
    values["scrapeConfigs"]["linkerd-proxy"]["metric_relabel_configs"] = [
        {"source_labels": ["__name__"], "action": "keep", "regex": f"({kept})"}
    ]
    values["alertmanager"] = alertmanager_values(
        alerting.alert_receiver or "none", alerting.dead_mans_switch_url is not None
    )
    values["kube-state-metrics"]["customResourceState"]["config"] = canary_phase_metrics()
    if zone_redundant:
        server["persistentVolume"]["storageClass"] = ZRS_STORAGE_CLASS
        values["alertmanager"]["persistence"] = {"storageClass": ZRS_STORAGE_CLASS}
    values["serverFiles"] = {
        "alerting_rules.yml": alerting_rules,
        "recording_rules.yml": recording_rules,
    }
    return values


def retention_size(storage_size: str) -> str:
    """`server.retentionSize` for a volume of `storage_size` (20Gi, 500Mi): 80% of it, in
    Prometheus's units (its MB/GB/TB are powers of two, like Mi/Gi/Ti)."""
    return f"{int(storage_mebibytes(storage_size) * RETENTION_SIZE_SHARE)}MB"


def storage_mebibytes(storage_size: str) -> int:
    """A prometheusStorageSize (validated: digits then Mi, Gi or Ti) in MiB."""
    number, unit = int(storage_size[:-2]), storage_size[-2:]
    return number * {"Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}[unit]


def canary_phase_metrics() -> dict[str, Any]:
    """kube-state-metrics' custom-resource config: each Canary's status.phase as a StateSet
    (kube-state-metrics v2.20.0 pkg/customresourcestate/config.go), named CANARY_PHASE_METRIC."""
    prefix, _, metric = CANARY_PHASE_METRIC.rpartition("_")
    return {
        "spec": {
            "resources": [
                {
                    "groupVersionKind": {
                        "group": "flagger.app",
                        "version": "v1beta1",
                        "kind": "Canary",
                    },
                    "metricNamePrefix": prefix,
                    "labelsFromPath": {
                        "name": ["metadata", "name"],
                        "namespace": ["metadata", "namespace"],
                    },
                    "metrics": [
                        {
                            "name": metric,
                            "help": "The Canary's status.phase (Flagger)",
                            "each": {
                                "type": "StateSet",
                                "stateSet": {
                                    "labelName": "phase",
                                    "path": ["status", "phase"],
                                    "list": list(CANARY_PHASES),
                                },
                            },
                        }
                    ],
                }
            ]
        }
    }


def prometheus_memory_mib(meshed_pods: int) -> int:
    """Memory request of Prometheus for `meshed_pods` proxies (the limit is twice that)."""
    return PROMETHEUS_BASE_MIB + PROMETHEUS_MIB_PER_MESHED_POD * meshed_pods


def _grafana_values(admin_secret: pulumi.Output[str]) -> dict[str, Any]:
    values = load_one("telemetry/grafana-values.yaml")
    values["admin"]["existingSecret"] = admin_secret
    (datasource,) = values["datasources"]["datasources.yaml"]["datasources"]
    datasource["url"] = PROMETHEUS_URL
    return values
