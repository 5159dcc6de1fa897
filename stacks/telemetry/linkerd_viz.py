"""Telemetry layer, linkerd-viz: the Linkerd dashboard on the platform's Prometheus, with tap's
serving certificates from cert-manager (renewed by it, unlike the chart's own 365-day ones)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks.components.certificates import (
    ServingCert,
    WebhookCertificates,
    WebhookCertificatesArgs,
    inject_ca_values,
)
from stacks.components.helm import release
from stacks.pins import LINKERD_REPO, Chart
from stacks.schema.mesh import MeshConfig

NAMESPACE = "linkerd-viz"
# Chart value key -> certificate (Secret names fixed by linkerd-viz's tap-rbac.yaml and
# tap-injector-rbac.yaml; Certificate names as in Linkerd's webhook-rotation guide).
SERVING_CERTS = {
    "tap": ServingCert("tap", "tap-k8s-tls", "tap"),
    "tapInjector": ServingCert("linkerd-tap-injector", "tap-injector-k8s-tls", "tap-injector"),
}


def linkerd_viz(
    name: str,
    mesh: MeshConfig,
    linkerd_namespace: str,
    prometheus_url: str,
    cert_manager: pulumi.Resource,
    mesh_ready: pulumi.Resource,
    parent: pulumi.Resource,
) -> k8s.helm.v3.Release:
    # Helm-installed viz does not create its namespace; `linkerd viz` commands find it by this
    # label and read the external Prometheus from the annotation.
    namespace = k8s.core.v1.Namespace(
        f"{name}-namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=NAMESPACE,
            labels={
                "linkerd.io/extension": "viz",
                "pod-security.kubernetes.io/enforce": "privileged",
            },
            annotations={"viz.linkerd.io/external-prometheus": prometheus_url},
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    certificates = WebhookCertificates(
        f"{name}-webhook-certs",
        WebhookCertificatesArgs(NAMESPACE, list(SERVING_CERTS.values()), cert_manager),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[namespace]),
    )
    return release(
        name,
        chart=Chart(LINKERD_REPO, "linkerd-viz", mesh.linkerd_version),
        release_name="linkerd-viz",
        namespace=namespace.metadata.name,
        values=_values(mesh, linkerd_namespace, prometheus_url),
        parent=parent,
        depends_on=[mesh_ready, *certificates.ready],
    )


def _values(mesh: MeshConfig, linkerd_namespace: str, prometheus_url: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "linkerdNamespace": linkerd_namespace,
        # Use the platform's Prometheus, not viz's own one that keeps 6 hours in memory.
        "prometheus": {"enabled": False},
        "prometheusUrl": prometheus_url,
        **{key: inject_ca_values(NAMESPACE, cert) for key, cert in SERVING_CERTS.items()},
    }
    if mesh.high_availability:
        values |= {"enablePodAntiAffinity": True, "enablePodDisruptionBudget": True}
        values["tap"] = {**values["tap"], "replicas": 3}
        values["metricsAPI"] = {"replicas": 3}
    return values
