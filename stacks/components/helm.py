"""Helm releases: the one way every layer installs a chart, with the same safety settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks.pins import Chart


def release(
    resource_name: str,
    *,
    chart: Chart,
    release_name: str,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    skip_crds: bool = False,
) -> k8s.helm.v3.Release:
    """A real Helm release: server-side state, stable generated certificates, readiness waits."""
    return k8s.helm.v3.Release(
        resource_name,
        name=release_name,
        chart=chart.name,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
        namespace=namespace,
        values=dict(values),
        # A failed upgrade leaves no half-created objects behind; a failed install is retried
        # by the next `pulumi up`.
        cleanup_on_fail=True,
        # Pulumi waits for every object of the release to be ready (Helm's --wait), so whatever
        # depends on a release starts only once the release works.
        skip_await=False,
        timeout=900,  # seconds
        max_history=10,
        skip_crds=skip_crds,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
