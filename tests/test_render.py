"""Every Helm release renders with Helm's own engine into objects the stack's cluster accepts, the
releases fit together, and a broken value fails naming the release, the object and the field."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from tests import chart_cache, k8s_rules
from tests.harness import NAME, STACKS, stack_config
from tests.helm_render import (
    LOCAL_KUBERNETES,
    Release,
    RenderFailed,
    kube_version,
    merge_maps,
    render,
    version_in_range,
)
from tests.render_check import StackRender, check, committed, render_stack, summary
from tests.schema_check import LOCAL_VERSIONS, kubernetes_objects

# A long analysis (every Helm release rendered by Helm's engine): `make test-slow`, which CI runs too.
pytestmark = pytest.mark.slow


def problems_with(
    stack: str, release: str, patch: dict[str, Any], namespace: str | None = None
) -> list[str]:
    """Every problem of `stack` once `patch` is merged into `release`'s values."""
    sr = committed(stack)
    releases = [
        dataclasses.replace(
            r, values=merge_maps(r.values, patch), namespace=namespace or r.namespace
        )
        if r.name == release
        else r
        for r in sr.declared
    ]
    broken = render_stack(stack, sr.run, releases, reuse=sr)
    return [p for found in check(broken).values() for p in found]


@pytest.mark.parametrize("stack", STACKS)
def test_every_release_renders_into_valid_objects(stack: str) -> None:
    sr = committed(stack)
    problems = check(sr)
    assert [p for found in problems.values() for p in found] == []
    assert len(sr.releases) == len(sr.declared) >= 7
    *releases, ties, own = summary(sr, problems)
    assert own == f"the program's own objects: {len(kubernetes_objects(sr.run))}, valid"
    assert all(line.endswith(" objects, valid") for line in releases), releases
    # Grafana, viz, Flagger, viz's namespace and the three metric templates to Prometheus; the
    # Canary's webhooks (two load starts, acceptance test, rollback gate, two load tests; prod:
    # the promotion gate too) to the load tester.
    urls = 14 if stack == "prod" else 13
    assert ties.startswith(f"ties: {urls} in-cluster URLs to 2 Services,") and ties.endswith(
        "valid"
    )
    assert sum(len(r.objects) for r in sr.releases) > 100


def test_each_stack_renders_for_its_kubernetes_version() -> None:
    for stack in ("dev", "prod"):
        configured = stack_config(stack)[f"{NAME}:kubernetesVersion"]
        assert kube_version(stack) == committed(stack).kube == configured
    # No version is configured for an existing cluster: the oldest minor the platform supports.
    assert kube_version("local") == LOCAL_KUBERNETES == LOCAL_VERSIONS[0] == "1.31"
    assert committed("local").versions == LOCAL_VERSIONS


def test_the_trust_anchor_is_a_real_generated_stand_in() -> None:
    (control_plane,) = [r for r in committed("dev").declared if r.name == "linkerd-control-plane"]
    assert control_plane.stand_ins and "identityTrustAnchorsPEM" in control_plane.stand_ins[0]
    anchor = x509.load_pem_x509_certificate(
        control_plane.values["identityTrustAnchorsPEM"].encode()
    )
    assert isinstance(anchor.public_key(), ec.EllipticCurvePublicKey)
    assert anchor.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_string_where_the_schema_wants_a_number_fails() -> None:
    (problem,) = problems_with("dev", "prometheus", {"server": {"replicaCount": "2"}})
    assert problem.startswith("release prometheus (prometheus 29.27.0): values: ")
    assert "server/replicaCount: got string, want integer" in problem


def test_an_empty_cpu_limit_fails() -> None:
    found = problems_with("prod", "prometheus", {"server": {"resources": {"limits": {"cpu": ""}}}})
    assert found == [
        "release prometheus (prometheus 29.27.0): Deployment monitoring/prometheus-server: "
        "spec/template/spec/containers/1/resources/limits/cpu: '' is not a quantity "
        "(a number with an optional suffix such as m, Mi or Gi; empty is invalid)"
    ]


def test_a_prometheus_url_pointing_at_no_service_fails() -> None:
    found = problems_with("local", "flagger", {"metricsServer": "http://prometheus.monitoring:80"})
    assert found == [
        "release flagger (flagger 1.44.0), values: metricsServer: http://prometheus.monitoring:80 "
        "points at Service monitoring/prometheus port 80, which no release renders"
    ]
    wrong_port = "http://prometheus-server.monitoring.svc.cluster.local:9090"
    (found,) = problems_with("dev", "linkerd-viz", {"prometheusUrl": wrong_port})
    assert "prometheusUrl" in found and found.endswith("(it serves ports [80])")


def test_canary_webhooks_must_reach_the_load_tester() -> None:
    sr = committed("dev")
    run = copy.deepcopy(sr.run)
    (canary,) = run.of_type("kubernetes:flagger.app/v1beta1:Canary")
    canary.inputs["spec"]["analysis"]["webhooks"][0]["url"] = (
        "http://flagger-loadtester.podinfo:8080/"
    )
    found = check(render_stack("dev", run, reuse=sr))[""]
    assert found == [
        "Canary podinfo/podinfo: spec/analysis/webhooks/0/url: "
        "http://flagger-loadtester.podinfo:8080/ points at Service podinfo/flagger-loadtester "
        "port 8080, which no release renders (it serves ports [80])"
    ]


