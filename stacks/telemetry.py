"""Telemetry layer: Prometheus scraping Linkerd's proxies, Grafana with Linkerd's dashboards, linkerd-viz."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from stacks.dashboards import dashboard_config_maps
from stacks.helm import release
from stacks.manifests import load_one
from stacks.settings import MeshSettings, TelemetrySettings
from stacks.versions import GRAFANA, LINKERD_REPO, PROMETHEUS, Chart

NAMESPACE = "monitoring"
VIZ_NAMESPACE = "linkerd-viz"
PROMETHEUS_RELEASE = "prometheus"
GRAFANA_RELEASE = "grafana"
GRAFANA_ADMIN_SECRET = "grafana-admin"
ZRS_STORAGE_CLASS = "managed-csi-premium-zrs"
# The chart names the server Service <release>-server and serves it on port 80.
PROMETHEUS_URL = f"http://{PROMETHEUS_RELEASE}-server.{NAMESPACE}.svc.cluster.local:80"


@dataclass(frozen=True)
class TelemetryArgs:
    settings: TelemetrySettings
    mesh: MeshSettings
    linkerd_namespace: str
    mesh_ready: pulumi.Resource
    """The Linkerd control plane: linkerd-viz is meshed and must wait for the injector."""


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
            opts=child,
        )
        storage_class = None
        if s.zone_redundant_storage and s.prometheus_persistence:
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
        release(
            f"{name}-prometheus",
            chart=PROMETHEUS,
            release_name=PROMETHEUS_RELEASE,
            namespace=namespace.metadata.name,
            values=_prometheus_values(s, storage_class is not None),
            parent=self,
            depends_on=[storage_class] if storage_class else [],
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

        # Helm-installed viz does not create its namespace; `linkerd viz` commands find it by
        # this label and read the external Prometheus from the annotation.
        viz_namespace = k8s.core.v1.Namespace(
            f"{name}-viz-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=VIZ_NAMESPACE,
                labels={
                    "linkerd.io/extension": "viz",
                    "pod-security.kubernetes.io/enforce": "privileged",
                },
                annotations={"viz.linkerd.io/external-prometheus": PROMETHEUS_URL},
            ),
            opts=child,
        )
        release(
            f"{name}-linkerd-viz",
            chart=Chart(LINKERD_REPO, "linkerd-viz", args.mesh.linkerd_version),
            release_name="linkerd-viz",
            namespace=viz_namespace.metadata.name,
            values=_viz_values(args.mesh, args.linkerd_namespace),
            parent=self,
            depends_on=[args.mesh_ready],
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
        }
        self.register_outputs(
            {"prometheus_url": self.prometheus_url, "dashboard_commands": self.dashboard_commands}
        )


def _prometheus_values(s: TelemetrySettings, zone_redundant: bool) -> dict[str, Any]:
    values = load_one("telemetry/prometheus-values.yaml")
    server = values["server"]
    server["retention"] = s.prometheus_retention
    server["persistentVolume"]["enabled"] = s.prometheus_persistence
    server["persistentVolume"]["size"] = s.prometheus_storage_size
    if zone_redundant:
        server["persistentVolume"]["storageClass"] = ZRS_STORAGE_CLASS
    return values


def _grafana_values(admin_secret: pulumi.Output[str]) -> dict[str, Any]:
    values = load_one("telemetry/grafana-values.yaml")
    values["admin"]["existingSecret"] = admin_secret
    (datasource,) = values["datasources"]["datasources.yaml"]["datasources"]
    datasource["url"] = PROMETHEUS_URL
    return values


def _viz_values(mesh: MeshSettings, linkerd_namespace: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "linkerdNamespace": linkerd_namespace,
        # Use the platform's Prometheus, not viz's own one that keeps 6 hours in memory.
        "prometheus": {"enabled": False},
        "prometheusUrl": PROMETHEUS_URL,
    }
    if mesh.high_availability:
        values |= {
            "enablePodAntiAffinity": True,
            "enablePodDisruptionBudget": True,
            "tap": {"replicas": 3},
            "metricsAPI": {"replicas": 3},
        }
    return values
