"""Delivery layer: Flagger wired to the mesh (Gateway API) and to the platform's Prometheus."""

from __future__ import annotations

import yaml

from stacks import pins
from stacks.components import pinned
from stacks.pins import FLAGGER_CRDS, GATEWAY_API_CRDS
from tests.harness import Run

CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


def test_flagger_uses_the_gateway_api_provider_and_platform_prometheus(stack_run: Run) -> None:
    flagger = stack_run.release("flagger")
    values = flagger.inputs["values"]
    # "linkerd" would need the deprecated SMI extension; "" silently means istio.
    assert values["meshProvider"] == "gatewayapi:v1beta1", (
        "Flagger 1.44's gatewayapi:v1 router waits for an Accepted condition whose "
        "observedGeneration Linkerd edge-26.8.3 never writes: every release would stall "
        "(flagger v1.44.0 pkg/router/gateway_api.go:271-288; linkerd2#14964). Flagger's own "
        "Linkerd setup uses gatewayapi:v1beta1 (kustomize/linkerd/patch.yaml)."
    )
    assert values["metricsServer"] == stack_run.outputs["prometheusUrl"]
    assert values["linkerdAuthPolicy"] == {"create": False}
    assert (flagger.inputs["chart"], flagger.inputs["version"]) == ("flagger", "1.44.0")
    assert flagger.inputs["repositoryOpts"]["repo"] == "https://flagger.app"


def test_flagger_is_meshed_after_the_control_plane(stack_run: Run) -> None:
    run = stack_run
    (namespace,) = [
        r
        for r in run.of_type("kubernetes:core/v1:Namespace")
        if r.inputs["metadata"]["name"] == run.release("flagger").inputs["namespace"]
    ]
    assert namespace.inputs["metadata"]["annotations"] == {"linkerd.io/inject": "enabled"}
    assert run.waits_for(namespace, run.release("linkerd-control-plane"))


def test_flagger_crds_are_applied_from_the_pinned_release(stack_run: Run) -> None:
    run = stack_run
    crds = [c for c in run.of_type(CRD) if c.inputs["spec"]["group"] == "flagger.app"]
    assert {c.inputs["metadata"]["name"] for c in crds} == {
        "canaries.flagger.app",
        "metrictemplates.flagger.app",
        "alertproviders.flagger.app",
    }
    pinned_file = FLAGGER_CRDS[pins.FLAGGER.version]
    assert pinned_file.url.endswith(f"/v{pins.FLAGGER.version}/artifacts/flagger/crd.yaml")
    flagger = run.release("flagger")
    # Helm would install crds/ once and never upgrade them.
    assert flagger.inputs["skipCrds"] is True
    for crd in crds:
        assert run.waits_for(flagger, crd)
        # Flagger's CRDs may serve other teams' canaries in a shared cluster: never deleted there.
        assert crd.retain_on_delete is (run.stack == "local")


def test_prod_runs_two_flagger_replicas_with_leader_election(runs: dict[str, Run]) -> None:
    prod = runs["prod"].release("flagger").inputs["values"]
    assert prod["leaderElection"] == {"enabled": True, "replicaCount": 2}
    for stack in ("dev", "local"):
        assert "leaderElection" not in runs[stack].release("flagger").inputs["values"], stack


def test_flagger_waits_for_nothing_but_its_crds_and_the_mesh(stack_run: Run) -> None:
    run = stack_run
    flagger = run.release("flagger")
    for unrelated in ("prometheus", "grafana", "linkerd-viz"):
        assert not run.waits_for(flagger, run.release(unrelated)), f"flagger waits for {unrelated}"


def test_the_gateway_api_crds_serve_the_httproute_version_flagger_writes() -> None:
    """Every Gateway API version the config accepts serves HTTPRoute v1beta1 (Flagger's v1beta1
    router writes gateway.networking.k8s.io/v1beta1, pkg/router/gateway_api_v1beta1.go)."""
    (httproutes,) = (f for f in GATEWAY_API_CRDS["v1.2.1"] if f.name.endswith("_httproutes.yaml"))
    crd = yaml.safe_load(pinned.read_text(httproutes))
    served = {v["name"]: v["served"] for v in crd["spec"]["versions"]}
    assert served.get("v1beta1") is True, served
    assert pins.GATEWAY_API_RANGE[0] == (1, 2, 1)
