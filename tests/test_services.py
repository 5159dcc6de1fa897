"""Services layer: every declared service under a Canary, released from stack config, never
fighting Flagger; podinfo is the first declared service, the examples in examples/services the
next ones."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from canaryctl.canary import _check as canary_check
from canaryctl.checks import bound, number
from stacks.components.ownership import OWNER_LABEL, owner_id
from stacks.config import ConfigError
from stacks.schema.services import LOADTESTER_APP, LOADTESTER_RELEASE, SERVICES_DIR_ENV
from tests.harness import FIXTURES, KUBELET_OBJECT_ID, NAME, ROOT, Registration, Run, run_program
from tests.render_check import check, committed, render_stack
from tests.schema_check import problems, target_versions

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
CANARY = "kubernetes:flagger.app/v1beta1:Canary"
TEMPLATE = "kubernetes:flagger.app/v1beta1:MetricTemplate"
ALERT_PROVIDER = "kubernetes:flagger.app/v1beta1:AlertProvider"
PRIMARY_HPA_PATCH = "kubernetes:autoscaling/v2:HorizontalPodAutoscalerPatch"
NAMESPACE = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN"
CHECKOUT_WEBHOOK = "https://hooks.slack.com/services/T111/B111/CHECKOUTTOKEN"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
REGISTRY = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-shared/providers/"
    "Microsoft.ContainerRegistry/registries/acmeshop"
)
# podinfo as committed, and the three examples of examples/services (one per strategy).
SHOP = {
    "podinfo": {"version": "6.14.1"},
    "frontend": {"version": "6.14.1"},
    "catalog": {"version": "6.14.0"},
    "checkout": {"version": "1.4.2", "alerts": {"webhookUrl": CHECKOUT_WEBHOOK}},
}


def canary(run: Run, service: str = "podinfo") -> dict:
    return run.one(CANARY, f"services-{service}-canary").inputs


def hooks(run: Run, service: str = "podinfo") -> dict[str, dict]:
    return {h["name"]: h for h in canary(run, service)["spec"]["analysis"]["webhooks"]}


def deployment(run: Run, service: str = "podinfo") -> Registration:
    return run.one(DEPLOYMENT, f"services-{service}-deployment")


@pytest.fixture
def services_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """services/ with the examples added, as a user who copied them there would have it."""
    directory = tmp_path / "services"
    directory.mkdir()
    for path in [
        *(FIXTURES / "services").glob("*.yaml"),
        *(ROOT / "examples/services").glob("*.yaml"),
    ]:
        shutil.copy(path, directory)
    monkeypatch.setenv(SERVICES_DIR_ENV, str(directory))
    yield directory


def shop(
    stack: str, services: dict[str, Any] | None = None, fresh: bool = False, **overrides: Any
) -> Run:
    """`stack` running podinfo and the examples, the webhook URL set as a secret (the whole
    `services` key is then secret, as the CLI marks it)."""
    registry = {"containerRegistry": REGISTRY} if stack != "local" else {}
    return run_program(
        stack,
        {**registry, **overrides},
        secrets={"services": json.dumps(SHOP if services is None else services)},
        fresh=fresh,
    )


def rejection(stack: str, services: dict[str, Any], **overrides: Any) -> tuple[str, Run]:
    run = Run(stack=stack)
    with pytest.raises(ConfigError) as raised:
        run_program(stack, {"services": services, **overrides}, run=run)
    return str(raised.value), run


# ---- podinfo, the committed service ----


def test_pulumi_does_not_own_what_flagger_owns(stack_run: Run) -> None:
    target = deployment(stack_run)
    assert "replicas" not in target.inputs["spec"], "replicas would fight Flagger and the HPA"
    assert "spec.replicas" in target.ignore_changes
    assert target.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    owned_by_flagger = ("kubernetes:core/v1:Service", "kubernetes:gateway.networking.k8s.io/")
    for resource in stack_run.resources:
        assert not resource.type.startswith(owned_by_flagger), f"{resource} is Flagger's to manage"


def test_namespace_is_meshed_and_waits_for_the_injector(stack_run: Run) -> None:
    run = stack_run
    namespace = run.one(NAMESPACE, "services-podinfo-namespace")
    assert namespace.inputs["metadata"] == {
        "name": "podinfo",
        "annotations": {"linkerd.io/inject": "enabled"},
        "labels": {OWNER_LABEL: owner_id("progressive-delivery", run.stack)},
    }
    assert run.waits_for(namespace, run.release("linkerd-control-plane"))
    for resource in (deployment(run), run.release("flagger-loadtester")):
        assert run.waits_for(resource, namespace), f"{resource} may start before the namespace"


def test_canary_targets_podinfo_through_the_gateway_api(stack_run: Run) -> None:
    spec = canary(stack_run)["spec"]
    assert spec["targetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}
    assert spec["autoscalerRef"]["name"] == stack_run.one(HPA).inputs["metadata"]["name"]
    assert spec["service"]["gatewayRefs"] == [
        {
            "name": "podinfo",
            "namespace": "podinfo",
            "group": "core",
            "kind": "Service",
            "port": 9898,
        }
    ]
    # No Flagger finalizer: it could never finish under Pulumi's Foreground deletion
    # (tests/test_lifecycle.py walks the deletion).
    assert "revertOnDeletion" not in spec
    assert spec["progressDeadlineSeconds"] == 600


def test_stack_pacing_applies_where_a_declaration_sets_none(runs: dict[str, Run]) -> None:
    dev = canary(runs["dev"])["spec"]["analysis"]
    assert (dev["interval"], dev["threshold"], dev["maxWeight"], dev["stepWeight"]) == (
        "20s",
        3,
        50,
        10,
    )
    metrics = {m["name"]: m for m in dev["metrics"]}
    assert metrics["success-rate"]["thresholdRange"] == {"min": 99}
    assert metrics["latency"]["thresholdRange"] == {"max": 500}
    assert {m["interval"] for m in dev["metrics"]} == {"30s"}
    prod = canary(runs["prod"])["spec"]["analysis"]
    assert (prod["interval"], prod["threshold"], prod["stepWeight"]) == ("1m", 5, 5)
    tuned = canary(run_program("dev", {"canaryInterval": "30s", "canaryMaxWeight": 80}))
    assert (tuned["spec"]["analysis"]["interval"], tuned["spec"]["analysis"]["maxWeight"]) == (
        "30s",
        80,
    )


def test_a_stack_entry_overrides_any_field_of_the_declaration() -> None:
    run = run_program(
        "dev",
        {
            "services": {
                "podinfo": {
                    "version": "6.14.1",
                    "release": {"maxWeight": 60, "stepWeight": 20},
                    "checks": {"success-rate": {"min": 95}},
                    "replicas": {"max": 7},
                }
            }
        },
    )
    analysis = canary(run)["spec"]["analysis"]
    assert (analysis["maxWeight"], analysis["stepWeight"]) == (60, 20)
    assert {m["name"]: m for m in analysis["metrics"]}["success-rate"]["thresholdRange"] == {
        "min": 95
    }
    hpa = run.one(HPA).inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 7), "maps merge field by field"


def test_metric_templates_query_only_application_traffic(stack_run: Run) -> None:
    templates = {
        t.inputs["metadata"]["name"]: t.inputs["spec"] for t in stack_run.of_type(TEMPLATE)
    }
    assert set(templates) == {"request-volume", "success-rate", "latency"}
    for spec in templates.values():
        assert spec["provider"] == {
            "type": "prometheus",
            "address": stack_run.outputs["prometheusUrl"],
        }
        # The canary's own pods, the app port only, meshed clients only: not Prometheus's
        # scrapes or kubelet's probes of the admin port 4191, nor kubelet's probes of the app
        # port (never meshed: tls="no_identity", linkerd2-proxy transport/labels.rs TlsAccept).
        for label in (
            'namespace="{{ namespace }}"',
            'deployment="{{ target }}"',
            'direction="inbound"',
            'target_port="{{ variables.port }}"',
            'tls="true"',
            "[{{ interval }}]",
        ):
            assert spec["query"].count(label) == spec["query"].count("_total{") + spec[
                "query"
            ].count("_bucket{"), (label, spec["query"])
    assert 'classification!="failure"' in templates["success-rate"]["query"]
    assert "response_latency_ms_bucket" in templates["latency"]["query"]
    assert "increase(" in templates["request-volume"]["query"]
    assert templates["request-volume"]["query"].rstrip().endswith("or vector(0)")


def test_every_canary_runs_the_volume_check_first_with_its_port(runs: dict[str, Run]) -> None:
    for stack, minimum in (("dev", 65), ("prod", 250), ("local", 65)):
        metrics = canary(runs[stack])["spec"]["analysis"]["metrics"]
        assert [m["name"] for m in metrics] == ["request-volume", "success-rate", "latency"]
        assert metrics[0]["thresholdRange"] == {"min": minimum}, stack
        assert {m["templateVariables"]["port"] for m in metrics} == {"9898"}


def test_load_starts_before_the_first_analysis_and_ends_within_each_run(
    runs: dict[str, Run],
) -> None:
    for stack, seconds in (("dev", "18s"), ("prod", "55s")):
        webhooks = canary(runs[stack])["spec"]["analysis"]["webhooks"]
        order = [(h["name"], h["type"]) for h in webhooks]
        assert order[:3] == [
            ("load-test-start", "pre-rollout"),
            ("load-test-apex-start", "pre-rollout"),
            ("acceptance-test", "pre-rollout"),
        ], stack
        named = {h["name"]: h for h in webhooks}
        for load in ("load-test", "load-test-apex"):
            # The same command as pre-rollout and rollout: the load tester runs one at a time.
            assert named[f"{load}-start"]["metadata"] == named[load]["metadata"]
            assert f"hey -z {seconds} -q 2 -c 5 " in named[load]["metadata"]["cmd"], stack


def test_webhooks_reach_the_load_tester_and_the_canary_service(stack_run: Run) -> None:
    webhooks = hooks(stack_run)
    assert webhooks["acceptance-test"]["type"] == "pre-rollout"
    assert webhooks["acceptance-test"]["metadata"]["cmd"] == (
        "curl -sf -X POST -d '' http://podinfo-canary.podinfo:9898/token"
    )
    assert webhooks["load-test"]["type"] == "rollout"
    assert webhooks["rollback-gate"] == {
        "name": "rollback-gate",
        "type": "rollback",
        "url": "http://flagger-loadtester.podinfo/rollback/check",
    }
    for name in ("acceptance-test", "load-test", "load-test-start"):
        assert webhooks[name]["url"] == "http://flagger-loadtester.podinfo/"
        assert "http://podinfo-canary.podinfo:9898/" in webhooks[name]["metadata"]["cmd"]
    tester = stack_run.release("flagger-loadtester").inputs
    assert tester["namespace"] == "podinfo"
    assert tester["values"] == {
        "replicaCount": 1,
        "cmd": {"timeout": "1h", "namespaceRegexp": "^podinfo$"},
    }


def test_apex_traffic_exercises_the_split(stack_run: Run) -> None:
    apex = hooks(stack_run)["load-test-apex"]
    assert apex["type"] == "rollout"
    assert apex["url"] == "http://flagger-loadtester.podinfo/"
    # The apex Service, not podinfo-canary: the meshed load tester's proxy applies the weights.
    assert "http://podinfo.podinfo:9898/" in apex["metadata"]["cmd"]


def test_manual_promotion_gate_per_stack(runs: dict[str, Run]) -> None:
    assert hooks(runs["prod"])["promotion-gate"] == {
        "name": "promotion-gate",
        "type": "confirm-promotion",
        "url": "http://flagger-loadtester.podinfo/gate/check",
    }
    assert "promotion-gate" not in hooks(runs["dev"])


def test_retry_changes_a_pod_template_annotation() -> None:
    run = run_program("dev", {"services": {"podinfo": {"version": "6.14.1", "retry": "2"}}})
    template = deployment(run).inputs["spec"]["template"]
    assert template["metadata"]["annotations"]["progressive-delivery/retry"] == "2"
    assert "progressive-delivery/retry" not in deployment(run).inputs["metadata"].get(
        "annotations", {}
    )


def test_faults_are_injected_for_a_failing_release() -> None:
    run = run_program("dev", {"services": {"podinfo": {"version": "6.14.1", "faults": "errors"}}})
    container = deployment(run).inputs["spec"]["template"]["spec"]["containers"][0]
    assert "--random-error=true" in container["command"]
    # The injected errors also hit /healthz and /readyz: probes must not restart the canary.
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["tcpSocket"] == {"port": "http"}
        assert "httpGet" not in container[probe]
    assert {"name": "http", "containerPort": 9898} in [
        {k: p[k] for k in ("name", "containerPort")} for p in container["ports"]
    ]


def test_hpa_bounds_come_from_the_declaration_and_the_stack(runs: dict[str, Run]) -> None:
    dev, prod = runs["dev"].one(HPA).inputs["spec"], runs["prod"].one(HPA).inputs["spec"]
    assert (dev["minReplicas"], dev["maxReplicas"]) == (2, 4)
    assert (prod["minReplicas"], prod["maxReplicas"]) == (3, 10)


def test_canary_is_created_after_and_deleted_before_what_it_names(stack_run: Run) -> None:
    run = stack_run
    the_canary = run.one(CANARY)
    needed = [
        run.release("flagger"),
        run.release("flagger-loadtester"),
        deployment(run),
        run.one(HPA),
        *run.of_type(TEMPLATE),
    ]
    for resource in needed:
        assert run.waits_for(the_canary, resource), f"Canary does not wait for {resource}"
    # Teardown runs in reverse: Canary, then Flagger, then the mesh, then the cluster.
    assert run.waits_for(run.release("flagger"), run.release("linkerd-control-plane"))
    provider = run.one("pulumi:providers:kubernetes")
    if run.stack != "local":
        assert run.waits_for(provider, run.one("azure-native:containerservice:ManagedCluster"))


def test_platform_alerts_go_through_a_secret_and_an_alert_provider() -> None:
    run = run_program(
        "dev",
        {"alertProvider": "slack", "alertChannel": "releases"},
        secrets={"alertWebhookUrl": WEBHOOK},
    )
    provider = run.one(ALERT_PROVIDER).inputs
    assert provider["metadata"] == {"name": "canary-alerts", "namespace": "podinfo"}
    assert provider["spec"] == {
        "type": "slack",
        "channel": "releases",
        "username": "flagger",
        "secretRef": {"name": "canary-alerts-webhook"},
    }
    (secret,) = [
        r for r in run.of_type(SECRET) if r.inputs["metadata"]["name"] == "canary-alerts-webhook"
    ]
    assert secret.inputs["stringData"] == {"address": WEBHOOK}
    assert secret.is_secret("stringData/address")
    assert canary(run)["spec"]["analysis"]["alerts"] == [
        {
            "name": "platform",
            "severity": "info",
            "providerRef": {"name": "canary-alerts", "namespace": "podinfo"},
        }
    ]
    # Flagger's webhook is Flagger's alone: Alertmanager has its own receiver (alertReceiver).
    for resource in run.resources:
        if resource is not secret and resource.type != "pulumi:providers:kubernetes":
            assert WEBHOOK not in str(resource.inputs), f"webhook URL in plain text in {resource}"
    assert WEBHOOK not in str(run.outputs)


def test_without_a_platform_webhook_canaries_send_no_alerts(runs: dict[str, Run]) -> None:
    assert "alerts" not in canary(runs["dev"])["spec"]["analysis"]
    assert runs["dev"].of_type(ALERT_PROVIDER) == []


@pytest.mark.parametrize(
    ("overrides", "secrets", "expected"),
    [
        (
            {"alertProvider": "slack"},
            {},
            "alertWebhookUrl: got None; allowed: a secret webhook URL",
        ),
        (
            {"alertProvider": "msteams"},
            {"alertWebhookUrl": "http://example.com/x"},
            "got a value that is not valid (not shown); allowed: an https://",
        ),
    ],
)
def test_bad_alerting_is_rejected_without_echoing_the_url(
    overrides: dict, secrets: dict, expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        run_program("dev", overrides, secrets=secrets)
    assert expected in str(raised.value)
    assert "example.com" not in str(raised.value)


def test_hpa_bounds_reach_the_serving_primary_at_once(runs: dict[str, Run]) -> None:
    for stack, (low, high) in (("dev", (2, 4)), ("prod", (3, 10))):
        run = runs[stack]
        patch = run.one(PRIMARY_HPA_PATCH)
        hpa = run.one(HPA).inputs
        # The object Flagger creates from the canary's HPA (hpa_reconciler.go:55-77), with the
        # patch applied on top, must be a valid HPA for the stack's Kubernetes version.
        primary = {
            **hpa,
            "metadata": patch.inputs["metadata"],
            "spec": {
                **hpa["spec"],
                "scaleTargetRef": {**hpa["spec"]["scaleTargetRef"], "name": "podinfo-primary"},
                **patch.inputs["spec"],
            },
        }
        assert primary["metadata"]["name"] == "podinfo-primary"
        assert (primary["spec"]["minReplicas"], primary["spec"]["maxReplicas"]) == (low, high)
        for version in target_versions(stack):
            assert problems(primary, version) == []
        assert patch.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
        assert run.waits_for(patch, run.one(CANARY)), "the primary HPA exists only after init"
        assert patch.retain_on_delete, "giving the fields back would drop maxReplicas"


def test_canary_creation_waits_for_flaggers_initialization(stack_run: Run) -> None:
    annotations = canary(stack_run)["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "jsonpath={.status.lastAppliedSpec}"
    assert int(annotations["pulumi.com/timeoutSeconds"]) > 600


def test_deployment_deadline_is_the_canarys(stack_run: Run) -> None:
    spec = deployment(stack_run).inputs["spec"]
    assert spec["progressDeadlineSeconds"] == canary(stack_run)["spec"]["progressDeadlineSeconds"]
    tuned = run_program("dev", {"canaryProgressDeadlineSeconds": 900})
    assert deployment(tuned).inputs["spec"]["progressDeadlineSeconds"] == 900
    assert canary(tuned)["spec"]["progressDeadlineSeconds"] == 900


def test_outputs_list_each_services_version_and_plan(runs: dict[str, Run]) -> None:
    dev = runs["dev"].outputs["services"]
    assert set(dev) == {"podinfo"}
    assert (dev["podinfo"]["namespace"], dev["podinfo"]["version"]) == ("podinfo", "6.14.1")
    assert "10% -> 20% -> 30% -> 40% -> 50%" in dev["podinfo"]["rolloutPlan"]
    assert "is promoted 2 min 40 s after Flagger notices it" in dev["podinfo"]["rolloutPlan"]
    assert "promotion gate" in runs["prod"].outputs["services"]["podinfo"]["rolloutPlan"]


# ---- more services: the examples, one per strategy ----


@pytest.mark.slow  # Helm renders every release of the stack: make test-slow
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_declared_services_get_every_object_valid_and_wired(stack: str, services_dir: Path) -> None:
    run = shop(stack)
    for name in SHOP:
        for type_, suffix in (
            (DEPLOYMENT, "deployment"),
            (HPA, "hpa"),
            (CANARY, "canary"),
            (PRIMARY_HPA_PATCH, "primary-hpa-bounds"),
        ):
            run.one(type_, f"services-{name}-{suffix}")
    namespaces = {r.inputs["metadata"]["name"] for r in run.of_type(NAMESPACE)}
    assert {"podinfo", "shop"} <= namespaces
    testers = [
        r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.name.endswith("-loadtester")
    ]
    assert sorted(t.inputs["namespace"] for t in testers) == ["podinfo", "shop"]
    templates = sorted(
        (t.inputs["metadata"]["namespace"], t.inputs["metadata"]["name"])
        for t in run.of_type(TEMPLATE)
    )
    built_in = [
        (ns, m) for ns in ("podinfo", "shop") for m in ("latency", "request-volume", "success-rate")
    ]
    # checkout's own check (examples/services/checkout.yaml) gets a template of its own.
    assert templates == sorted([*built_in, ("shop", "checkout-server-errors")])
    # Helm's renderer and the official schemas: every object valid, every URL a Service port.
    rendered = render_stack(stack, run=run, reuse=committed(stack))
    assert [p for found in check(rendered).values() for p in found] == []


def test_ab_testing_by_header_routes_matching_requests(services_dir: Path) -> None:
    run = shop("dev")
    analysis = canary(run, "frontend")["spec"]["analysis"]
    assert analysis["iterations"] == 10
    assert analysis["match"] == [{"headers": {"x-canary": {"exact": "insider"}}}]
    assert "stepWeight" not in analysis and "maxWeight" not in analysis
    apex = hooks(run, "frontend")["load-test-apex"]["metadata"]["cmd"]
    assert apex.endswith("-H 'x-canary: insider' http://frontend.shop:9898/")
    direct = hooks(run, "frontend")["load-test"]["metadata"]["cmd"]
    assert direct.endswith(" http://frontend-canary.shop:9898/")


def test_ab_testing_by_cookie_matches_the_cookie_among_others(services_dir: Path) -> None:
    import re

    frontend = {
        "version": "6.14.1",
        "release": {"match": {"header": None, "cookie": "beta", "value": "yes"}},
    }
    run = shop("dev", {**SHOP, "frontend": frontend})
    (match,) = canary(run, "frontend")["spec"]["analysis"]["match"]
    pattern = match["headers"]["cookie"]["regex"]
    for header, matches in (
        ("beta=yes", True),
        ("theme=dark; beta=yes", True),
        ("theme=dark;beta=yes; lang=en", True),
        ("beta=no", False),
        ("xbeta=yes", False),
        ("beta=yesno", False),
    ):
        assert bool(re.fullmatch(pattern, header)) is matches, header
    assert "-H 'Cookie: beta=yes'" in hooks(run, "frontend")["load-test-apex"]["metadata"]["cmd"]


def test_blue_green_analyses_without_weights_then_switches(services_dir: Path) -> None:
    run = shop("prod")
    spec = canary(run, "checkout")["spec"]
    analysis = spec["analysis"]
    assert analysis["iterations"] == 5
    for field in ("match", "stepWeight", "maxWeight", "sessionAffinity"):
        assert field not in analysis
    assert analysis["stepWeightPromotion"] == 25
    assert spec["autoscalerRef"]["primaryScalerReplicas"] == {"minReplicas": 6, "maxReplicas": 12}
    bounds = run.one(PRIMARY_HPA_PATCH, "services-checkout-primary-hpa-bounds").inputs
    assert (bounds["spec"]["minReplicas"], bounds["spec"]["maxReplicas"]) == (6, 12)
    assert (
        hooks(run, "checkout")["promotion-gate"]["url"]
        == "http://flagger-loadtester.shop/gate/check"
    )
    assert hooks(run, "checkout")["acceptance-test"]["metadata"]["cmd"] == (
        "curl -sf -X GET http://checkout-canary.shop:8080/api/health"
    )


def test_a_custom_check_gets_its_template_and_its_place_in_the_canary(services_dir: Path) -> None:
    """examples/services/checkout.yaml's server-errors: a MetricTemplate in the service's
    namespace with the query as written, and a Canary check that references it with its bound;
    both valid against Flagger's CRDs (the test above), the query judged by Prometheus in
    tests/test_analysis_queries.py."""
    run = shop("prod")
    (template,) = [
        r.inputs for r in run.of_type(TEMPLATE) if r.name.endswith("-checkout-server-errors")
    ]
    declared = yaml.safe_load((ROOT / "examples/services/checkout.yaml").read_text())
    assert template["metadata"] == {"name": "checkout-server-errors", "namespace": "shop"}
    assert template["spec"]["query"] == declared["checks"]["server-errors"]["query"]
    assert template["spec"]["provider"]["type"] == "prometheus"
    metrics = {m["name"]: m for m in canary(run, "checkout")["spec"]["analysis"]["metrics"]}
    assert list(metrics) == ["request-volume", "success-rate", "latency", "server-errors"]
    assert metrics["server-errors"]["templateRef"] == {
        "name": "checkout-server-errors",
        "namespace": "shop",
    }
    assert metrics["server-errors"]["thresholdRange"] == {"max": 0.5}
    # Its unit travels in the Canary, where canaryctl status, wait and history read it.
    assert metrics["server-errors"]["templateVariables"] == {"port": "8080", "unit": "%"}
    assert "unit" not in metrics["latency"]["templateVariables"]
    check = canary_check(metrics["server-errors"])
    assert (bound(check), number(check, 0.25)) == ("<= 0.5%", "0.25%")
    queued = canary_check({**metrics["server-errors"], "templateVariables": {"unit": "jobs"}})
    assert (bound(queued), number(queued, 3.0)) == ("<= 0.5 jobs", "3 jobs")


def test_canary_with_its_own_pacing_and_sticky_sessions(services_dir: Path) -> None:
    run = shop("dev")
    analysis = canary(run, "catalog")["spec"]["analysis"]
    assert (analysis["interval"], analysis["stepWeight"], analysis["maxWeight"]) == ("1m", 20, 60)
    # Path /: without it the browser keeps the cookie to the first request's directory.
    assert analysis["sessionAffinity"] == {
        "cookieName": "catalog-canary",
        "maxAge": 3600,
        "path": "/",
    }
    assert "alerts" not in analysis
    assert "20% -> 40% -> 60%" in run.outputs["services"]["catalog"]["rolloutPlan"]


def test_a_services_own_webhook_stays_secret(services_dir: Path) -> None:
    run = shop("dev")
    provider = run.one(ALERT_PROVIDER, "services-checkout-alert-provider").inputs
    assert provider["metadata"] == {"name": "checkout-alerts", "namespace": "shop"}
    assert provider["spec"]["channel"] == "checkout-releases"
    (secret,) = [
        r for r in run.of_type(SECRET) if r.inputs["metadata"]["name"] == "checkout-alerts-webhook"
    ]
    assert secret.inputs["stringData"] == {"address": CHECKOUT_WEBHOOK}
    assert secret.is_secret("stringData/address")
    assert canary(run, "checkout")["spec"]["analysis"]["alerts"][0]["providerRef"] == {
        "name": "checkout-alerts",
        "namespace": "shop",
    }
    for resource in run.resources:
        if resource is not secret and resource.type != "pulumi:providers:kubernetes":
            assert CHECKOUT_WEBHOOK not in str(resource.inputs), f"URL in plain text in {resource}"
    assert CHECKOUT_WEBHOOK not in str(run.outputs)


def test_the_kubelet_pulls_from_the_configured_registry(services_dir: Path) -> None:
    run = shop("dev")
    (pull,) = [r for r in run.of_type(ROLE_ASSIGNMENT) if r.name.endswith("-acr-pull")]
    assert pull.inputs["scope"] == REGISTRY
    assert pull.inputs["principalId"] == KUBELET_OBJECT_ID
    assert pull.inputs["principalType"] == "ServicePrincipal"
    # AcrPull, named in the registry's own subscription.
    assert pull.inputs["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
        "7f951dda-4ed3-4680-a7ca-43fe172d538d"
    )
    image = deployment(run, "checkout").inputs["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "acmeshop.azurecr.io/shop/checkout:1.4.2"
    assert "imagePullSecrets" not in deployment(run, "checkout").inputs["spec"]["template"]["spec"]
    assert not [r for r in run_program("dev").of_type(ROLE_ASSIGNMENT) if "acr" in r.name]


@pytest.mark.slow  # several program runs: make test-slow
def test_a_version_change_touches_only_that_services_deployment(services_dir: Path) -> None:
    before = shop("dev")
    after = shop("dev", {**SHOP, "frontend": {"version": "6.14.2"}})
    again = shop("dev", fresh=True)  # last: a generated certificate's expiry only moves forward
    old, new, same = (
        {(r.type, r.name): r.inputs for r in run.resources} for run in (before, after, again)
    )
    assert old.keys() == new.keys()
    # The mocks generate a fresh trust anchor and Grafana password per run (an engine keeps them
    # in state): what differs between two identical runs is not the version's doing.
    generated = {key for key in old if old[key] != same[key]}
    assert all(
        type_.startswith(("tls:", "kubernetes:core/v1:Secret", "kubernetes:helm"))
        for type_, _ in generated
    )
    changed = [
        name
        for key, name in old
        if (key, name) not in generated and old[key, name] != new[key, name]
    ]
    assert changed == ["services-frontend-deployment"]
    container = deployment(after, "frontend").inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/stefanprodan/podinfo:6.14.2"
    assert after.outputs["services"]["frontend"]["version"] == "6.14.2"


def test_a_digest_pins_the_image(services_dir: Path) -> None:
    digest = "sha256:" + "ab" * 32
    run = shop("dev", {**SHOP, "frontend": {"version": digest}})
    container = deployment(run, "frontend").inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"ghcr.io/stefanprodan/podinfo@{digest}"


def test_removing_a_declaration_removes_only_that_service(services_dir: Path) -> None:
    full = shop("dev")
    without = shop("dev", {k: v for k, v in SHOP.items() if k != "catalog"})
    gone = {r.name for r in full.resources} - {r.name for r in without.resources}
    assert gone == {
        f"services-catalog{suffix}"
        for suffix in ("", "-deployment", "-hpa", "-canary", "-primary-hpa-bounds")
    }
    # On delete the engine goes in reverse dependency order: the Canary (and with it, through
    # ownerReferences, everything Flagger generated) before the Deployment and HPA it names.
    the_canary = full.one(CANARY, "services-catalog-canary")
    for name in ("services-catalog-deployment", "services-catalog-hpa"):
        assert full.waits_for(the_canary, full.one(DEPLOYMENT if "deploy" in name else HPA, name))
    assert without.one(NAMESPACE, "services-shop-namespace"), "the shared namespace stays"


def test_services_deploy_in_parallel(services_dir: Path) -> None:
    run = shop("dev")
    deployments = {name: deployment(run, name) for name in SHOP}
    for name, mine in deployments.items():
        for other, theirs in deployments.items():
            if other != name:
                assert not run.waits_for(mine, theirs), f"{name} waits for {other}"
                assert not run.waits_for(
                    run.one(CANARY, f"services-{name}-canary"),
                    run.one(CANARY, f"services-{other}-canary"),
                )


@pytest.mark.slow  # several program runs: make test-slow
def test_the_longest_chain_does_not_grow_with_the_number_of_services(services_dir: Path) -> None:
    declaration = (services_dir / "catalog.yaml").read_text()
    many = {}
    for index in range(12):
        (services_dir / f"svc{index}.yaml").write_text(declaration)
        many[f"svc{index}"] = {"version": "6.14.1"}
    one = run_program("dev", {"services": {"svc0": {"version": "6.14.1"}}})
    assert run_program("dev", {"services": many}).longest_chain() == one.longest_chain()


# ---- declarations refused before anything exists ----

REFUSED = [
    (
        {
            "podinfo": {
                "version": "6.14.1",
                "resources": {"memory": "512Mi", "memoryLimit": "256Mi"},
            }
        },
        "services.podinfo.resources.memory: got '512Mi'",
        "at most memoryLimit (256Mi)",
    ),
    (
        {"podinfo": {"version": "6.14.1", "resources": {"cpu": "2", "cpuLimit": "1"}}},
        "services.podinfo.resources.cpu: got '2'",
        "at most cpuLimit (1)",
    ),
    (
        {"podinfo": {"version": "6.14.1", "resources": {"cpu": "256Mi"}}},
        "services.podinfo.resources.cpu: got '256Mi'",
        "CPU as cores or millicores",
    ),
    (
        {"podinfo": {"version": "6.14.1", "release": {"primaryScalerReplicas": {"min": 20}}}},
        "services.podinfo.release.primaryScalerReplicas.min: got 20",
        "at most the primary's max (4)",
    ),
    (
        {"podinfo": {"version": "6.14.1", "port": 4191}},
        "services.podinfo.port: got 4191",
        "4140, 4143",
    ),
    (
        {"podinfo": {"version": "6.14.1", "port": 5432}},
        "services.podinfo.port: got 5432",
        "default opaque ports",
    ),
    (
        {"podinfo": {"version": "6.14.1", "env": {"A=B": "x"}}},
        "services.podinfo.env.A=B: got 'A=B'",
        "other than '='",
    ),
    (
        {"podinfo": {"version": "latest"}},
        f"{NAME}:services.podinfo.version: got 'latest'",
        "fixed version tag",
    ),
    ({"podinfo": {"version": "v6.14.1"}}, "services.podinfo.version", "without a leading v"),
    ({"podinfo": {}}, "services.podinfo.version: got None", "an image tag like 6.14.1"),
    ({"podinfo": "6.14.1"}, "services.podinfo: got '6.14.1'", "a map with at least a version"),
    ({"Podinfo": {"version": "6.14.1"}}, "services.Podinfo: got a service named", "lower-case"),
    (
        {"podinf": {"version": "6.14.1"}},
        "no declaration services/podinf.yaml",
        "did you mean podinfo?",
    ),
    (
        {"podinfo": {"version": "6.14.1", "relase": {}}},
        f"{NAME}:services.podinfo.relase: not a field here",
        "did you mean release?",
    ),
    (
        {"podinfo": {"version": "6.14.1", "release": {"iteration": 3}}},
        f"{NAME}:services.podinfo.release.iteration: not a field here",
        "did you mean iterations?",
    ),
    (
        {"podinfo": {"version": "6.14.1", "port": 70000}},
        f"{NAME}:services.podinfo.port: got 70000",
        "1-65535",
    ),
    (
        {"podinfo": {"version": "6.14.1", "replicas": {"min": 5, "max": 3}}},
        f"{NAME}:services.podinfo.replicas.max: got 3",
        "at least replicas.min (5)",
    ),
    (
        {"podinfo": {"version": "6.14.1", "release": {"stepWeight": 20}}},
        f"{NAME}:services.podinfo.release.stepWeight: got 20",
        "a divisor of maxWeight (50)",
    ),
    (
        {"podinfo": {"version": "6.14.1", "release": {"strategy": "blueGreen", "stepWeight": 10}}},
        "services.podinfo.release.stepWeight",
        "no stepWeight with strategy blueGreen",
    ),
    (
        {"podinfo": {"version": "6.14.1", "release": {"iterations": 10}}},
        "services.podinfo.release.iterations",
        "no iterations with strategy canary",
    ),
    (
        {"podinfo": {"version": "6.14.1", "release": {"match": {"header": "x", "value": "y"}}}},
        "services.podinfo.release.match",
        "abTesting only",
    ),
    (
        {"podinfo": {"version": "6.14.1", "release": {"strategy": "rolling"}}},
        "services.podinfo.release.strategy: got 'rolling'",
        "canary | abTesting | blueGreen",
    ),
    (
        {"podinfo": {"version": "6.14.1", "release": {"interval": "5s"}}},
        "services.podinfo.release.interval: got '5s'",
        "from 10s to 60m",
    ),
    (
        {
            "podinfo": {
                "version": "6.14.1",
                "release": {"sessionAffinity": {"cookieName": "a", "primaryCookieName": "b"}},
            }
        },
        "services.podinfo.release.sessionAffinity.primaryCookieName: got 'b'",
        "gatewayapi:v1beta1 router",
    ),
    (
        {"podinfo": {"version": "6.14.1", "probes": {"readiness": "readyz"}}},
        "services.podinfo.probes.readiness: got 'readyz'",
        "an HTTP path",
    ),
    (
        {"podinfo": {"version": "6.14.1", "resources": {"memory": "lots"}}},
        "services.podinfo.resources.memory: got 'lots'",
        "memory in bytes with a suffix",
    ),
    (
        {"podinfo": {"version": "6.14.1", "namespace": "linkerd"}},
        "services.podinfo.namespace: got 'linkerd'",
        "does not already own",
    ),
    (
        {"podinfo": {"version": "6.14.1", "faults": "chaos"}},
        "services.podinfo.faults: got 'chaos'",
        "none | errors | latency",
    ),
    (
        {"podinfo": {"version": "6.14.1", "alerts": {"provider": "slack", "webhookUrl": WEBHOOK}}},
        "services.podinfo.alerts.webhookUrl: got a plain-text value (not shown)",
        "pulumi config set --secret --path services.podinfo.alerts.webhookUrl",
    ),
]


@pytest.mark.parametrize(
    ("services", "where", "allowed"),
    REFUSED,
    ids=[w.split(":")[-2] if w.count(":") > 1 else w for _, w, _ in REFUSED],
)
def test_a_bad_declaration_is_refused_naming_where_and_what_is_allowed(
    services: dict[str, Any], where: str, allowed: str
) -> None:
    message, run = rejection("dev", services)
    line = next((ln for ln in message.splitlines() if where in ln), None)
    assert line is not None, f"error does not name {where}:\n{message}"
    assert allowed in line, f"allowed values missing: {line}"
    assert "SECRETTOKEN" not in message
    assert run.resources == [], f"resources registered despite bad config: {run.resources}"


def test_problems_in_declaration_files_name_the_file(services_dir: Path) -> None:
    text = (services_dir / "frontend.yaml").read_text()
    (services_dir / "frontend.yaml").write_text(
        text.replace("header: x-canary", "header: x-canary\n    cookie: beta")
        .replace("iterations: 10", "iterations: 0")
        .replace("port: 9898\n", "port: 9898\nprot: 1\n")
    )
    message, run = rejection("dev", SHOP, containerRegistry=REGISTRY)
    assert (
        "services/frontend.yaml: release.iterations: got 0; allowed: a whole number 1-100"
        in message
    )
    assert "services/frontend.yaml: release.match: got" in message
    assert "exactly one of {header: <name>, value: <exact>} or {cookie: <name>" in message
    assert "services/frontend.yaml: prot: not a field here; did you mean port?" in message
    assert run.resources == []


def test_every_problem_across_services_is_reported_at_once(services_dir: Path) -> None:
    services = {
        **SHOP,
        "podinfo": {"version": "latest", "port": 0},
        "frontend": {"version": "6.14.1", "release": {"iterations": 0}},
        "podinfo-primary": {"version": "6.14.1"},
    }
    (services_dir / "podinfo-primary.yaml").write_text((services_dir / "podinfo.yaml").read_text())
    message, run = rejection("dev", services, containerRegistry=REGISTRY)
    assert "services.podinfo.version: got 'latest'" in message
    assert "services.podinfo.port: got 0" in message
    assert "services.frontend.release.iterations: got 0" in message
    # Flagger creates Service podinfo-primary for podinfo: no service may have that name there.
    assert (
        f"{NAME}:services.podinfo-primary: its Service podinfo-primary in namespace podinfo is "
        "also podinfo's" in message
    )
    assert run.resources == []


def test_a_private_image_must_come_from_the_configured_registry(services_dir: Path) -> None:
    message, run = rejection("dev", {"checkout": {"version": "1.4.2", "alerts": "none"}})
    assert (
        f"{NAME}:services.checkout: image acmeshop.azurecr.io/shop/checkout is on "
        "acmeshop.azurecr.io, which the cluster may not pull from" in message
    )
    assert "containerRegistry is not set" in message
    assert run.resources == []


def test_a_webhook_url_in_a_declaration_file_is_refused_unshown(services_dir: Path) -> None:
    path = services_dir / "checkout.yaml"
    path.write_text(path.read_text() + f"  webhookUrl: {CHECKOUT_WEBHOOK}\n")
    services = {**SHOP, "checkout": {"version": "1.4.2"}}
    with pytest.raises(ConfigError) as raised:
        shop("dev", services)
    message = str(raised.value)
    assert (
        "services/checkout.yaml: alerts.webhookUrl: got a URL in a committed file (not shown)"
        in message
    )
    assert "CHECKOUTTOKEN" not in message


def test_fault_injection_is_for_podinfos_image_only(services_dir: Path) -> None:
    services = {**SHOP, "checkout": {**SHOP["checkout"], "faults": "latency"}}
    with pytest.raises(ConfigError) as raised:
        shop("dev", services)
    assert "services.checkout.faults: got 'latency'; allowed: none: fault injection uses " in str(
        raised.value
    )


def test_shell_metacharacters_in_paths_and_matches_stay_quoted(services_dir: Path) -> None:
    frontend = {
        "version": "6.14.1",
        "loadTest": {"path": "/search?q=a&page=$(id)"},
        "release": {"match": {"header": "x-canary", "value": "it's me"}},
    }
    run = shop("dev", {**SHOP, "frontend": frontend})
    cmd = hooks(run, "frontend")["load-test-apex"]["metadata"]["cmd"]
    assert cmd.endswith(
        """-H 'x-canary: it'"'"'s me' 'http://frontend.shop:9898/search?q=a&page=$(id)'"""
    )


def test_numbers_the_cli_stores_on_a_path_are_read_as_text() -> None:
    # `pulumi config set --path services.podinfo.version 7` stores 7, a number (config.go:
    # "integers are treated as numbers"); a tag like 7 or a retry counter is meant as text.
    run = run_program("dev", {"services": {"podinfo": {"version": 7, "retry": 2}}})
    template = deployment(run).inputs["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "ghcr.io/stefanprodan/podinfo:7"
    assert template["metadata"]["annotations"]["progressive-delivery/retry"] == "2"
    message, _ = rejection("dev", {"podinfo": {"version": 1.4}})
    assert "services.podinfo.version: got 1.4; allowed: text: quote it ('1.4')" in message


def test_a_larger_memory_request_raises_the_default_limit(services_dir: Path) -> None:
    frontend = {"version": "6.14.1", "resources": {"memory": "256Mi"}}  # no memoryLimit declared
    run = shop("dev", {**SHOP, "frontend": frontend})
    container = deployment(run, "frontend").inputs["spec"]["template"]["spec"]["containers"][0]
    resources = container["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == "256Mi"


def test_tags_with_a_leading_v_are_fine_except_for_podinfo(services_dir: Path) -> None:
    # podinfo publishes 6.14.1, not v6.14.1; most images tag v1.4.2.
    run = shop("dev", {**SHOP, "checkout": {**SHOP["checkout"], "version": "v1.4.2"}})
    image = deployment(run, "checkout").inputs["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "acmeshop.azurecr.io/shop/checkout:v1.4.2"


def test_numbers_in_env_and_match_values_are_text(services_dir: Path) -> None:
    frontend = {
        "version": "6.14.1",
        "env": {"PORT": 8080},
        "release": {"match": {"header": "x-build", "value": 42}},
    }
    run = shop("dev", {**SHOP, "frontend": frontend})
    container = deployment(run, "frontend").inputs["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "PORT", "value": "8080"} in container["env"]
    assert canary(run, "frontend")["spec"]["analysis"]["match"] == [
        {"headers": {"x-build": {"exact": "42"}}}
    ]


def test_a_plain_webhook_is_refused_even_when_another_is_secret(
    services_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One secure value makes the engine mark all of `services` secret; the stack file says
    # which value really is.
    from stacks import config

    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(
        yaml.safe_dump(
            {
                "config": {
                    f"{NAME}:services": {
                        "checkout": {
                            "version": "1.4.2",
                            "alerts": {"webhookUrl": {"secure": "AAE="}},
                        },
                        "catalog": {
                            "version": "6.14.0",
                            "alerts": {"provider": "slack", "webhookUrl": WEBHOOK},
                        },
                    }
                }
            }
        )
    )
    monkeypatch.setattr(config, "stack_file", lambda stack: stack_file)
    services = {
        **SHOP,
        "catalog": {"version": "6.14.0", "alerts": {"provider": "slack", "webhookUrl": WEBHOOK}},
    }
    with pytest.raises(ConfigError) as raised:
        shop("dev", services)
    message = str(raised.value)
    assert "services.catalog.alerts.webhookUrl: got a plain-text value (not shown)" in message
    assert "services.checkout.alerts" not in message
    assert "SECRETTOKEN" not in message


def test_a_service_named_like_the_platforms_alert_provider_is_refused(services_dir: Path) -> None:
    (services_dir / "canary.yaml").write_text((services_dir / "catalog.yaml").read_text())
    services = {
        **SHOP,
        "canary": {"version": "6.14.1", "alerts": {"provider": "slack", "webhookUrl": WEBHOOK}},
    }
    with pytest.raises(ConfigError) as raised:
        shop("dev", services)
    assert (
        "services.canary: its own AlertProvider would be canary-alerts, the platform's in "
        "namespace shop" in str(raised.value)
    )


def test_a_service_colliding_with_the_load_testers_names_is_refused(services_dir: Path) -> None:
    for name in ("loadtester", "flagger-loadtester"):
        (services_dir / f"{name}.yaml").write_text((services_dir / "catalog.yaml").read_text())
    message, _ = rejection(
        "dev", {"loadtester": {"version": "6.14.1"}, "flagger-loadtester": {"version": "6.14.1"}}
    )
    assert (
        "services.loadtester: its pods would carry app=loadtester, the label the load tester's "
        "Deployment and Service select in namespace shop" in message
    )
    assert "services.flagger-loadtester: its Service flagger-loadtester is the load tester's" in (
        message
    )


@pytest.mark.slow  # Helm renders every release of the stack: make test-slow
def test_the_load_testers_pods_carry_the_label_the_refusal_names() -> None:
    # The name refused above is the chart's own pod label (loadtester 0.38.0 deployment.yaml).
    sr = committed("dev")
    (tester,) = [r for r in sr.releases if r.release.name == LOADTESTER_RELEASE]
    (pods,) = [o for o in tester.objects if o.get("kind") == "Deployment"]
    assert pods["spec"]["template"]["metadata"]["labels"]["app"] == LOADTESTER_APP
    (service,) = [o for o in tester.objects if o.get("kind") == "Service"]
    assert service["spec"]["selector"] == {"app": LOADTESTER_APP}


def test_the_volume_minimum_is_configurable_and_checked() -> None:
    run = run_program(
        "dev",
        {
            "services": {
                "podinfo": {"version": "6.14.1", "checks": {"request-volume": {"min": 500}}}
            }
        },
    )
    (volume,) = [
        m for m in canary(run)["spec"]["analysis"]["metrics"] if m["name"] == "request-volume"
    ]
    assert volume["thresholdRange"] == {"min": 500}
    volume = {"min": 0, "mni": 3}
    message, _ = rejection(
        "dev", {"podinfo": {"version": "6.14.1", "checks": {"request-volume": volume}}}
    )
    assert (
        "services.podinfo.checks.request-volume.min: got 0; allowed: 1-1000000 requests" in message
    )
    assert (
        "services.podinfo.checks.request-volume.mni: not a field here; did you mean min?" in message
    )


@pytest.mark.slow  # several program runs: make test-slow
def test_the_volume_minimum_follows_the_load_generator_it_is_sized_from() -> None:
    # Half of what the canary's own generator guarantees in the leanest window (stacks/services/analysis.py):
    # 10 requests/s with 2 workers at a 500 ms SLO sustain only 4/s, so the default drops.
    def minimum(**load: Any) -> int:
        run = run_program("dev", {"services": {"podinfo": {"version": "6.14.1", "loadTest": load}}})
        (volume,) = canary(run)["spec"]["analysis"]["metrics"][:1]
        return volume["thresholdRange"]["min"]

    assert minimum(rate=10) == 65
    assert minimum(rate=10, concurrency=2) == 26
    assert minimum(rate=20) == 130


def test_a_load_generator_that_cannot_stop_within_half_a_run_is_refused() -> None:
    # dev runs every 20 s. A 6 s p99 SLO gives 60 workers at 1/6 request/s each; hey may then
    # run 6 + 6 s past its -z (stacks/analysis.py hey_stop_seconds), and the load tester would
    # skip the next run's load while it runs.
    checks = {"latency": {"max": 6000}, "request-volume": {"min": 0}}
    slow = {"podinfo": {"version": "6.14.1", "checks": checks}}
    message, run = rejection("dev", slow)
    assert (
        "services/podinfo.yaml: loadTest: got {'rate': 10, 'concurrency': 60, "
        "'checks.latency.max': 6000, 'interval': '20s'}; allowed: loadTest.concurrency/"
        "loadTest.rate + checks.latency.max/1000 at most 9 s with a 20 s interval (here 60/10 + "
        "6 = 12 s)" in message
    )
    assert "raise loadTest.rate, lower loadTest.concurrency or checks.latency.max" in message
    # Every problem at once, nothing created.
    assert "services.podinfo.checks.request-volume.min: got 0" in message
    assert run.resources == []
    # One request/s over 6 workers: a 6 s throttle period, 6.5 s with a request, in a 10 s run.
    low = {"version": "6.14.1", "loadTest": {"rate": 1, "concurrency": 6}}
    message, _ = rejection(
        "dev", {"podinfo": {**low, "release": {"interval": "10s", "metricInterval": "30s"}}}
    )
    assert (
        f"{NAME}:services.podinfo.loadTest: got {{'rate': 1, 'concurrency': 6, "
        "'checks.latency.max': 500, 'interval': '10s'}; allowed: loadTest.concurrency/"
        "loadTest.rate + checks.latency.max/1000 at most 4 s with a 10 s interval (here 6/1 + "
        "0.5 = 6.5 s)" in message
    )


@pytest.mark.slow  # several program runs: make test-slow
def test_slow_and_low_rate_load_ends_hey_stop_and_a_second_before_each_run() -> None:
    # prod runs every 60 s: the same slow service is accepted, and its load ends 6 + 6 + 1 s
    # before each run instead of the usual 5 s; the low-rate one 6 + 0.5 (to 7) + 1 s before.
    for fields, hey in (
        ({"checks": {"latency": {"max": 6000}}}, "hey -z 47s -q 0.166667 -c 60 "),
        ({"loadTest": {"rate": 1, "concurrency": 6}}, "hey -z 52s -q 0.166667 -c 6 "),
        ({}, "hey -z 55s -q 2 -c 5 "),
    ):
        run = run_program("prod", {"services": {"podinfo": {"version": "6.14.1", **fields}}})
        for hook in canary(run)["spec"]["analysis"]["webhooks"]:
            if hook["name"].startswith("load-test"):
                assert hey in hook["metadata"]["cmd"], (fields, hook)


@pytest.mark.slow  # several program runs: make test-slow
def test_pods_carry_their_version_for_the_proxy_series() -> None:
    run = run_program("dev", {"services": {"podinfo": {"version": "6.14.0"}}})
    labels = deployment(run).inputs["spec"]["template"]["metadata"]["labels"]
    assert labels == {"app": "podinfo", "app.kubernetes.io/version": "6.14.0"}
    # The selector stays the app label alone: a new version changes the pods, not the selector.
    assert deployment(run).inputs["spec"]["selector"]["matchLabels"] == {"app": "podinfo"}
    digest = "sha256:" + "ab" * 32
    run = run_program("dev", {"services": {"podinfo": {"version": digest}}})
    value = deployment(run).inputs["spec"]["template"]["metadata"]["labels"][
        "app.kubernetes.io/version"
    ]
    assert value == ("sha256-" + "ab" * 32)[:63], "a label value holds 63 characters, no ':'"
