"""Mesh layer, identity: Linkerd's trust anchor and identity issuer, created as code.

Linkerd's rules (pkg/issuercerts): ECDSA P-256 keys, SHA-256 signatures, the issuer is a CA and
chains to the anchor; `linkerd check` warns below 60 days of validity. The control plane always
reads the issuer from the Secret `linkerd-identity-issuer` (scheme kubernetes.io/tls), so no
private key ever passes through Helm values: either Pulumi writes that Secret (static issuer), or
cert-manager issues and rotates it (identityRotation).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from stacks.helm import release
from stacks.settings import MeshSettings
from stacks.versions import CERT_MANAGER

ISSUER_SECRET = "linkerd-identity-issuer"
TRUST_ANCHOR_SECRET = "linkerd-trust-anchor"
CERT_MANAGER_NAMESPACE = "cert-manager"
TRUST_DOMAIN = "cluster.local"
# Linkerd's identity service checks the issuer against this name.
ISSUER_NAME = f"identity.linkerd.{TRUST_DOMAIN}"
ANCHOR_NAME = f"root.linkerd.{TRUST_DOMAIN}"
# `linkerd check` warns when a certificate has less than this left.
CHECK_WARNING_DAYS = 60
# cert-manager issuer lifetime and renewal, from Linkerd's rotation guide.
ROTATED_ISSUER_DURATION = "48h0m0s"
ROTATED_ISSUER_RENEW_BEFORE = "25h0m0s"
_CA_USES = ["cert_signing", "crl_signing"]


@dataclass(frozen=True)
class MeshIdentityArgs:
    settings: MeshSettings
    linkerd_namespace: pulumi.Input[str]


class MeshIdentity(pulumi.ComponentResource):
    """Trust anchor plus an identity issuer Secret the control plane can read."""

    trust_anchor_pem: pulumi.Output[str]
    """Public trust anchor certificate, handed to the control plane and every proxy."""
    trust_anchor_expiry: pulumi.Output[str]
    """RFC 3339 time the trust anchor expires: rotate it before then."""
    issuer_ready: list[pulumi.Resource]
    """What must exist before the control plane starts: the issuer Secret or Certificate."""

    def __init__(
        self, name: str, args: MeshIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:mesh:MeshIdentity", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)

        anchor_key = _ecdsa_p256_key(f"{name}-trust-anchor-key", child)
        anchor = tls.SelfSignedCert(
            f"{name}-trust-anchor",
            private_key_pem=anchor_key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=ANCHOR_NAME),
            is_ca_certificate=True,
            validity_period_hours=s.trust_anchor_validity_days * 24,
            allowed_uses=_CA_USES,
            # Never renewed silently: a new anchor must be rolled out to every proxy first.
            opts=child,
        )
        self.trust_anchor_pem = anchor.cert_pem
        self.trust_anchor_expiry = anchor.validity_end_time
        if s.identity_rotation:
            self.issuer_ready = _rotated_issuer(
                name, self, args.linkerd_namespace, anchor.cert_pem, anchor_key.private_key_pem
            )
        else:
            self.issuer_ready = [
                _static_issuer(name, self, s, args.linkerd_namespace, anchor, anchor_key)
            ]
        self.register_outputs(
            {
                "trust_anchor_pem": self.trust_anchor_pem,
                "trust_anchor_expiry": self.trust_anchor_expiry,
            }
        )


def _ecdsa_p256_key(name: str, opts: pulumi.ResourceOptions) -> tls.PrivateKey:
    # pulumi-tls defaults to P224, which Linkerd rejects.
    return tls.PrivateKey(name, algorithm="ECDSA", ecdsa_curve="P256", opts=opts)


def _static_issuer(
    name: str,
    parent: pulumi.Resource,
    s: MeshSettings,
    namespace: pulumi.Input[str],
    anchor: tls.SelfSignedCert,
    anchor_key: tls.PrivateKey,
) -> k8s.core.v1.Secret:
    """An issuer signed by the anchor; `pulumi up` renews it once fewer than 60 days are left."""
    child = pulumi.ResourceOptions(parent=parent)
    issuer_key = _ecdsa_p256_key(f"{name}-issuer-key", child)
    request = tls.CertRequest(
        f"{name}-issuer-request",
        private_key_pem=issuer_key.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name=ISSUER_NAME),
        dns_names=[ISSUER_NAME],
        opts=child,
    )
    issuer = tls.LocallySignedCert(
        f"{name}-issuer",
        cert_request_pem=request.cert_request_pem,
        ca_cert_pem=anchor.cert_pem,
        ca_private_key_pem=anchor_key.private_key_pem,
        is_ca_certificate=True,
        validity_period_hours=s.issuer_validity_days * 24,
        early_renewal_hours=CHECK_WARNING_DAYS * 24,
        allowed_uses=[*_CA_USES, "server_auth", "client_auth"],
        opts=child,
    )
    return k8s.core.v1.Secret(
        f"{name}-issuer-secret",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=ISSUER_SECRET, namespace=namespace),
        type="kubernetes.io/tls",
        string_data={
            "tls.crt": issuer.cert_pem,
            "tls.key": issuer_key.private_key_pem,
            "ca.crt": anchor.cert_pem,
        },
        opts=child,
    )


def _rotated_issuer(
    name: str,
    parent: pulumi.Resource,
    namespace: pulumi.Input[str],
    anchor_pem: pulumi.Output[str],
    anchor_key_pem: pulumi.Output[str],
) -> list[pulumi.Resource]:
    """cert-manager signs a 48h issuer with the anchor and replaces it 25h before expiry."""
    child = pulumi.ResourceOptions(parent=parent)
    cert_manager_ns = k8s.core.v1.Namespace(
        f"{name}-cert-manager-ns",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=CERT_MANAGER_NAMESPACE),
        opts=child,
    )
    cert_manager = release(
        f"{name}-cert-manager",
        chart=CERT_MANAGER,
        release_name="cert-manager",
        namespace=cert_manager_ns.metadata.name,
        # The chart installs no CRDs unless asked; keep them if the release is ever removed.
        values={"crds": {"enabled": True, "keep": True}},
        parent=parent,
    )
    # A ClusterIssuer reads its CA from cert-manager's own namespace, away from the mesh.
    anchor_secret = k8s.core.v1.Secret(
        f"{name}-trust-anchor-secret",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=TRUST_ANCHOR_SECRET, namespace=cert_manager_ns.metadata.name
        ),
        type="kubernetes.io/tls",
        string_data={"tls.crt": anchor_pem, "tls.key": anchor_key_pem},
        opts=child,
    )
    cluster_issuer = k8s.apiextensions.CustomResource(
        f"{name}-cluster-issuer",
        api_version="cert-manager.io/v1",
        kind="ClusterIssuer",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=ISSUER_SECRET),
        spec={"ca": {"secretName": anchor_secret.metadata.name}},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[cert_manager]),
    )
    certificate = k8s.apiextensions.CustomResource(
        f"{name}-issuer-certificate",
        api_version="cert-manager.io/v1",
        kind="Certificate",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=ISSUER_SECRET,
            namespace=namespace,
            # The control plane must not start before the issuer Secret exists.
            annotations={"pulumi.com/waitFor": "condition=Ready"},
        ),
        spec={
            "secretName": ISSUER_SECRET,
            "issuerRef": {"name": ISSUER_SECRET, "kind": "ClusterIssuer"},
            "commonName": ISSUER_NAME,
            "dnsNames": [ISSUER_NAME],
            "isCA": True,
            "duration": ROTATED_ISSUER_DURATION,
            "renewBefore": ROTATED_ISSUER_RENEW_BEFORE,
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["cert sign", "crl sign", "server auth", "client auth"],
        },
        # Custom resources expose metadata untyped: order by dependency, name by constant.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[cluster_issuer]),
    )
    return [certificate]
