"""Workload layer: podinfo under a Canary, released from stack config, never fighting Flagger."""

from __future__ import annotations

import re

import pytest

from stacks.config import ConfigError
from tests.harness import Run, run_program
from tests.schema_check import problems, target_versions

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
CANARY = "kubernetes:flagger.app/v1beta1:Canary"
TEMPLATE = "kubernetes:flagger.app/v1beta1:MetricTemplate"
ALERT_PROVIDER = "kubernetes:flagger.app/v1beta1:AlertProvider"
PRIMARY_HPA_PATCH = "kubernetes:autoscaling/v2:HorizontalPodAutoscalerPatch"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN"


def canary(run: Run) -> dict:
    return run.one(CANARY).inputs


def hooks(run: Run) -> dict[str, dict]:
    return {h["name"]: h for h in canary(run)["spec"]["analysis"]["webhooks"]}


def test_pulumi_does_not_own_what_flagger_owns(stack_run: Run) -> None:
    deployment = stack_run.one(DEPLOYMENT)
    assert "replicas" not in deployment.inputs["spec"], "replicas would fight Flagger and the HPA"
    assert "spec.replicas" in deployment.ignore_changes
    assert deployment.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    owned_by_flagger = ("kubernetes:core/v1:Service", "kubernetes:gateway.networking.k8s.io/")
    for resource in stack_run.resources:
        assert not resource.type.startswith(owned_by_flagger), f"{resource} is Flagger's to manage"


def test_namespace_is_meshed_and_waits_for_the_injector(stack_run: Run) -> None:
    run = stack_run
    namespace = run.one("kubernetes:core/v1:Namespace", "workload-namespace")
    assert namespace.inputs["metadata"] == {
        "name": "podinfo",
        "annotations": {"linkerd.io/inject": "enabled"},
    }
    assert run.waits_for(namespace, run.release("linkerd-control-plane"))
    for resource in (run.one(DEPLOYMENT), run.release("flagger-loadtester")):
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
    assert spec["revertOnDeletion"] is True
    assert spec["progressDeadlineSeconds"] == 600


def test_analysis_settings_come_from_config(runs: dict[str, Run]) -> None:
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
    tuned = canary(
        run_program(
            "dev", {"canaryInterval": "30s", "canaryMaxWeight": 80, "canarySuccessRate": 95}
        )
    )["spec"]["analysis"]
    assert (tuned["interval"], tuned["maxWeight"]) == ("30s", 80)
    assert {m["name"]: m for m in tuned["metrics"]}["success-rate"]["thresholdRange"] == {"min": 95}


def test_metric_templates_query_linkerd_metrics_in_platform_prometheus(stack_run: Run) -> None:
    templates = {
        t.inputs["metadata"]["name"]: t.inputs["spec"] for t in stack_run.of_type(TEMPLATE)
    }
    assert set(templates) == {"success-rate", "latency"}
    for spec in templates.values():
        assert spec["provider"] == {
            "type": "prometheus",
            "address": stack_run.outputs["prometheusUrl"],
        }
        for label in (
            'namespace="{{ namespace }}"',
            'deployment=~"{{ target }}"',
            "[{{ interval }}]",
        ):
            assert label in spec["query"]
    assert "response_total" in templates["success-rate"]["query"]
    assert 'classification!="failure"' in templates["success-rate"]["query"]
    assert "histogram_quantile(\n  0.99" in templates["latency"]["query"]
    assert "response_latency_ms_bucket" in templates["latency"]["query"]


def test_webhooks_reach_the_load_tester_and_the_canary_service(stack_run: Run) -> None:
    webhooks = hooks(stack_run)
    assert webhooks["acceptance-test"]["type"] == "pre-rollout"
    assert webhooks["load-test"]["type"] == "rollout"
    assert webhooks["rollback-gate"] == {
        "name": "rollback-gate",
        "type": "rollback",
        "url": "http://flagger-loadtester.podinfo/rollback/check",
    }
    for name in ("acceptance-test", "load-test"):
        assert webhooks[name]["url"] == "http://flagger-loadtester.podinfo/"
        assert "http://podinfo-canary.podinfo:9898/" in webhooks[name]["metadata"]["cmd"]
    tester = stack_run.release("flagger-loadtester").inputs
    assert tester["namespace"] == "podinfo"
    assert tester["values"] == {
        "replicaCount": 1,
        "cmd": {"timeout": "1h", "namespaceRegexp": "^podinfo$"},
    }


def test_manual_promotion_gate_per_stack(runs: dict[str, Run]) -> None:
    assert hooks(runs["prod"])["promotion-gate"] == {
        "name": "promotion-gate",
        "type": "confirm-promotion",
        "url": "http://flagger-loadtester.podinfo/gate/check",
    }
    assert "promotion-gate" not in hooks(runs["dev"])


def test_new_version_changes_only_the_pod_template() -> None:
    before, after = run_program("dev"), run_program("dev", {"podinfoVersion": "6.14.0"})
    image = after.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/stefanprodan/podinfo:6.14.0"
    assert canary(before) == canary(after), "the Canary must not change with the version"
    assert before.one(HPA).inputs == after.one(HPA).inputs


def test_retry_changes_a_pod_template_annotation() -> None:
    run = run_program("dev", {"podinfoRetry": "2"})
    template = run.one(DEPLOYMENT).inputs["spec"]["template"]
    assert template["metadata"]["annotations"]["progressive-delivery/retry"] == "2"
    assert "progressive-delivery/retry" not in run.one(DEPLOYMENT).inputs["metadata"].get(
        "annotations", {}
    )


