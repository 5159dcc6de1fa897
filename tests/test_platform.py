"""Whole-program rules: one Kubernetes provider for every object, layers as components."""

from __future__ import annotations

from tests.harness import Run


def test_every_kubernetes_object_uses_the_cluster_provider(stack_run: Run) -> None:
    (provider,) = stack_run.of_type("pulumi:providers:kubernetes")
    expected = f"{provider.urn}::{provider.name}-id"
    for resource in stack_run.resources:
        if resource.type.startswith("kubernetes:"):
            assert resource.provider == expected, f"{resource} bypasses the cluster provider"


def test_every_resource_belongs_to_a_layer(stack_run: Run) -> None:
    for resource in stack_run.resources:
        if not resource.type.startswith("platform:"):
            assert "platform:" in resource.parent, f"{resource} is not inside a layer component"
