"""Building block: cert-manager issuers and certificates, and webhook serving certificates.

Everything here is renewed by cert-manager itself, so no certificate depends on someone running
`pulumi up`. Certificates are created with `pulumi.com/waitFor: condition=Ready`, so whatever
mounts their Secret starts only once it exists. Namespaced Issuers only: an Issuer serves
Certificates of its own namespace and reads its CA from there (cert-manager
pkg/issuer/ca/setup.go:46-57), so no other namespace can obtain certificates from these CAs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

API_VERSION = "cert-manager.io/v1"
READY = {"pulumi.com/waitFor": "condition=Ready"}
# Webhook serving certificates live a year and are renewed 90 days ahead, so `linkerd check`'s
# 60-day warning never shows while cert-manager works; an alert fires under 30 days.
SERVING_DURATION = "8760h0m0s"
SERVING_RENEW_BEFORE = "2160h0m0s"
# The CA that signs them: 5 years, renewed one year ahead with the same key (rotationPolicy
# Never, set explicitly: cert-manager v1.21.1 defaults to Always, feature gate
# DefaultPrivateKeyRotationPolicyAlways, internal/controller/feature/features.go:234), so the
# serving certificates it signed stay valid across its renewal while caBundle changes.
WEBHOOK_CA_DURATION = "43800h0m0s"
WEBHOOK_CA_RENEW_BEFORE = "8760h0m0s"
# The namespaced CA Issuer that signs every webhook serving certificate (alerts select by it).
WEBHOOK_ISSUER = "webhook-issuer"


def issuer(
    name: str,
    issuer_name: str,
    namespace: pulumi.Input[str],
    spec: dict[str, Any],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    return _cert_manager("Issuer", name, issuer_name, namespace, spec, opts, None)


def certificate(
    name: str,
    certificate_name: str,
    namespace: pulumi.Input[str],
    spec: dict[str, Any],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """A Certificate that Pulumi reports created only once cert-manager has issued it."""
    return _cert_manager("Certificate", name, certificate_name, namespace, spec, opts, READY)


def _cert_manager(
    kind: str,
    name: str,
    object_name: str,
    namespace: pulumi.Input[str],
    spec: dict[str, Any],
    opts: pulumi.ResourceOptions,
    annotations: dict[str, str] | None,
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name,
        api_version=API_VERSION,
        kind=kind,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=object_name, namespace=namespace, annotations=annotations
        ),
        spec=spec,
        opts=opts,
    )


@dataclass(frozen=True)
class ServingCert:
    """One webhook's serving certificate, named as its chart expects."""

    certificate: str
    """Certificate name; the chart's injectCaFrom points at <namespace>/<certificate>."""
    secret: str
    """The Secret the chart mounts (its name is fixed by the chart)."""
    service: str
    """The webhook's Service; the API server calls <service>.<namespace>.svc."""
    pkcs8: bool = False


@dataclass(frozen=True)
class WebhookCertificatesArgs:
    namespace: str
    certs: Sequence[ServingCert]
    cert_manager: pulumi.Resource
    """cert-manager's release: its CRDs and controller must exist first."""


class WebhookCertificates(pulumi.ComponentResource):
    """A private CA in one namespace and its webhooks' serving certificates, all cert-manager's."""

    ready: list[pulumi.Resource]
    """The serving Certificates, Ready: what mounts their Secrets waits for these."""

    def __init__(
        self, name: str, args: WebhookCertificatesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:certificates:WebhookCertificates", name, None, opts)
        ns = args.namespace
        after_cert_manager = pulumi.ResourceOptions(parent=self, depends_on=[args.cert_manager])
        bootstrap = issuer(
            f"{name}-selfsigned", "webhook-selfsigned", ns, {"selfSigned": {}}, after_cert_manager
        )
        ca = certificate(
            f"{name}-ca",
            "webhook-ca",
            ns,
            {
                "isCA": True,
                "commonName": f"webhook.{ns}.cluster.local",
                "secretName": "webhook-ca",
                "duration": WEBHOOK_CA_DURATION,
                "renewBefore": WEBHOOK_CA_RENEW_BEFORE,
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Never"},
                "issuerRef": {"name": "webhook-selfsigned", "kind": "Issuer"},
            },
            pulumi.ResourceOptions(parent=self, depends_on=[bootstrap]),
        )
        signer = issuer(
            f"{name}-issuer",
            WEBHOOK_ISSUER,
            ns,
            {"ca": {"secretName": "webhook-ca"}},
            pulumi.ResourceOptions(parent=self, depends_on=[ca]),
        )
        self.ready = [
            certificate(
                f"{name}-{cert.certificate}",
                cert.certificate,
                ns,
                _serving_spec(cert, ns),
                pulumi.ResourceOptions(parent=self, depends_on=[signer]),
            )
            for cert in args.certs
        ]
        self.register_outputs({})


def _serving_spec(cert: ServingCert, namespace: str) -> dict[str, Any]:
    host = f"{cert.service}.{namespace}.svc"
    private_key: dict[str, Any] = {"algorithm": "ECDSA", "size": 256}
    if cert.pkcs8:
        private_key["encoding"] = "PKCS8"  # the Rust policy controller reads PKCS#8 keys
    return {
        "secretName": cert.secret,
        "commonName": host,
        "dnsNames": [host],
        "duration": SERVING_DURATION,
        "renewBefore": SERVING_RENEW_BEFORE,
        "usages": ["server auth"],
        "privateKey": private_key,
        "issuerRef": {"name": WEBHOOK_ISSUER, "kind": "Issuer"},
    }


def inject_ca_values(namespace: str, cert: ServingCert) -> dict[str, Any]:
    """The chart values that make a webhook use cert-manager's Secret and CA (linkerd charts'
    externalSecret + injectCaFrom; the chart's own 365-day self-signed one is then unused)."""
    return {"externalSecret": True, "injectCaFrom": f"{namespace}/{cert.certificate}"}
