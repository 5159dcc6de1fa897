"""Mesh layer: Gateway API CRDs, then Linkerd's CRDs and control plane as Helm releases (edge channel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks.helm import release
from stacks.identity import MeshIdentity, MeshIdentityArgs
from stacks.manifests import load_one
from stacks.settings import MeshSettings
from stacks.versions import LINKERD_REPO, Chart, gateway_api_crds_url

NAMESPACE = "linkerd"


@dataclass(frozen=True)
class MeshArgs:
    settings: MeshSettings


class Mesh(pulumi.ComponentResource):
    """Linkerd with mTLS identity and Gateway API traffic splitting."""

    namespace: str
    """Namespace of the control plane (also the value of proxies' control-plane-ns label)."""
    control_plane: k8s.helm.v3.Release
    """Depend on this to start only once the proxy injector admits pods."""
    trust_anchor_expiry: pulumi.Output[str]
    """When the trust anchor expires."""

    def __init__(
        self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:mesh:Mesh", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        chart = _linkerd_charts(s.linkerd_version)

        # Since 2.18 Linkerd no longer ships Gateway API CRDs; its policy controller and Flagger's
        # HTTPRoutes need them before the control plane starts.
        gateway_api = k8s.yaml.v2.ConfigFile(
            f"{name}-gateway-api-crds",
            file=gateway_api_crds_url(s.gateway_api_version),
            opts=child,
        )
        # Helm-installed Linkerd does not create its namespace; these are the labels the CLI
        # would set. Privileged pod security: proxy-init needs NET_ADMIN without linkerd-cni.
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE,
                labels={
                    "linkerd.io/is-control-plane": "true",
                    "config.linkerd.io/admission-webhooks": "disabled",
                    "linkerd.io/control-plane-ns": NAMESPACE,
                    "pod-security.kubernetes.io/enforce": "privileged",
                },
                annotations={"linkerd.io/inject": "disabled"},
            ),
            opts=child,
        )
        crds = release(
            f"{name}-crds",
            chart=chart["linkerd-crds"],
            release_name="linkerd-crds",
            namespace=namespace.metadata.name,
            # Gateway API comes from its own pinned release above, not Linkerd's old copy.
            values={"installGatewayAPI": False},
            parent=self,
        )
        identity = MeshIdentity(
            f"{name}-identity",
            MeshIdentityArgs(settings=s, linkerd_namespace=namespace.metadata.name),
            opts=child,
        )
        self.control_plane = release(
            f"{name}-control-plane",
            chart=chart["linkerd-control-plane"],
            release_name="linkerd-control-plane",
            namespace=namespace.metadata.name,
            values=_control_plane_values(s, identity.trust_anchor_pem),
            parent=self,
            depends_on=[gateway_api, crds, *identity.issuer_ready],
        )
        self.namespace = NAMESPACE
        self.trust_anchor_expiry = identity.trust_anchor_expiry
        self.register_outputs({"trust_anchor_expiry": self.trust_anchor_expiry})


def _linkerd_charts(version: str) -> dict[str, Chart]:
    return {
        chart: Chart(LINKERD_REPO, chart, version)
        for chart in ("linkerd-crds", "linkerd-control-plane")
    }


def _control_plane_values(s: MeshSettings, trust_anchor_pem: pulumi.Output[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "identityTrustAnchorsPEM": trust_anchor_pem,
        # Read the issuer from Secret linkerd-identity-issuer (Pulumi's or cert-manager's),
        # so its private key never appears in Helm values.
        "identity": {"issuer": {"scheme": "kubernetes.io/tls"}},
        # No phone-home from production clusters.
        "disableHeartBeat": True,
    }
    if s.high_availability:
        # The chart's values-ha.yaml, restated: a Release takes values, not extra -f files.
        values |= load_one("linkerd/values-ha.yaml")
    return values
