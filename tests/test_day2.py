"""Day 2: the provider survives credential and CA changes, teardown matches who owns the cluster."""

from __future__ import annotations

from tests.harness import Run

K8S_PROVIDER = "pulumi:providers:kubernetes"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"


def test_the_provider_is_never_replaced_by_new_credentials(runs: dict[str, Run]) -> None:
    for stack, identifier in (
        ("dev", "progressive-delivery-dev-aks-dev"),
        ("prod", "progressive-delivery-prod-aks-prod"),
        ("local", "local-kind-kind"),
    ):
        provider = runs[stack].one(K8S_PROVIDER).inputs
        # A plain string, known at preview: only a different cluster replaces the provider.
        assert provider["clusterIdentifier"] == identifier, stack
        # Rotated Secrets are updated in place, not deleted and recreated.
        assert provider["enableSecretMutable"] == "true", stack
    assert runs["local"].one(K8S_PROVIDER).inputs["upsertExistingObjects"] == "true"
    assert "upsertExistingObjects" not in runs["dev"].one(K8S_PROVIDER).inputs


def test_aks_teardown_deletes_the_cluster_not_every_object_in_it(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod"):
        run = runs[stack]
        cluster = run.one(MANAGED_CLUSTER)
        in_cluster = [
            r
            for r in run.resources
            if r.type.startswith(
                ("kubernetes:", "tls:", "random:", "pulumi-python:dynamic/cluster")
            )
            and r.type != K8S_PROVIDER
        ]
        # Everything the in-cluster layers hold: releases, objects, their certificates.
        for resource in in_cluster:
            if "platform:cluster" in resource.parent:
                continue  # the access wait belongs to the cluster layer
            assert resource.deleted_with == cluster.urn, (
                f"{stack}: {resource} is uninstalled one by one"
            )


def test_local_teardown_removes_only_what_the_stack_owns(runs: dict[str, Run]) -> None:
    run = runs["local"]
    assert not [r for r in run.resources if r.deleted_with], "the local cluster outlives the stack"
    kept = {
        r.inputs["metadata"]["name"]
        for r in run.resources
        if r.retain_on_delete and r.type.startswith("kubernetes:")
    }
    # Cluster-wide CRDs other software may use are kept; every namespace is the stack's own (a
    # foreign one is refused before anything is created: tests/test_existing_objects.py) and
    # goes, with what the charts leave in it (test_lifecycle.py walks the destroy).
    assert "httproutes.gateway.networking.k8s.io" in kept
    assert "canaries.flagger.app" in kept
    namespaces = {r.inputs["metadata"]["name"] for r in run.of_type("kubernetes:core/v1:Namespace")}
    assert not kept & namespaces, "a namespace of the stack would outlive it"