def test_faults_are_injected_for_a_failing_release() -> None:
    run = run_program("dev", {"podinfoFaults": "errors"})
    container = run.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]
    assert "--random-error=true" in container["command"]
    # The injected errors also hit /healthz and /readyz: probes must not restart the canary.
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["tcpSocket"] == {"port": 9898}
        assert "httpGet" not in container[probe]


def test_hpa_bounds_come_from_config(runs: dict[str, Run]) -> None:
    assert (
        runs["dev"].one(HPA).inputs["spec"]["minReplicas"],
        runs["dev"].one(HPA).inputs["spec"]["maxReplicas"],
    ) == (2, 4)
    assert runs["prod"].one(HPA).inputs["spec"]["maxReplicas"] == 10


def test_canary_is_created_after_and_deleted_before_what_it_names(stack_run: Run) -> None:
    run = stack_run
    the_canary = run.one(CANARY)
    needed = [
        run.release("flagger"),
        run.release("flagger-loadtester"),
        run.one(DEPLOYMENT),
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


def test_workload_namespace_comes_from_config() -> None:
    run = run_program("dev", {"workloadNamespace": "shop"})
    for resource in run.resources:
        namespace = resource.inputs.get("metadata", {}).get("namespace")
        if resource.type.startswith(
            ("kubernetes:apps", "kubernetes:flagger", "kubernetes:autoscaling")
        ):
            assert namespace == "shop", resource
    assert hooks(run)["load-test"]["url"] == "http://flagger-loadtester.shop/"
    assert run.release("flagger-loadtester").inputs["values"]["cmd"]["namespaceRegexp"] == "^shop$"


def test_rollout_plan_output(runs: dict[str, Run]) -> None:
    dev = runs["dev"].outputs["rolloutPlan"]
    assert "10% -> 20% -> 30% -> 40% -> 50%" in dev
    assert "is promoted 2 min 40 s after Flagger notices it" in dev
    assert "rolled back 1 min after its first failed check" in dev
    assert "promotion gate" in runs["prod"].outputs["rolloutPlan"]


def test_alerts_go_through_a_secret_and_an_alert_provider() -> None:
    run = run_program(
        "dev",
        {"alertProvider": "slack", "alertChannel": "releases"},
        secrets={"alertWebhookUrl": WEBHOOK},
    )
    provider = run.one(ALERT_PROVIDER).inputs
    assert provider["spec"] == {
        "type": "slack",
        "channel": "releases",
        "username": "flagger",
        "secretRef": {"name": "canary-alerts-webhook"},
    }
    (secret,) = [
        r
        for r in run.of_type("kubernetes:core/v1:Secret")
        if r.inputs["metadata"]["name"] == "canary-alerts-webhook"
    ]
    assert secret.inputs["stringData"] == {"address": WEBHOOK}
    assert secret.is_secret("stringData/address")
    alerts = canary(run)["spec"]["analysis"]["alerts"]
    assert alerts == [
        {
            "name": "slack",
            "severity": "info",
            "providerRef": {"name": "canary-alerts", "namespace": "podinfo"},
        }
    ]
    # The same URL reaches Alertmanager through a Secret it mounts (stacks/alerts.py).
    (alertmanager,) = [
        r
        for r in run.of_type("kubernetes:core/v1:Secret")
        if r.inputs["metadata"]["name"] == "alertmanager-webhook"
    ]
    assert alertmanager.is_secret("stringData/url")
    for resource in run.resources:
        if (
            resource not in (secret, alertmanager)
            and resource.type != "pulumi:providers:kubernetes"
        ):
            assert WEBHOOK not in str(resource.inputs), f"webhook URL in plain text in {resource}"
    assert WEBHOOK not in str(run.outputs)


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


def test_plain_text_webhook_url_is_rejected() -> None:
    with pytest.raises(ConfigError) as raised:
        run_program("dev", {"alertProvider": "slack", "alertWebhookUrl": WEBHOOK})
    message = str(raised.value)
    assert "pulumi config set --secret alertWebhookUrl" in message
    assert "SECRETTOKEN" not in message
    assert re.search(r"alertWebhookUrl: got a plain-text value", message)


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
    raised = run_program("dev", {"podinfoMaxReplicas": 9}).one(PRIMARY_HPA_PATCH)
    assert raised.inputs["spec"]["maxReplicas"] == 9


def test_canary_creation_waits_for_flaggers_initialization(stack_run: Run) -> None:
    annotations = canary(stack_run)["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "jsonpath={.status.lastAppliedSpec}"
    assert int(annotations["pulumi.com/timeoutSeconds"]) > 600


def test_deployment_deadline_is_the_canarys(stack_run: Run) -> None:
    deployment = stack_run.one(DEPLOYMENT).inputs["spec"]
    assert (
        deployment["progressDeadlineSeconds"]
        == canary(stack_run)["spec"]["progressDeadlineSeconds"]
    )
    tuned = run_program("dev", {"canaryProgressDeadlineSeconds": 900})
    assert tuned.one(DEPLOYMENT).inputs["spec"]["progressDeadlineSeconds"] == 900
    assert canary(tuned)["spec"]["progressDeadlineSeconds"] == 900


def test_apex_traffic_exercises_the_split(stack_run: Run) -> None:
    apex = hooks(stack_run)["load-test-apex"]
    assert apex["type"] == "rollout"
    assert apex["url"] == "http://flagger-loadtester.podinfo/"
    # The apex Service, not podinfo-canary: the meshed load tester's proxy applies the weights.
    assert "http://podinfo.podinfo:9898/" in apex["metadata"]["cmd"]
