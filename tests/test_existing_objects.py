"""Local stack: what already exists in the shared cluster is refused or left alone, before
anything is created, and a re-created cluster behind the same context is noticed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from stacks.cluster import existing_objects
from stacks.cluster.existing_objects import (
    BUNDLE_VERSION,
    CERT_MANAGER_CRD,
    CHANNEL,
    HELM_RELEASE_NAME,
    HELM_RELEASE_NAMESPACE,
    Found,
)
from stacks.components.cluster_identity import ClusterChanged, _ClusterIdentityProvider
from stacks.components.ownership import OWNER_LABEL, owner_id
from stacks.config import ConfigError
from tests.harness import KIND_CLUSTER_UID, Existing, Run, run_program

OURS = {OWNER_LABEL: owner_id("progressive-delivery", "local")}
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
IDENTITY = "pulumi-python:dynamic/cluster:ClusterIdentity"


def refused(existing: Existing) -> tuple[str, Run]:
    run = Run(stack="local")
    with pytest.raises(ConfigError) as raised:
        run_program("local", existing=existing, run=run)
    assert run.resources == [], "something was registered before the refusal"
    return str(raised.value), run


def gateway_api(version: str, channel: str = "standard", labels: dict | None = None) -> dict:
    names = ("gatewayclasses", "gateways", "grpcroutes", "httproutes", "referencegrants")
    found = Found(labels or {}, {BUNDLE_VERSION: version, CHANNEL: channel})
    return {f"{n}.gateway.networking.k8s.io": found for n in names}


def test_a_fresh_cluster_is_read_for_everything_the_stack_creates() -> None:
    existing = Existing()
    run_program("local", existing=existing)
    (wanted,) = existing.reads
    assert {
        "cert-manager",
        "linkerd",
        "linkerd-viz",
        "monitoring",
        "flagger-system",
        "podinfo",
    } == (set(wanted.namespaces))
    assert "httproutes.gateway.networking.k8s.io" in wanted.crds
    assert {"canaries.flagger.app", CERT_MANAGER_CRD} <= set(wanted.crds)


def test_namespaces_of_another_installation_are_refused_all_at_once() -> None:
    existing = Existing(
        namespaces={
            "linkerd": Found({"linkerd.io/is-control-plane": "true"}),
            "monitoring": Found(),
        }
    )
    message, _ = refused(existing)
    assert "(2 problem(s)); nothing was created" in message
    assert "namespace linkerd (Linkerd's control plane) exists in context kind-kind" in message
    assert "namespace monitoring (Prometheus and Grafana)" in message
    assert "would adopt it and delete it on `pulumi destroy`" in message
    assert f"label namespace linkerd {OWNER_LABEL}=progressive-delivery.local" in message


def test_a_service_namespace_someone_else_uses_is_refused() -> None:
    message, _ = refused(Existing(namespaces={"podinfo": Found()}))
    assert "namespace podinfo (service podinfo)" in message
    assert "name another namespace for podinfo (services/<name>.yaml)" in message


def test_another_stacks_namespace_is_named() -> None:
    other = Found({OWNER_LABEL: "progressive-delivery.local2"})
    message, _ = refused(Existing(namespaces={"flagger-system": other}))
    assert "stack progressive-delivery.local2 created it" in message


def test_the_stacks_own_objects_are_taken_back() -> None:
    """What an earlier run of this stack created or kept (its CRDs) carries its label."""
    existing = Existing(
        namespaces={"linkerd": Found(OURS), "podinfo": Found(OURS)},
        crds={
            **gateway_api("v1.2.1", labels=OURS),
            "canaries.flagger.app": Found(OURS),
            CERT_MANAGER_CRD: Found(
                {}, {HELM_RELEASE_NAME: "cert-manager", HELM_RELEASE_NAMESPACE: "cert-manager"}
            ),
        },
    )
    run = run_program("local", existing=existing)
    assert any("httproutes" in r.name for r in run.of_type(CRD)), "its CRDs stay managed"


def test_gateway_api_crds_of_an_accepted_version_are_used_and_never_touched() -> None:
    run = run_program("local", existing=Existing(crds=gateway_api("v1.4.0")))
    assert not [r for r in run.of_type(CRD) if "gateway.networking" in r.name]
    control_plane = run.release("linkerd-control-plane")
    assert not [d for d in control_plane.dependencies if "gateway" in d]


@pytest.mark.parametrize(
    ("version", "channel"),
    [("v1.1.0", "standard"), ("v1.2.1", "experimental"), ("v2.0.0", "standard")],
)
def test_gateway_api_crds_linkerd_cannot_use_are_refused(version: str, channel: str) -> None:
    message, _ = refused(Existing(crds=gateway_api(version, channel)))
    assert f"Gateway API CRDs {version} ({channel} channel)" in message
    assert "allowed: v1.2.1 to v1.5.1 of the standard channel" in message


def test_another_flagger_or_cert_manager_is_refused() -> None:
    existing = Existing(
        crds={
            "canaries.flagger.app": Found(),
            CERT_MANAGER_CRD: Found({}, {HELM_RELEASE_NAME: "cm", HELM_RELEASE_NAMESPACE: "infra"}),
        }
    )
    message, _ = refused(existing)
    assert "CRD canaries.flagger.app exists" in message and "(another Flagger?)" in message
    assert f"CRD {CERT_MANAGER_CRD} exists" in message and "(another cert-manager?)" in message


def test_the_provider_waits_for_the_clusters_identity() -> None:
    run = run_program("local", existing=Existing(cluster_uid="uid-1"))
    identity = run.one(IDENTITY)
    assert identity.inputs["uid"] == "uid-1"
    assert identity.inputs["context"] == "kind-kind"
    assert identity.urn in run.one("pulumi:providers:kubernetes").dependencies
    assert KIND_CLUSTER_UID != "uid-1"


def test_a_re_created_cluster_stops_the_stack_until_refresh() -> None:
    provider = _ClusterIdentityProvider()
    provider.reader = staticmethod(lambda context, kubeconfig: "uid-2")  # type: ignore[assignment]
    recorded = {"context": "kind-kind", "kubeconfig": None, "uid": "uid-1"}
    now = {**recorded, "uid": "uid-2"}
    with pytest.raises(ClusterChanged) as raised:
        provider.diff("uid-1", recorded, now)
    assert "`pulumi refresh --yes`" in str(raised.value)
    assert "UID uid-2" in str(raised.value) and "UID uid-1" in str(raised.value)
    # `pulumi refresh` reads the cluster the context reaches now; then `pulumi up` goes on.
    refreshed = provider.read("uid-1", recorded).outs
    assert refreshed["uid"] == "uid-2"
    assert not provider.diff("uid-1", refreshed, now).changes
    assert not provider.diff("uid-1", recorded, recorded).changes


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_what_a_later_run_may_find_carries_the_stacks_label(stack: str) -> None:
    run = run_program(stack)
    labelled = [*run.of_type("kubernetes:core/v1:Namespace"), *run.of_type(CRD)]
    assert labelled
    for resource in labelled:
        labels = resource.inputs["metadata"].get("labels") or {}
        assert labels.get(OWNER_LABEL) == owner_id("progressive-delivery", stack), resource


KUBECONFIG_FILE = """apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "https://127.0.0.1:9"}
contexts:
- name: kind-test
  context: {cluster: test, user: test}
