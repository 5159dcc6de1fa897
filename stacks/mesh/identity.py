"""Mesh layer, identity: Linkerd's trust anchors (created as code) and the identity issuer cert-manager
issues from one of them and renews by itself.

Linkerd's rules (pkg/issuercerts): ECDSA P-256 keys, SHA-256 signatures, the issuer is a CA and
chains to an anchor; `linkerd check` warns below 60 days of validity. The control plane reads the
issuer from Secret `linkerd-identity-issuer` (scheme kubernetes.io/tls), so no private key ever
passes through Helm values. Each anchor generation has its own namespaced Issuer in `linkerd`, so
only that namespace can obtain certificates under the mesh's root. Rotating the anchor is a
sequence of `pulumi up` runs over trustAnchorGenerations and issuerAnchorGeneration (docs/operations.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from stacks.components.certificates import certificate, issuer
from stacks.schema.mesh import MeshConfig

ISSUER_SECRET = "linkerd-identity-issuer"
TRUST_DOMAIN = "cluster.local"
# Linkerd's identity service checks the issuer against this name.
ISSUER_NAME = f"identity.linkerd.{TRUST_DOMAIN}"
ANCHOR_NAME = f"root.linkerd.{TRUST_DOMAIN}"
# Linkerd's "Automatically rotating control plane TLS credentials": 48h, renewed 25h ahead, a new
# key every time.
ISSUER_DURATION = "48h0m0s"
ISSUER_RENEW_BEFORE = "25h0m0s"
_CA_USES = ["cert_signing", "crl_signing"]
# pulumi-tls treats a self-signed certificate as due for replacement once it is within
# early_renewal_hours of its end or past it (ready_for_renewal; tls.SelfSignedCert, pulumi-tls
# 5.6.2, default 0), and `pulumi up` then signs a new one with the same key: an extension, not a
# rotation (the key stays). Set explicitly so that, should the provider act on it
# (pulumi/pulumi-tls#39 reports it has not always), it does so before the mesh breaks, a month
# after TrustAnchorExpiring (60 days) asked for a rotation.
ANCHOR_EARLY_RENEWAL_DAYS = 30
# `pulumi up` and preview warn from the day TrustAnchorExpiring fires.
ANCHOR_WARNING_DAYS = 60


def anchor_name(generation: int) -> str:
    """Secret and Issuer of one anchor generation in the linkerd namespace."""
    return f"linkerd-trust-anchor-g{generation}"


@dataclass(frozen=True)
class MeshIdentityArgs:
    settings: MeshConfig
    linkerd_namespace: pulumi.Input[str]
    cert_manager: pulumi.Resource
    """cert-manager's release: the Issuers and the Certificate need its CRDs and controller."""


class MeshIdentity(pulumi.ComponentResource):
    """Trust anchors, one namespaced Issuer per anchor, and the identity issuer Certificate."""

    trust_anchors_pem: pulumi.Output[str]
    """Every trusted anchor's certificate, concatenated: what proxies verify peers against."""
    anchor_expiries: dict[int, pulumi.Output[str]]
    """Generation -> RFC 3339 time its anchor expires."""
    issuer_ready: list[pulumi.Resource]
    """What must exist before the control plane starts: the issued issuer Certificate."""

    def __init__(
        self, name: str, args: MeshIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:mesh:MeshIdentity", name, None, opts)
        s = args.settings
        anchors = {
            generation: self._anchor(f"{name}-anchor-g{generation}", generation, args)
            for generation in s.trust_anchor_generations
        }
        self.trust_anchors_pem = pulumi.Output.concat(
            *(anchors[g][0].cert_pem for g in sorted(anchors))
        )
        self.anchor_expiries = {g: anchors[g][0].validity_end_time for g in sorted(anchors)}
        for generation, expiry in self.anchor_expiries.items():
            expiry.apply(functools.partial(_warn_about, generation))
        signer = anchors[s.issuer_anchor_generation][1]
        self.issuer_ready = [
            certificate(
                f"{name}-issuer",
                ISSUER_SECRET,
                args.linkerd_namespace,
                {
                    "secretName": ISSUER_SECRET,
                    # Pointing it at another generation's Issuer makes cert-manager re-issue now.
                    "issuerRef": {
                        "name": anchor_name(s.issuer_anchor_generation),
                        "kind": "Issuer",
                    },
                    "commonName": ISSUER_NAME,
                    "dnsNames": [ISSUER_NAME],
                    "isCA": True,
                    "duration": ISSUER_DURATION,
                    "renewBefore": ISSUER_RENEW_BEFORE,
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                    "usages": ["cert sign", "crl sign", "server auth", "client auth"],
                },
                pulumi.ResourceOptions(parent=self, depends_on=[signer]),
            )
        ]
        self.register_outputs({"trust_anchors_pem": self.trust_anchors_pem})

    def _anchor(
        self, name: str, generation: int, args: MeshIdentityArgs
    ) -> tuple[tls.SelfSignedCert, pulumi.Resource]:
        """One anchor generation: key and self-signed CA (pulumi-tls; replacing its key is the
        rotation in docs/runbook.md, as a new anchor must reach every proxy first), its Secret
        and the Issuer that signs with it."""
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        anchor = tls.SelfSignedCert(
            name,
            private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=ANCHOR_NAME),
            is_ca_certificate=True,
            validity_period_hours=args.settings.trust_anchor_validity_days * 24,
            early_renewal_hours=ANCHOR_EARLY_RENEWAL_DAYS * 24,
            allowed_uses=_CA_USES,
            # pulumi-tls replaces a certificate when any input changes: a new
            # trustAnchorValidityDays would swap this generation's anchor under every proxy, a
            # rotation without the phase that trusts both. It applies to new generations.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["validityPeriodHours"]),
        )
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=anchor_name(generation), namespace=args.linkerd_namespace
            ),
            type="kubernetes.io/tls",
            string_data={"tls.crt": anchor.cert_pem, "tls.key": key.private_key_pem},
            opts=child,
        )
        signer = issuer(
            f"{name}-issuer",
            anchor_name(generation),
            args.linkerd_namespace,
            {"ca": {"secretName": anchor_name(generation)}},
            pulumi.ResourceOptions(parent=self, depends_on=[secret, args.cert_manager]),
        )
        return anchor, signer


def anchor_warning(generation: int, end: str, now: datetime | None = None) -> str | None:
    """What `pulumi up` says about an anchor expiring within ANCHOR_WARNING_DAYS, or past it."""
    expiry = datetime.fromisoformat(end.replace("Z", "+00:00"))
    left = expiry - (now or datetime.now(UTC))
    if left.days >= ANCHOR_WARNING_DAYS:
        return None
    if left.total_seconds() <= 0:
        return (
            f"trust anchor generation {generation} expired on {expiry:%Y-%m-%d}: Linkerd's "
            "identity refuses every certificate request and proxies lose mTLS as their 24 h "
            "certificates run out. Recovery: docs/runbook.md#trustanchorexpiring."
        )
    return (
        f"trust anchor generation {generation} expires on {expiry:%Y-%m-%d} (in {left.days} "
        "days): rotate it (docs/runbook.md#trustanchorexpiring). pulumi-tls is set to re-sign "
        f"it with the same key from {ANCHOR_EARLY_RENEWAL_DAYS} days before its end; that "
        "extends it, it does not rotate it."
    )


def _warn_about(generation: int, end: str) -> None:
    """Logs anchor_warning, if any: `pulumi preview` and `up` show it."""
    message = anchor_warning(generation, end)
    if message:
        pulumi.log.warn(message)
