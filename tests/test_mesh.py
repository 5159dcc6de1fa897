"""Mesh layer: install order, Linkerd's namespace, identity certificates Linkerd accepts, HA."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from stacks.config import HA_MIN_NODES
from tests.harness import Run, run_program

SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
CUSTOM = "kubernetes:cert-manager.io/v1:"
GATEWAY_CRDS = "kubernetes:yaml/v2:ConfigFile"


def namespace(run: Run, name: str) -> dict:
    found = [r for r in run.of_type(NAMESPACE) if r.inputs["metadata"]["name"] == name]
    assert len(found) == 1, f"namespace {name} declared {len(found)} times"
    return found[0].inputs["metadata"]


def issuer_secret(run: Run) -> dict:
    found = [
        r for r in run.of_type(SECRET) if r.inputs["metadata"]["name"] == "linkerd-identity-issuer"
    ]
    assert len(found) == 1, "static issuer Secret missing"
    return found[0]


def test_gateway_api_then_linkerd_crds_then_control_plane(stack_run: Run) -> None:
    run = stack_run
    gateway = run.one(GATEWAY_CRDS, "mesh-gateway-api-crds")
    assert gateway.inputs["file"].endswith(
        "/gateway-api/releases/download/v1.2.1/standard-install.yaml"
    )
    crds, control_plane = run.release("linkerd-crds"), run.release("linkerd-control-plane")
    assert run.waits_for(control_plane, gateway), "control plane may start before Gateway API CRDs"
    assert run.waits_for(control_plane, crds), "control plane may start before its CRDs"
    assert crds.inputs["values"] == {"installGatewayAPI": False}
    for release in (crds, control_plane):
        assert release.inputs["repositoryOpts"]["repo"] == "https://helm.linkerd.io/edge"
        assert release.inputs["version"] == "2026.8.3"
        assert release.inputs["namespace"] == "linkerd"


def test_linkerd_namespace_has_what_the_chart_expects(stack_run: Run) -> None:
    metadata = namespace(stack_run, "linkerd")
    assert metadata["labels"] == {
        "linkerd.io/is-control-plane": "true",
        "config.linkerd.io/admission-webhooks": "disabled",
        "linkerd.io/control-plane-ns": "linkerd",
        "pod-security.kubernetes.io/enforce": "privileged",
    }
    assert metadata["annotations"] == {"linkerd.io/inject": "disabled"}


def test_control_plane_reads_its_issuer_from_a_secret(stack_run: Run) -> None:
    values = stack_run.release("linkerd-control-plane").inputs["values"]
    assert values["identity"]["issuer"]["scheme"] == "kubernetes.io/tls"
    assert "tls" not in values["identity"]["issuer"], "issuer key material in Helm values"
    assert values["identityTrustAnchorsPEM"].startswith("-----BEGIN CERTIFICATE-----")
    for release in stack_run.of_type("kubernetes:helm.sh/v3:Release"):
        assert "PRIVATE KEY" not in str(release.inputs["values"]), f"{release} carries a key"


def _certificates(run: Run) -> tuple[x509.Certificate, x509.Certificate]:
    secret = issuer_secret(run)
    data = secret.inputs["stringData"]
    assert secret.is_secret("stringData/tls.key"), "issuer private key is not secret"
    anchor = x509.load_pem_x509_certificate(data["ca.crt"].encode())
    issuer = x509.load_pem_x509_certificate(data["tls.crt"].encode())
    return anchor, issuer


def test_static_identity_satisfies_linkerds_certificate_rules(runs: dict[str, Run]) -> None:
    for stack in ("dev", "local"):
        anchor, issuer = _certificates(runs[stack])
        for cert in (anchor, issuer):
            key = cert.public_key()
            assert isinstance(key, ec.EllipticCurvePublicKey), f"{stack}: not ECDSA"
            assert key.curve.name == "secp256r1", f"{stack}: curve {key.curve.name}, not P-256"
            assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
            assert cert.signature_hash_algorithm.name == "sha256"
        issuer.verify_directly_issued_by(anchor)
        assert issuer.subject.rfc4514_string() == "CN=identity.linkerd.cluster.local"
        # `linkerd check` warns below 60 days.
        left = issuer.not_valid_after_utc - dt.datetime.now(dt.UTC)
        assert left > dt.timedelta(days=60), f"{stack}: issuer expires in {left}"
        assert anchor.not_valid_after_utc > issuer.not_valid_after_utc


def test_static_issuer_is_renewed_before_linkerd_check_warns(runs: dict[str, Run]) -> None:
    issuer = runs["dev"].one("tls:index/locallySignedCert:LocallySignedCert").inputs
    assert issuer["earlyRenewalHours"] == 60 * 24
    anchor = runs["dev"].one("tls:index/selfSignedCert:SelfSignedCert").inputs
    assert "earlyRenewalHours" not in anchor, "a silently renewed anchor breaks every proxy"


def test_control_plane_starts_after_its_issuer_exists(runs: dict[str, Run]) -> None:
    dev = runs["dev"]
    assert dev.waits_for(dev.release("linkerd-control-plane"), issuer_secret(dev))
    prod = runs["prod"]
    certificate = prod.one(CUSTOM + "Certificate")
    assert prod.waits_for(prod.release("linkerd-control-plane"), certificate)
    annotations = certificate.inputs["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "condition=Ready"


def test_prod_rotates_the_issuer_with_cert_manager(runs: dict[str, Run]) -> None:
    run = runs["prod"]
    cert_manager = run.release("cert-manager")
    assert cert_manager.inputs["values"]["crds"]["enabled"] is True
    assert cert_manager.inputs["version"] == "v1.21.1"
    certificate = run.one(CUSTOM + "Certificate").inputs
    spec = certificate["spec"]
    assert certificate["metadata"] == {
        "name": "linkerd-identity-issuer",
        "namespace": "linkerd",
        "annotations": {"pulumi.com/waitFor": "condition=Ready"},
    }
    assert spec["secretName"] == "linkerd-identity-issuer"
    assert (spec["duration"], spec["renewBefore"]) == ("48h0m0s", "25h0m0s")
    assert spec["isCA"] is True
    assert spec["privateKey"] == {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}
    issuer = run.one(CUSTOM + "ClusterIssuer")
    assert spec["issuerRef"] == {"name": issuer.inputs["metadata"]["name"], "kind": "ClusterIssuer"}
    assert run.waits_for(issuer, cert_manager), "ClusterIssuer needs cert-manager's CRDs"
    anchor = [
        r for r in run.of_type(SECRET) if r.inputs["metadata"]["name"] == "linkerd-trust-anchor"
    ]
    assert len(anchor) == 1 and anchor[0].inputs["metadata"]["namespace"] == "cert-manager"
    assert issuer.inputs["spec"] == {"ca": {"secretName": "linkerd-trust-anchor"}}
    assert anchor[0].is_secret("stringData/tls.key"), "trust anchor key is not secret"
    # cert-manager owns the issuer Secret: Pulumi must not also write one.
    assert not [
        r for r in run.of_type(SECRET) if r.inputs["metadata"]["name"] == "linkerd-identity-issuer"
    ]


def test_dev_and_local_have_no_cert_manager(runs: dict[str, Run]) -> None:
    for stack in ("dev", "local"):
        names = [r.inputs["name"] for r in runs[stack].of_type("kubernetes:helm.sh/v3:Release")]
        assert "cert-manager" not in names, stack


def test_trust_anchor_expiry_is_a_stack_output(stack_run: Run) -> None:
    expiry = dt.datetime.fromisoformat(stack_run.outputs["trustAnchorExpiry"])
    assert expiry - dt.datetime.now(dt.UTC) > dt.timedelta(days=3000)


def test_prod_runs_linkerd_highly_available(runs: dict[str, Run]) -> None:
    prod = runs["prod"].release("linkerd-control-plane").inputs["values"]
    assert prod["highAvailability"] is True
    assert prod["controllerReplicas"] == 3
    assert prod["enablePodDisruptionBudget"] is True
    assert prod["enablePodAntiAffinity"] is True
    assert prod["webhookFailurePolicy"] == "Fail"
    # With Fail, the injector must not block namespaces the cluster itself depends on.
    (excluded,) = [
        e["values"]
        for e in prod["proxyInjector"]["namespaceSelector"]["matchExpressions"]
        if e["key"] == "kubernetes.io/metadata.name"
    ]
    assert {"kube-system", "cert-manager", "calico-system"} <= set(excluded)
    assert prod["identity"]["issuer"]["scheme"] == "kubernetes.io/tls", (
        "HA values clobbered identity"
    )
    for stack in ("dev", "local"):
        values = runs[stack].release("linkerd-control-plane").inputs["values"]
        assert "controllerReplicas" not in values and "webhookFailurePolicy" not in values, stack


def test_ha_needs_enough_nodes_for_its_replicas() -> None:
    from stacks.config import ConfigError

    try:
        run_program("dev", {"meshHighAvailability": True, "nodeCount": HA_MIN_NODES - 1})
    except ConfigError as error:
        assert (
            "progressive-delivery:nodeCount: got 2; allowed: >= 3 when meshHighAvailability"
            in str(error)
        )
    else:
        raise AssertionError("HA with 2 nodes was accepted")
