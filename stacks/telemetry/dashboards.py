"""Telemetry layer, dashboards: Linkerd's pinned dashboards and the canary dashboard as ConfigMaps.

Grafana's dashboard sidecar loads every ConfigMap labelled grafana_dashboard=1 in its namespace,
into the folder its grafana_folder annotation names. Linkerd's files are read at `pulumi up` from
their pinned sources (stacks/pins.py); the canary dashboard is the project's own JSON in
manifests/telemetry/dashboards/.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from stacks.components import pinned
from stacks.manifests import MANIFESTS
from stacks.pins import LINKERD_DASHBOARDS

DASHBOARD_LABEL = {"grafana_dashboard": "1"}  # manifests/telemetry/grafana-values.yaml
FOLDER_ANNOTATION = "grafana_folder"
CANARY_DASHBOARD = MANIFESTS / "telemetry" / "dashboards" / "canary-releases.json"


def dashboards() -> dict[str, tuple[str, str]]:
    """File name -> (Grafana folder, JSON text) of every dashboard the platform provisions."""
    found = {
        f"linkerd-{name}.json": ("Linkerd", pinned.read_text(file))
        for name, file in LINKERD_DASHBOARDS.items()
    }
    found[CANARY_DASHBOARD.name] = ("Progressive delivery", CANARY_DASHBOARD.read_text())
    return found


def dashboard_config_maps(
    name: str, namespace: pulumi.Input[str], parent: pulumi.Resource
) -> list[k8s.core.v1.ConfigMap]:
    """One ConfigMap per dashboard (each under the 1 MiB ConfigMap limit on its own)."""
    return [
        k8s.core.v1.ConfigMap(
            f"{name}-dashboard-{file_name.removesuffix('.json')}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"dashboard-{file_name.removesuffix('.json')}",
                namespace=namespace,
                labels=DASHBOARD_LABEL,
                annotations={FOLDER_ANNOTATION: folder},
            ),
            data={file_name: text},
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for file_name, (folder, text) in dashboards().items()
    ]
