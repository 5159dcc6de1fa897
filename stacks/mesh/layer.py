"""Mesh layer: cert-manager, Gateway API CRDs, then Linkerd's CRDs and control plane (edge channel).

Every certificate the mesh uses is cert-manager's and renews itself: the identity issuer (48 h,
identity.py) and the serving certificates of the proxy injector and the two validators (a year,
instead of the charts' own 365-day self-signed ones, which only a Helm upgrade would renew).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks.components.certificates import (
    ServingCert,
    WebhookCertificates,
    WebhookCertificatesArgs,
    inject_ca_values,
)
from stacks.components.crds import apply_crds
from stacks.components.helm import release
from stacks.manifests import load_one
from stacks.mesh.identity import MeshIdentity, MeshIdentityArgs
from stacks.pins import CERT_MANAGER, GATEWAY_API_CRDS, LINKERD_REPO, Chart
from stacks.schema.mesh import MeshConfig

NAMESPACE = "linkerd"
CERT_MANAGER_NAMESPACE = "cert-manager"
# The control plane's webhooks: chart value key -> the certificate its templates expect
# (Secret names are fixed by linkerd-control-plane's templates; Linkerd's "Automatically
# rotating webhook TLS credentials" names the Certificates).
WEBHOOKS = {
    "proxyInjector": ServingCert(
        "linkerd-proxy-injector", "linkerd-proxy-injector-k8s-tls", "linkerd-proxy-injector"
    ),
    "profileValidator": ServingCert(
        "linkerd-sp-validator", "linkerd-sp-validator-k8s-tls", "linkerd-sp-validator"
    ),
    "policyValidator": ServingCert(
        "linkerd-policy-validator",
        "linkerd-policy-validator-k8s-tls",
        "linkerd-policy-validator",
        pkcs8=True,
    ),
}


@dataclass(frozen=True)
class MeshArgs:
    settings: MeshConfig
    shared_cluster: bool
    """The cluster is not the stack's own (local): keep cluster-wide CRDs on destroy."""
    keep_gateway_api: bool = False
    """Gateway API CRDs of an accepted version were installed by someone else (local): use them
    as they are, never apply, adopt or delete them (stacks/cluster/existing_objects.py)."""


class Mesh(pulumi.ComponentResource):
    """cert-manager, and Linkerd with mTLS identity and Gateway API traffic splitting."""

    namespace: str
    """Namespace of the control plane (also the value of proxies' control-plane-ns label)."""
    control_plane: k8s.helm.v3.Release
    """Depend on this to start only once the proxy injector admits pods."""
    cert_manager: k8s.helm.v3.Release
    """Depend on this to create cert-manager Issuers and Certificates."""
    anchor_expiries: dict[int, pulumi.Output[str]]
    """Trust anchor generation -> when it expires."""

    def __init__(
        self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:mesh:Mesh", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        chart = _linkerd_charts(s.linkerd_version)

        cert_manager_ns = k8s.core.v1.Namespace(
            f"{name}-cert-manager-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=CERT_MANAGER_NAMESPACE),
            opts=child,
        )
        self.cert_manager = release(
            f"{name}-cert-manager",
            chart=CERT_MANAGER,
            release_name="cert-manager",
            namespace=cert_manager_ns.metadata.name,
            # The chart installs no CRDs unless asked; keep them if the release is ever removed.
            values={"crds": {"enabled": True, "keep": True}},
            parent=self,
        )
        # Since 2.18 Linkerd no longer ships Gateway API CRDs; its policy controller and Flagger's
        # HTTPRoutes need them before the control plane starts.
        gateway_api = (
            []
            if args.keep_gateway_api
            else apply_crds(
                f"{name}-gateway-api",
                GATEWAY_API_CRDS[s.gateway_api_version],
                self,
                keep=args.shared_cluster,
            )
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
            # Gateway API comes from its own pinned files above, not Linkerd's old copy.
            values={"installGatewayAPI": False},
            parent=self,
        )
        identity = MeshIdentity(
            f"{name}-identity",
            MeshIdentityArgs(
                settings=s,
                linkerd_namespace=namespace.metadata.name,
                cert_manager=self.cert_manager,
            ),
            opts=child,
        )
        webhooks = WebhookCertificates(
            f"{name}-webhook-certs",
            WebhookCertificatesArgs(NAMESPACE, list(WEBHOOKS.values()), self.cert_manager),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
        )
        self.control_plane = release(
            f"{name}-control-plane",
            chart=chart["linkerd-control-plane"],
            release_name="linkerd-control-plane",
            namespace=namespace.metadata.name,
            values=_control_plane_values(s, identity.trust_anchors_pem),
            parent=self,
            depends_on=[*gateway_api, crds, *identity.issuer_ready, *webhooks.ready],
        )
        self.namespace = NAMESPACE
        self.anchor_expiries = identity.anchor_expiries
        self.register_outputs({})


def _linkerd_charts(version: str) -> dict[str, Chart]:
    return {
        chart: Chart(LINKERD_REPO, chart, version)
        for chart in ("linkerd-crds", "linkerd-control-plane")
    }


def _control_plane_values(s: MeshConfig, trust_anchors_pem: pulumi.Output[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        # Every trusted anchor: two during a rotation. A change rolls the control plane (the
        # chart's linkerd.io/trust-root-sha256 pod annotation).
        "identityTrustAnchorsPEM": trust_anchors_pem,
        # Read the issuer from Secret linkerd-identity-issuer, which cert-manager issues, so its
        # private key never appears in Helm values.
        "identity": {"issuer": {"scheme": "kubernetes.io/tls"}},
        # No phone-home from production clusters.
        "disableHeartBeat": True,
        **{key: inject_ca_values(NAMESPACE, cert) for key, cert in WEBHOOKS.items()},
    }
    if s.high_availability:
        # The chart's values-ha.yaml, restated: a Release takes values, not extra -f files.
        ha = load_one("linkerd/values-ha.yaml")
        # Keep the injector's own selector from values-ha.yaml next to the certificate values.
        values["proxyInjector"] = {**ha.pop("proxyInjector"), **values["proxyInjector"]}
        values |= ha
    return values
