"""Every object the program registers validates against the official schema of its Kubernetes
version, or the real CRDs the platform installs (Flagger's, cert-manager's); a broken one is caught."""

from __future__ import annotations

import copy

import pytest

from tests.harness import STACKS
from tests.render_check import committed, validate_stack
from tests.schema_check import LOCAL_VERSIONS, flagger_crds, problems, validate_manifest_files


@pytest.mark.slow  # Helm renders every release of the stack: make test-slow
@pytest.mark.parametrize("stack", STACKS)
def test_every_object_of_the_stack_is_valid(stack: str) -> None:
    count, found = validate_stack(stack)
    assert count >= 10, f"{stack}: only {count} objects checked"
    assert found == []


def test_plain_manifests_are_valid_on_their_own() -> None:
    count, found = validate_manifest_files()
    assert count == 7  # namespace, deployment, HPA, three MetricTemplates, canary
    assert found == []


CANARY = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "podinfo"},
    "spec": {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
    },
}


def test_custom_resources_are_checked_against_their_real_crds() -> None:
    crds = flagger_crds(LOCAL_VERSIONS[0])
    assert problems(CANARY, LOCAL_VERSIONS[0], crds) == []
    typo = copy.deepcopy(CANARY)
    typo["spec"]["analysis"]["stepweight"] = typo["spec"]["analysis"].pop("stepWeight")
    assert any("stepweight" in p for p in problems(typo, LOCAL_VERSIONS[0], crds))
    bad_interval = copy.deepcopy(CANARY)
    bad_interval["spec"]["analysis"]["interval"] = "1h"
    assert any("analysis/interval" in p for p in problems(bad_interval, LOCAL_VERSIONS[0], crds))
    bad_meta = copy.deepcopy(CANARY)
    bad_meta["metadata"]["labelz"] = {}
    assert any("labelz" in p for p in problems(bad_meta, LOCAL_VERSIONS[0], crds))
    (unknown,) = problems(CANARY, LOCAL_VERSIONS[0])
    assert "Canary podinfo/podinfo: no schema" in unknown


@pytest.mark.slow  # Helm renders every release of the stack: make test-slow
def test_every_stack_serves_the_kinds_the_platform_creates() -> None:
    for stack in ("dev", "prod", "local"):
        kinds = committed(stack).crds.kinds
        # cert-manager runs in every stack: every certificate renews itself.
        assert ("cert-manager.io/v1", "Certificate") in kinds, stack
        assert ("cert-manager.io/v1", "Issuer") in kinds, stack
    dev = committed("dev")
    assert ("gateway.networking.k8s.io/v1beta1", "HTTPRoute") in dev.crds.kinds
    assert ("policy.linkerd.io/v1beta3", "Server") in dev.crds.kinds
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": "podinfo"},
        "spec": {
            "selector": {},
            "template": {"spec": {"containers": [{"name": "a", "imagee": "x"}]}},
        },
    }
    found = problems(deployment, "1.34")
    assert found and "imagee" in found[0] and "Kubernetes 1.34" in found[0]
