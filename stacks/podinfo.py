"""Workload manifests: manifests/podinfo/ loaded with pyyaml and patched with what the stack decides.

Pure functions, no resources: the workload layer applies the result, and `make validate` checks
it against the Kubernetes and Flagger schemas without a cluster.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from stacks.manifests import load_documents, load_one
from stacks.settings import WorkloadSettings
from stacks.validators import flagger_duration

IMAGE = "ghcr.io/stefanprodan/podinfo"
TARGET = "podinfo"  # the Deployment the Canary releases (manifests/podinfo/deployment.yaml)
LOADTESTER_RELEASE = "flagger-loadtester"
ALERT_PROVIDER = "canary-alerts"
ALERT_SECRET = "canary-alerts-webhook"
RETRY_ANNOTATION = "progressive-delivery/retry"
# podinfo's own fault injection, to watch a release fail and roll back.
FAULT_FLAGS = {
    "none": [],
    "errors": ["--random-error=true"],
    "latency": [
        "--random-delay=true",
        "--random-delay-min=0",
        "--random-delay-max=3",
        "--random-delay-unit=s",
    ],
}


@dataclass(frozen=True)
class PodinfoManifests:
    """Every object of the workload, as the Kubernetes API will receive it."""

    namespace: dict[str, Any]
    deployment: dict[str, Any]
    autoscaler: dict[str, Any]
    metric_templates: list[dict[str, Any]]
    canary: dict[str, Any]
    primary_autoscaler_bounds: dict[str, Any]
    """A server-side-apply patch of the HPA Flagger generates for the primary (see render)."""
    alert_provider: dict[str, Any] | None = None
    alert_secret_name: str | None = None

    def all(self) -> list[dict[str, Any]]:
        objects = [self.namespace, self.deployment, self.autoscaler, *self.metric_templates]
        if self.alert_provider is not None:
            objects.append(self.alert_provider)
        return [*objects, self.canary]


def loadtester_url(namespace: str) -> str:
    """Base URL of the load tester (its Service is named after the release)."""
    return f"http://{LOADTESTER_RELEASE}.{namespace}"


def render(
    workload: WorkloadSettings,
    prometheus_url: str,
    alert_provider: str = "none",
    alert_channel: str = "",
) -> PodinfoManifests:
    """The podinfo objects for `workload`, querying `prometheus_url`."""
    ns = workload.namespace
    namespace = load_one("podinfo/namespace.yaml")
    namespace["metadata"]["name"] = ns
    deployment = _in_namespace(load_one("podinfo/deployment.yaml"), ns)
    _patch_deployment(deployment, workload)
    autoscaler = _in_namespace(load_one("podinfo/horizontalpodautoscaler.yaml"), ns)
    autoscaler["spec"]["minReplicas"] = workload.min_replicas
    autoscaler["spec"]["maxReplicas"] = workload.max_replicas
    templates = [_in_namespace(t, ns) for t in load_documents("podinfo/metrictemplate.yaml")]
    for template in templates:
        template["spec"]["provider"]["address"] = prometheus_url
    canary = _in_namespace(load_one("podinfo/canary.yaml"), ns)
    alert = None
    if alert_provider != "none":
        alert = _alert_provider(ns, alert_provider, alert_channel)
    _patch_canary(canary, workload, alert)
    return PodinfoManifests(
        namespace=namespace,
        deployment=deployment,
        autoscaler=autoscaler,
        metric_templates=templates,
        canary=canary,
        primary_autoscaler_bounds=_primary_bounds(canary, autoscaler),
        alert_provider=alert,
        alert_secret_name=ALERT_SECRET if alert else None,
    )


def _primary_bounds(canary: dict[str, Any], autoscaler: dict[str, Any]) -> dict[str, Any]:
    """The replica bounds of the HPA that scales the serving primary, now rather than later.

    Flagger creates `<autoscalerRef.name>-primary` once and copies the bounds onto it only at the
    next promotion (pkg/canary/hpa_reconciler.go:55-77, called with init=false only while
    Promoting, scheduler.go:382-387), so a raised maxReplicas would wait for a whole release.
    Applying the same bounds Flagger would copy keeps them in step at every `pulumi up`.
    """
    return {
        "apiVersion": autoscaler["apiVersion"],
        "kind": autoscaler["kind"],
        "metadata": {
            "name": f"{canary['spec']['autoscalerRef']['name']}-primary",
            "namespace": autoscaler["metadata"]["namespace"],
        },
        "spec": {
            "minReplicas": autoscaler["spec"]["minReplicas"],
            "maxReplicas": autoscaler["spec"]["maxReplicas"],
        },
    }


def _in_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = namespace
    return obj


def _patch_deployment(deployment: dict[str, Any], workload: WorkloadSettings) -> None:
    # One deadline: Kubernetes marks the Deployment ProgressDeadlineExceeded after its own value,
    # which Flagger treats as final (deployment_ready.go:92-93) and copies onto the primary
    # (deployment_controller.go:96), so it must be the Canary's, not a shorter one.
    deployment["spec"]["progressDeadlineSeconds"] = workload.canary.progress_deadline_seconds
    template = deployment["spec"]["template"]
    (container,) = template["spec"]["containers"]
    container["image"] = f"{IMAGE}:{workload.version}"
    container["command"] = [*container["command"], *FAULT_FLAGS[workload.faults]]
    if workload.faults != "none":
        # Injected errors hit every route, /healthz and /readyz too: probe the port instead, so
        # the release fails on its metrics rather than on restarts and readiness flapping.
        for probe in ("livenessProbe", "readinessProbe"):
            container[probe]["tcpSocket"] = {"port": container[probe].pop("httpGet")["port"]}
    if workload.retry:
        # A change on the pod template is what makes Flagger analyse the same image again.
        template["metadata"].setdefault("annotations", {})[RETRY_ANNOTATION] = workload.retry


def _patch_canary(
    canary: dict[str, Any], workload: WorkloadSettings, alert: dict[str, Any] | None
) -> None:
    ns = workload.namespace
    c = workload.canary
    spec = canary["spec"]
    spec["progressDeadlineSeconds"] = c.progress_deadline_seconds
    for ref in spec["service"]["gatewayRefs"]:
        ref["namespace"] = ns
    analysis = spec["analysis"]
    analysis.update(
        interval=flagger_duration(c.interval_seconds),
        threshold=c.threshold,
        maxWeight=c.max_weight,
        stepWeight=c.step_weight,
    )
    thresholds = {"success-rate": {"min": c.success_rate}, "latency": {"max": c.latency_p99_ms}}
    for metric in analysis["metrics"]:
        metric["templateRef"]["namespace"] = ns
        metric["interval"] = flagger_duration(c.metric_interval_seconds)
        metric["thresholdRange"] = thresholds[metric["name"]]

    port = spec["service"]["port"]
    canary_url = f"http://{spec['targetRef']['name']}-canary.{ns}:{port}"
    apex_url = f"http://{spec['targetRef']['name']}.{ns}:{port}"
    tester = loadtester_url(ns)
    # Load for a little longer than one step, so every analysis window has samples; the load
    # tester does not start a second copy of a command that is still running.
    load_seconds = c.interval_seconds * 2
    hooks = {hook["name"]: hook for hook in analysis["webhooks"]}
    hooks["acceptance-test"]["url"] = f"{tester}/"
    hooks["acceptance-test"]["metadata"]["cmd"] = f"curl -sd 'test' {canary_url}/token | grep token"
    hooks["rollback-gate"]["url"] = f"{tester}/rollback/check"
    hooks["load-test"]["url"] = f"{tester}/"
    hooks["load-test"]["metadata"]["cmd"] = (
        f"hey -z {flagger_duration(load_seconds)} -q 10 -c 2 {canary_url}/"
    )
    hooks["load-test-apex"]["url"] = f"{tester}/"
    hooks["load-test-apex"]["metadata"]["cmd"] = (
        f"hey -z {flagger_duration(load_seconds)} -q 10 -c 2 {apex_url}/"
    )
    if c.manual_promotion:
        analysis["webhooks"].append(
            {"name": "promotion-gate", "type": "confirm-promotion", "url": f"{tester}/gate/check"}
        )
    if alert is not None:
        analysis["alerts"] = [
            {
                "name": alert["spec"]["type"],
                "severity": "info",
                "providerRef": {"name": alert["metadata"]["name"], "namespace": ns},
            }
        ]


def _alert_provider(namespace: str, provider: str, channel: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": provider, "secretRef": {"name": ALERT_SECRET}}
    if provider == "slack":
        spec |= {"channel": channel, "username": "flagger"}
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": ALERT_PROVIDER, "namespace": namespace},
        "spec": spec,
    }
