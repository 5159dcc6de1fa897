"""Delivery layer: Flagger, meshed, steering Linkerd through the Gateway API and reading Prometheus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks.components.crds import apply_crds
from stacks.components.helm import release
from stacks.pins import FLAGGER, FLAGGER_CRDS
from stacks.schema.delivery import DeliveryConfig

NAMESPACE = "flagger-system"
# Flagger's Gateway API router writing HTTPRoute gateway.networking.k8s.io/v1beta1, as Flagger's
# own Linkerd setup does (fluxcd/flagger v1.44.0 kustomize/linkerd/patch.yaml:
# -mesh-provider=gatewayapi:v1beta1). Not "gatewayapi:v1": its router (pkg/router/gateway_api.go:
# 271-288, GetRoutes) waits for the route's Accepted condition to carry the route's generation,
# and Linkerd's policy controller writes that condition without observedGeneration
# (policy-controller/k8s/status/src/index.rs, edge-26.8.3; linkerd2#14964), so every release
# would stall before the canary gets traffic. "linkerd" would mean SMI TrafficSplit (deprecated
# linkerd-smi); an empty value silently means istio.
MESH_PROVIDER = "gatewayapi:v1beta1"


@dataclass(frozen=True)
class DeliveryArgs:
    settings: DeliveryConfig
    prometheus_url: str
    cluster_name: str
    shared_cluster: bool
    """The cluster is not the stack's own (local): keep the cluster-wide CRDs on destroy."""
    mesh_ready: pulumi.Resource
    """The Linkerd control plane: Flagger is meshed and must wait for the injector."""


class Delivery(pulumi.ComponentResource):
    """Flagger and its CRDs."""

    flagger: k8s.helm.v3.Release
    """Canaries, metric templates and alert providers depend on this: its CRDs must exist first,
    and on teardown they go before Flagger."""

    def __init__(
        self, name: str, args: DeliveryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:delivery:Delivery", name, None, opts)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE, annotations={"linkerd.io/inject": "enabled"}
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.mesh_ready]),
        )
        # Helm installs a chart's crds/ once and never upgrades them; applying the CRDs of the
        # pinned version here upgrades them together with the chart.
        crds = apply_crds(
            f"{name}-flagger", [FLAGGER_CRDS[FLAGGER.version]], self, keep=args.shared_cluster
        )
        self.flagger = release(
            f"{name}-flagger",
            chart=FLAGGER,
            release_name="flagger",
            namespace=namespace.metadata.name,
            values=_flagger_values(args),
            parent=self,
            depends_on=crds,
            skip_crds=True,
        )
        self.register_outputs({})


def _flagger_values(args: DeliveryArgs) -> dict[str, Any]:
    values: dict[str, Any] = {
        "meshProvider": MESH_PROVIDER,
        "metricsServer": args.prometheus_url,
        # Our Prometheus is not meshed, so no Linkerd AuthorizationPolicy is needed to reach it
        # (that policy is only for linkerd-viz's own Prometheus).
        "linkerdAuthPolicy": {"create": False},
        "clusterName": args.cluster_name,
    }
    replicas = args.settings.flagger_replicas
    if replicas > 1:
        # The chart has no top-level replicaCount: replicas come with leader election.
        values["leaderElection"] = {"enabled": True, "replicaCount": replicas}
    return values
