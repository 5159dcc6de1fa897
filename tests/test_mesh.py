"""Mesh layer: install order, Linkerd's namespace, certificates that renew themselves, HA."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from stacks.components.ownership import OWNER_LABEL, owner_id
from stacks.schema import HA_MIN_NODES
from tests.harness import Run, run_program

SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
CERT_MANAGER = "kubernetes:cert-manager.io/v1:"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
ANCHOR = "tls:index/selfSignedCert:SelfSignedCert"


def namespace(run: Run, name: str) -> dict:
    found = [r for r in run.of_type(NAMESPACE) if r.inputs["metadata"]["name"] == name]
    assert len(found) == 1, f"namespace {name} declared {len(found)} times"
    return found[0].inputs["metadata"]


def cert_manager_objects(run: Run, kind: str, namespace: str | None = None) -> dict[str, dict]:
    return {
        r.inputs["metadata"]["name"]: r.inputs
        for r in run.of_type(CERT_MANAGER + kind)
        if namespace is None or r.inputs["metadata"].get("namespace") == namespace
    }


def test_gateway_api_then_linkerd_crds_then_control_plane(stack_run: Run) -> None:
    run = stack_run
    gateway = [
        c for c in run.of_type(CRD) if c.inputs["spec"]["group"] == "gateway.networking.k8s.io"
    ]
    assert {c.inputs["metadata"]["name"] for c in gateway} == {
        f"{kind}.gateway.networking.k8s.io"
        for kind in ("gatewayclasses", "gateways", "grpcroutes", "httproutes", "referencegrants")
    }
    assert {
        c.inputs["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"]
        for c in gateway
    } == {"v1.2.1"}
    crds, control_plane = run.release("linkerd-crds"), run.release("linkerd-control-plane")
    for crd in gateway:
        assert run.waits_for(control_plane, crd), "control plane may start before Gateway API"
        # A shared (local) cluster may have had them before, or others may use them.
        assert crd.retain_on_delete is (run.stack == "local")
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
        # What the stack created, so a later run (local stack) knows its own.
        OWNER_LABEL: owner_id("progressive-delivery", stack_run.stack),
    }
    assert metadata["annotations"] == {"linkerd.io/inject": "disabled"}


def test_control_plane_reads_its_issuer_from_a_secret(stack_run: Run) -> None:
    values = stack_run.release("linkerd-control-plane").inputs["values"]
    assert values["identity"]["issuer"]["scheme"] == "kubernetes.io/tls"
    assert "tls" not in values["identity"]["issuer"], "issuer key material in Helm values"
    assert values["identityTrustAnchorsPEM"].startswith("-----BEGIN CERTIFICATE-----")
    for release in stack_run.of_type("kubernetes:helm.sh/v3:Release"):
        assert "PRIVATE KEY" not in str(release.inputs["values"]), f"{release} carries a key"


def test_cert_manager_issues_the_identity_issuer_in_every_stack(stack_run: Run) -> None:
    run = stack_run
    cert_manager = run.release("cert-manager")
    assert cert_manager.inputs["values"]["crds"]["enabled"] is True
    assert cert_manager.inputs["version"] == "v1.21.1"
    certificate = cert_manager_objects(run, "Certificate", "linkerd")["linkerd-identity-issuer"]
    assert certificate["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}
    spec = certificate["spec"]
    # Linkerd's "Automatically rotating control plane TLS credentials".
    assert spec["secretName"] == "linkerd-identity-issuer"
    assert (spec["duration"], spec["renewBefore"]) == ("48h0m0s", "25h0m0s")
    assert spec["isCA"] is True
    assert spec["commonName"] == "identity.linkerd.cluster.local"
    assert spec["privateKey"] == {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}
    assert spec["issuerRef"] == {"name": "linkerd-trust-anchor-g1", "kind": "Issuer"}
    # cert-manager owns the issuer Secret: Pulumi must not also write one.
    assert not [
        r for r in run.of_type(SECRET) if r.inputs["metadata"]["name"] == "linkerd-identity-issuer"
    ]


def test_only_the_linkerd_namespace_can_mint_certificates_under_the_mesh_root(
    stack_run: Run,
) -> None:
    run = stack_run
    assert run.of_type(CERT_MANAGER + "ClusterIssuer") == [], "any namespace could use it"
    issuer = cert_manager_objects(run, "Issuer", "linkerd")["linkerd-trust-anchor-g1"]
    assert issuer["spec"] == {"ca": {"secretName": "linkerd-trust-anchor-g1"}}
    (anchor_secret,) = [
        r for r in run.of_type(SECRET) if r.inputs["metadata"]["name"] == "linkerd-trust-anchor-g1"
    ]
    # A namespaced Issuer reads its CA from its own namespace (cert-manager ca/setup.go:46-57).
    assert anchor_secret.inputs["metadata"]["namespace"] == "linkerd"
    assert anchor_secret.is_secret("stringData/tls.key"), "trust anchor key is not secret"


def test_trust_anchor_satisfies_linkerds_certificate_rules(stack_run: Run) -> None:
    (anchor_resource,) = stack_run.of_type(ANCHOR)
    # A re-sign keeps the key and name: proxies verify chains against the anchor's name and key
    # only (rustls's RootCertStore keeps subject and key, not validity; linkerd2-proxy v2.366.0
    # linkerd/meshtls/src/creds.rs), so it extends the anchor without breaking them.
    assert anchor_resource.inputs["earlyRenewalHours"] == 30 * 24
    pem = stack_run.release("linkerd-control-plane").inputs["values"]["identityTrustAnchorsPEM"]
    anchor = x509.load_pem_x509_certificate(pem.encode())
    key = anchor.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert anchor.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert anchor.signature_hash_algorithm.name == "sha256"
    assert anchor.subject.rfc4514_string() == "CN=root.linkerd.cluster.local"


def test_control_plane_waits_for_every_certificate_it_mounts(stack_run: Run) -> None:
    run = stack_run
    control_plane = run.release("linkerd-control-plane")
    certificates = cert_manager_objects(run, "Certificate", "linkerd")
    values = control_plane.inputs["values"]
    for key, (name, secret, host) in {
        "proxyInjector": (
            "linkerd-proxy-injector",
            "linkerd-proxy-injector-k8s-tls",
            "linkerd-proxy-injector.linkerd.svc",
        ),
        "profileValidator": (
            "linkerd-sp-validator",
            "linkerd-sp-validator-k8s-tls",
            "linkerd-sp-validator.linkerd.svc",
        ),
        "policyValidator": (
            "linkerd-policy-validator",
            "linkerd-policy-validator-k8s-tls",
            "linkerd-policy-validator.linkerd.svc",
        ),
    }.items():
        # The chart mounts the Secret and lets cainjector fill caBundle from the Certificate
        # (its own genSelfSignedCert ... 365 would expire unless a Helm upgrade ran).
        assert values[key]["externalSecret"] is True
        assert values[key]["injectCaFrom"] == f"linkerd/{name}"
        spec = certificates[name]["spec"]
        assert (spec["secretName"], spec["dnsNames"]) == (secret, [host])
        assert spec["issuerRef"] == {"name": "webhook-issuer", "kind": "Issuer"}
        assert (spec["duration"], spec["renewBefore"]) == ("8760h0m0s", "2160h0m0s")
    assert certificates["linkerd-policy-validator"]["spec"]["privateKey"]["encoding"] == "PKCS8"
    for certificate in run.of_type(CERT_MANAGER + "Certificate"):
        if certificate.inputs["metadata"].get("namespace") == "linkerd":
            assert run.waits_for(control_plane, certificate), f"{certificate} after the pods"
            assert (
                certificate.inputs["metadata"]["annotations"]["pulumi.com/waitFor"]
                == "condition=Ready"
            )


@pytest.mark.slow  # several program runs: make test-slow
def test_rotating_the_trust_anchor_trusts_both_then_switches_the_issuer() -> None:
    both = run_program("dev", {"trustAnchorGenerations": [1, 2]})
    assert len(both.of_type(ANCHOR)) == 2
    pem = both.release("linkerd-control-plane").inputs["values"]["identityTrustAnchorsPEM"]
    assert pem.count("BEGIN CERTIFICATE") == 2, "proxies must trust the old and the new anchor"
    issuers = cert_manager_objects(both, "Issuer", "linkerd")
    assert {"linkerd-trust-anchor-g1", "linkerd-trust-anchor-g2"} <= set(issuers)
    certificate = cert_manager_objects(both, "Certificate", "linkerd")["linkerd-identity-issuer"]
    assert certificate["spec"]["issuerRef"]["name"] == "linkerd-trust-anchor-g1"
    switched = run_program("dev", {"trustAnchorGenerations": [1, 2], "issuerAnchorGeneration": 2})
    certificate = cert_manager_objects(switched, "Certificate", "linkerd")[
        "linkerd-identity-issuer"
    ]
    assert certificate["spec"]["issuerRef"]["name"] == "linkerd-trust-anchor-g2"
    done = run_program("dev", {"trustAnchorGenerations": [2], "issuerAnchorGeneration": 2})
    assert len(done.of_type(ANCHOR)) == 1
    assert "linkerd-trust-anchor-g1" not in cert_manager_objects(done, "Issuer")
    assert set(done.outputs["trustAnchors"]) == {"generation 2"}


def test_trust_anchor_expiry_is_a_stack_output(stack_run: Run) -> None:
    expiry = dt.datetime.fromisoformat(stack_run.outputs["trustAnchorExpiry"])
    assert expiry - dt.datetime.now(dt.UTC) > dt.timedelta(days=3000)
    assert stack_run.outputs["trustAnchors"] == {
        "generation 1": stack_run.outputs["trustAnchorExpiry"]
    }


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


def test_the_webhook_ca_keeps_its_key_across_renewal(stack_run: Run) -> None:
    # cert-manager v1.21.1 rotates keys by default (DefaultPrivateKeyRotationPolicyAlways, GA):
    # a new CA key would leave pods serving certificates the new caBundle no longer verifies.
    for namespace in ("linkerd", "linkerd-viz"):
        ca = cert_manager_objects(stack_run, "Certificate", namespace)["webhook-ca"]["spec"]
        assert ca["isCA"] is True
        assert ca["privateKey"]["rotationPolicy"] == "Never"
    serving = [
        spec
        for name, c in cert_manager_objects(stack_run, "Certificate").items()
        if (spec := c["spec"])["issuerRef"]["name"] == "webhook-issuer"
    ]
    assert serving, "no webhook serving certificates"