def test_every_release_namespace_is_created_by_the_program() -> None:
    found = problems_with("dev", "flagger", {}, namespace="flagger")
    assert any(
        "release flagger (flagger 1.44.0): installs into namespace flagger, which the program "
        "does not create" in p
        for p in found
    )


def test_a_chart_refuses_a_kubernetes_version_outside_its_range() -> None:
    (crds,) = [r for r in committed("dev").declared if r.name == "linkerd-crds"]
    with pytest.raises(RenderFailed, match=r"requires Kubernetes >=1.31.0-0, the stack runs 1.30"):
        render(crds, "1.30")
    assert version_in_range("1.34", "^1.25.0-0") and not version_in_range("2.0", "^1.25.0-0")
    assert version_in_range("1.31.4", ">= 1.22.0-0, <1.32") and not version_in_range(
        "1.32", "<1.32"
    )


def test_values_merge_like_a_pulumi_release() -> None:
    files = merge_maps({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "d": {"e": 2}})
    assert files == {"a": {"b": 1, "c": [3]}, "d": {"e": 2}}


def test_a_missing_chart_is_a_clear_error_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv(chart_cache.CACHE_ENV, str(tmp_path / "none"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(chart_cache.ChartMissing) as missing:
        chart_cache.archive("flagger", "9.9.9", "https://flagger.app")
    assert "flagger 9.9.9 (repository https://flagger.app)" in str(missing.value)
    assert "does not exist" in str(missing.value)


@pytest.mark.parametrize(
    ("value", "valid"),
    [("100m", True), ("1.5Gi", True), (2, True), ("1e3", True), ("", False), ("1 Gi", False),
     ("10MB", False), ("-1", True)],
)  # fmt: skip
def test_quantities_parse_like_the_api_server(value: Any, valid: bool) -> None:
    assert (k8s_rules.quantity(value) is not None) is valid


def test_api_server_rules_the_schemas_miss() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "9lives",
            "labels": {"app.kubernetes.io/name": "x y"},
            "annotations": {"bad//key": "v"},
        },
        "spec": {"selector": {"matchLabels": {"ok": "-no"}}},
    }
    found = k8s_rules.problems(pod)
    assert "metadata/name: '9lives' is not a valid DNS-1035 label (at most 63 characters)" in found
    assert "metadata/labels/app.kubernetes.io/name: 'x y' is not a valid label value" in found
    assert "metadata/annotations: key 'bad//key' is not a qualified name" in found
    assert "spec/selector/matchLabels/ok: '-no' is not a valid label value" in found
    resources = {"resources": {"requests": {"cpu": "2", "memory": "-1"}, "limits": {"cpu": "1"}}}
    assert k8s_rules.problems({"kind": "Pod", "metadata": {"name": "p"}, "spec": resources}) == [
        "spec/resources/requests/memory: '-1' must not be negative",
        "spec/resources/requests/cpu: '2' is more than the limit '1'",
    ]
    assert k8s_rules.name_problem("ClusterRole", "linkerd:viz:tap") is None


def test_rendered_manifests_are_written_per_release(tmp_path) -> None:
    from tests.render_check import write

    sr: StackRender = committed("prod")
    folder = write(sr, tmp_path)
    assert (folder / "linkerd-control-plane" / "templates" / "destination.yaml").is_file()
    assert (folder / "cert-manager" / "values-passed.yaml").is_file()
    assert {p.name for p in folder.iterdir()} == {r.name for r in sr.declared}


def test_release_values_are_what_the_program_passes() -> None:
    sr = committed("prod")
    (flagger,) = [r for r in sr.declared if r.name == "flagger"]
    assert flagger.values["leaderElection"] == {"enabled": True, "replicaCount": 2}
    assert isinstance(flagger.values["leaderElection"]["replicaCount"], int)
    assert isinstance(flagger, Release) and flagger.repo == "https://flagger.app"


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_webhook_certificates_are_cert_managers_in_the_rendered_charts(stack: str) -> None:
    sr = committed(stack)
    objects = [(r.release.name, o) for r in sr.releases for o in r.objects]
    secrets = {o["metadata"]["name"] for _, o in objects if o.get("kind") == "Secret"}
    for name in (
        "linkerd-proxy-injector-k8s-tls",
        "linkerd-sp-validator-k8s-tls",
        "linkerd-policy-validator-k8s-tls",
        "tap-k8s-tls",
        "tap-injector-k8s-tls",
    ):
        # The chart's own 365-day self-signed Secret is not rendered: cert-manager's is mounted.
        assert name not in secrets, f"{stack}: the chart still renders {name}"
    wired = {
        o["metadata"]["name"]: o
        for _, o in objects
        if o.get("kind")
        in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService")
    }
    for name, certificate in {
        "linkerd-proxy-injector-webhook-config": "linkerd/linkerd-proxy-injector",
        "linkerd-sp-validator-webhook-config": "linkerd/linkerd-sp-validator",
        "linkerd-policy-validator-webhook-config": "linkerd/linkerd-policy-validator",
        "linkerd-tap-injector-webhook-config": "linkerd-viz/linkerd-tap-injector",
        "v1alpha1.tap.linkerd.io": "linkerd-viz/tap",
    }.items():
        annotations = wired[name]["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == certificate, name
        # cainjector fills caBundle; the chart must not pin its generated CA.
        assert "caBundle" not in str(wired[name].get("webhooks", wired[name].get("spec"))), name