current-context: kind-test
users:
- name: test
  user: {token: test}
"""


def test_an_unset_kubeconfig_path_reads_kubeconfig_or_the_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kubeconfigPath's default is "": the Kubernetes client reads "" as a file with no
    configuration ("Invalid kube-config file. No configuration found."), so the program hands it
    None and the client reads $KUBECONFIG. The read gets as far as the cluster (port 9 refuses)."""
    from kubernetes.config import kube_config

    path = tmp_path / "config"
    path.write_text(KUBECONFIG_FILE)
    # The client reads $KUBECONFIG once, when it is imported (kube_config.py:48): in a process
    # that imported it already, the location it settled on is what changes.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    s = SimpleNamespace(kube_context="kind-test", kubeconfig_path="")
    with pytest.raises(ConfigError) as refused:
        existing_objects.read_cluster(s, existing_objects.Wanted({}, (), ()))  # type: ignore[arg-type]
    assert str(refused.value).startswith(
        "cannot reach the cluster of context kind-test of $KUBECONFIG or ~/.kube/config"
    ), refused.value


def test_the_provider_and_identity_get_no_empty_kubeconfig_path() -> None:
    run = run_program("local")
    provider = run.one("pulumi:providers:kubernetes")
    assert "kubeconfig" not in provider.inputs, provider.inputs
    (identity,) = [r for r in run.resources if r.type.endswith("ClusterIdentity")]
    assert identity.inputs.get("kubeconfig") is None
