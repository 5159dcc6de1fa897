"""Service manifests: manifests/service/ loaded with pyyaml and patched with one service's settings.

Pure functions, no resources: the services layer applies the result, and `make validate` checks it
against the Kubernetes and Flagger schemas without a cluster. Flagger v1.44.0's Canary CRD is the
reference for the analysis fields (artifacts/flagger/crd.yaml: analysis is oneOf
interval+threshold+stepWeight | interval+threshold+iterations).
"""

from __future__ import annotations

import copy
import re
import shlex
from dataclasses import dataclass
from typing import Any

from stacks.manifests import load_documents, load_one
from stacks.schema.delivery import flagger_duration
from stacks.schema.service import BUILT_IN_CHECKS, Check, Release, ServiceConfig
from stacks.schema.services import LOADTESTER_RELEASE, PLATFORM_ALERTS
from stacks.services.analysis import VERSION_LABEL, load_seconds, version_label

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
class ServiceManifests:
    """Every object of one service, as the Kubernetes API will receive it."""

    deployment: dict[str, Any]
    autoscaler: dict[str, Any]
    canary: dict[str, Any]
    primary_autoscaler_bounds: dict[str, Any]
    """A server-side-apply patch of the HPA Flagger generates for the primary (see render)."""
    metric_templates: list[dict[str, Any]]
    """The service's own checks' MetricTemplates (the built-in ones are its namespace's)."""
    alert_provider: dict[str, Any] | None = None
    """The service's own AlertProvider (its own webhook); None for the platform's or none."""
    alert_secret_name: str | None = None

    def all(self) -> list[dict[str, Any]]:
        own = [self.alert_provider] if self.alert_provider is not None else []
        return [self.deployment, self.autoscaler, *self.metric_templates, *own, self.canary]


@dataclass(frozen=True)
class NamespaceManifests:
    """What every service namespace has once: the namespace and the shared MetricTemplates."""

    namespace: dict[str, Any]
    metric_templates: list[dict[str, Any]]
    platform_alerts: dict[str, Any] | None
    """The AlertProvider on the platform's webhook, when a service here uses it."""


def loadtester_url(namespace: str) -> str:
    """Base URL of a namespace's load tester (its Service is named after the release)."""
    return f"http://{LOADTESTER_RELEASE}.{namespace}"


def render_namespace(
    namespace: str, prometheus_url: str, platform_alerts: tuple[str, str] | None
) -> NamespaceManifests:
    """`platform_alerts`: (provider, Slack channel) of the platform's webhook, if used here."""
    ns = load_one("service/namespace.yaml")
    ns["metadata"]["name"] = namespace
    templates = [_in_namespace(t, namespace) for t in load_documents("service/metrictemplate.yaml")]
    for template in templates:
        template["spec"]["provider"]["address"] = prometheus_url
    alerts = None
    if platform_alerts is not None:
        alerts = _alert_provider(PLATFORM_ALERTS, namespace, *platform_alerts)
    return NamespaceManifests(ns, templates, alerts)


def render(s: ServiceConfig, prometheus_url: str, *, platform_alerts: bool) -> ServiceManifests:
    """The objects of service `s`; `platform_alerts`: the platform has a webhook for services
    whose alerts go there."""
    deployment = _named(load_one("service/deployment.yaml"), s)
    _patch_deployment(deployment, s)
    autoscaler = _named(load_one("service/horizontalpodautoscaler.yaml"), s)
    autoscaler["spec"]["scaleTargetRef"]["name"] = s.name
    autoscaler["spec"]["minReplicas"] = s.replicas.min
    autoscaler["spec"]["maxReplicas"] = s.replicas.max
    canary = _named(load_one("service/canary.yaml"), s)
    own = None
    if s.alerts.target == "own":
        own = _alert_provider(f"{s.name}-alerts", s.namespace, s.alerts.provider, s.alerts.channel)
    _patch_canary(canary, s, own, platform_alerts)
    return ServiceManifests(
        deployment=deployment,
        autoscaler=autoscaler,
        canary=canary,
        primary_autoscaler_bounds=_primary_bounds(canary, autoscaler, s.release),
        metric_templates=[
            _custom_template(s, name, check, prometheus_url)
            for name, check in s.checks.items()
            if name not in BUILT_IN_CHECKS
        ],
        alert_provider=own,
        alert_secret_name=own["spec"]["secretRef"]["name"] if own else None,
    )


def _named(obj: dict[str, Any], s: ServiceConfig) -> dict[str, Any]:
    obj = _in_namespace(obj, s.namespace)
    obj["metadata"]["name"] = s.name
    if "labels" in obj["metadata"]:
        obj["metadata"]["labels"] = {"app": s.name}
    return obj


def _in_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = namespace
    return obj


def _patch_deployment(deployment: dict[str, Any], s: ServiceConfig) -> None:
    spec = deployment["spec"]
    # One deadline: Kubernetes marks the Deployment ProgressDeadlineExceeded after its own value,
    # which Flagger treats as final (deployment_ready.go:92-93) and copies onto the primary
    # (deployment_controller.go:96), so it must be the Canary's, not a shorter one.
    spec["progressDeadlineSeconds"] = s.release.progress_deadline_seconds
    spec["selector"]["matchLabels"] = {"app": s.name}
    template = spec["template"]
    template["metadata"]["labels"] = {
        "app": s.name,
        VERSION_LABEL: version_label(s.version),
    }
    (container,) = template["spec"]["containers"]
    container["image"] = s.image_ref
    container["ports"][0]["containerPort"] = s.port
    flags = FAULT_FLAGS[s.faults]
    if s.command:
        container["command"] = [*s.command, *flags]
        if s.args:
            container["args"] = list(s.args)
    elif s.args or flags:
        container["args"] = [*s.args, *flags]
    if s.env:
        container["env"] = [{"name": name, "value": value} for name, value in sorted(s.env.items())]
    container["readinessProbe"]["httpGet"]["path"] = s.probes.readiness
    container["livenessProbe"]["httpGet"]["path"] = s.probes.liveness
    if s.faults != "none":
        # Injected errors hit every route, health checks too: probe the port instead, so the
        # release fails on its metrics rather than on restarts and readiness flapping.
        for probe in ("livenessProbe", "readinessProbe"):
            container[probe]["tcpSocket"] = {"port": container[probe].pop("httpGet")["port"]}
    resources = container["resources"]
    wanted = s.resources
    resources["requests"] = {"cpu": wanted.cpu, "memory": wanted.memory}
    resources["limits"] = {"memory": wanted.memory_limit}
    if wanted.cpu_limit:
        resources["limits"]["cpu"] = wanted.cpu_limit
    container["securityContext"]["runAsUser"] = s.user
    if s.retry:
        # A change on the pod template is what makes Flagger analyse the same image again.
        template["metadata"]["annotations"] = {RETRY_ANNOTATION: s.retry}


def _patch_canary(
    canary: dict[str, Any], s: ServiceConfig, own: dict[str, Any] | None, platform_alerts: bool
) -> None:
    spec, r = canary["spec"], s.release
    spec["targetRef"]["name"] = s.name
    spec["autoscalerRef"]["name"] = s.name
    primary = r.primary_scaler_replicas
    if primary.min or primary.max:
        spec["autoscalerRef"]["primaryScalerReplicas"] = {
            **({"minReplicas": primary.min} if primary.min else {}),
            **({"maxReplicas": primary.max} if primary.max else {}),
        }
    spec["progressDeadlineSeconds"] = r.progress_deadline_seconds
    spec["service"].update(port=s.port, targetPort=s.port)
    spec["service"]["gatewayRefs"] = [
        {
            "name": s.name,
            "namespace": s.namespace,
            "group": "core",
            "kind": "Service",
            "port": s.port,
        }
    ]
    analysis = spec["analysis"]
    analysis.update(interval=flagger_duration(r.interval_seconds), threshold=r.threshold)
    _strategy(analysis, r)
    # In the declaration's order, the built-in checks first: Flagger stops a run at the first
    # check that fails (docs/analysis.md), and request-volume must be judged before the rest.
    analysis["metrics"] = [_metric(s, name, check) for name, check in s.checks.items()]
    analysis["webhooks"] = _webhooks(s)
    provider = own["metadata"]["name"] if own else PLATFORM_ALERTS
    if own is not None or (s.alerts.target == "platform" and platform_alerts):
        kind = own["spec"]["type"] if own else "platform"
        analysis["alerts"] = [
            {
                "name": kind,
                "severity": "info",
                "providerRef": {"name": provider, "namespace": s.namespace},
            }
        ]


def _strategy(analysis: dict[str, Any], r: Release) -> None:
    for field in ("maxWeight", "stepWeight"):
        analysis.pop(field, None)
    if r.strategy == "canary":
        analysis.update(maxWeight=r.max_weight, stepWeight=r.step_weight)
        if r.session_affinity is not None:
            analysis["sessionAffinity"] = {
                "cookieName": r.session_affinity.cookie_name,
                "maxAge": r.session_affinity.max_age,
                # Without Path the browser scopes the cookie to the first request's directory
                # (RFC 6265 5.1.4); Flagger adds Path only when set (canary.go BuildCookie).
                "path": "/",
            }
    else:
        analysis["iterations"] = r.iterations
    if r.match is not None:
        analysis["match"] = [{"headers": _header_match(r)}]
    if r.step_weight_promotion:
        analysis["stepWeightPromotion"] = r.step_weight_promotion


def _header_match(r: Release) -> dict[str, Any]:
    """Exact header, or the Cookie header by regex: the header matches Flagger's Gateway API
    router maps (v1.44.0 pkg/router/gateway_api_v1beta1.go mapRouteMatches: exact or regex), and
    Linkerd's policy controller serves (edge-26.8.3 policy-controller/k8s/index/src/routes/http.rs:
    Exact and RegularExpression)."""
    assert r.match is not None
    if r.match.kind == "header":
        return {r.match.name.lower(): {"exact": r.match.value}}
    cookie = re.escape(f"{r.match.name}={r.match.value}")
    # Cookies are joined by "; " (RFC 6265 section 5.4): the pair may follow another and a space.
    return {"cookie": {"regex": f"^(.*?;\\s*)?({cookie})(;.*)?$"}}


def _webhooks(s: ServiceConfig) -> list[dict[str, Any]]:
    """The load tester runs every cmd through a shell (v1.44.0 pkg/loadtester/task_shell.go:52,
    `sh -c`; bash for type bash): each URL and header is shell-quoted, never pasted in.

    Each load command runs a little less than one interval (stacks/services/analysis.py load_seconds):
    Flagger calls it again at every run, and the load tester skips a command that is still
    running (pkg/loadtester/runner.go), so one still running then (hey included, which stops a
    throttle period and a request after its -z) would leave every other window without load. It is also a pre-rollout task, one run before the first analysis, so that window has
    load too; the first rollout call then finds it ended and starts it again."""
    r = s.release
    tester = loadtester_url(s.namespace)
    canary_url = f"http://{s.name}-canary.{s.namespace}:{s.port}"
    apex_url = f"http://{s.name}.{s.namespace}:{s.port}"
    load = flagger_duration(
        load_seconds(r.interval_seconds, s.load_test.rate, s.load_concurrency, s.latency_ms)
    )
    # hey's -q is per worker (a float): the workers together send loadTest.rate requests/s.
    workers = s.load_concurrency
    hey = f"hey -z {load} -q {s.load_test.rate / workers:g} -c {workers}"
    path = s.load_test.path
    loads = [("load-test", f"{hey} {shlex.quote(canary_url + path)}")]
    # Through the apex Service, as real callers send it: the meshed load tester's proxy applies
    # the route's weights (A/B: the match sends these to the new version). Not for blue/green:
    # its analysis runs leave all routed traffic on the primary (scheduler.go runBlueGreen), so
    # the apex load would only add load the analysis never sees.
    if r.strategy != "blueGreen":
        loads.append(("load-test-apex", f"{hey}{_match_header(r)} {shlex.quote(apex_url + path)}"))
    hooks: list[dict[str, Any]] = [
        # Before the acceptance test, which blocks until it is done: the load then starts at the
        # same moment of the run as the rollout calls that follow.
        _load_hook(f"{name}-start", "pre-rollout", tester, cmd)
        for name, cmd in loads
    ]
    acceptance = s.acceptance_test
    if acceptance.path:
        body = " -d ''" if acceptance.method == "POST" else ""
        target = shlex.quote(f"{canary_url}{acceptance.path}")
        hooks.append(
            {
                "name": "acceptance-test",
                "type": "pre-rollout",
                "url": f"{tester}/",
                "timeout": "30s",
                "metadata": {
                    "type": "bash",
                    "cmd": f"curl -sf -X {acceptance.method}{body} {target}",
                },
            }
        )
    hooks.append({"name": "rollback-gate", "type": "rollback", "url": f"{tester}/rollback/check"})
    hooks += [_load_hook(name, "rollout", tester, cmd) for name, cmd in loads]
    if r.manual_promotion:
        hooks.append(
            {"name": "promotion-gate", "type": "confirm-promotion", "url": f"{tester}/gate/check"}
        )
    return hooks


def _load_hook(name: str, hook_type: str, tester: str, cmd: str) -> dict[str, Any]:
    # The load tester answers 202 at once and runs the command in the background.
    return {
        "name": name,
        "type": hook_type,
        "url": f"{tester}/",
        "timeout": "5s",
        "metadata": {"cmd": cmd},
    }


def _match_header(r: Release) -> str:
    if r.match is None:
        return ""
    if r.match.kind == "header":
        return f" -H {shlex.quote(f'{r.match.name}: {r.match.value}')}"
    return f" -H {shlex.quote(f'Cookie: {r.match.name}={r.match.value}')}"


def _primary_bounds(
    canary: dict[str, Any], autoscaler: dict[str, Any], r: Release
) -> dict[str, Any]:
    """The replica bounds of the HPA that scales the serving primary, now rather than later.

    Flagger creates `<autoscalerRef.name>-primary` once and copies the bounds onto it only at the
    next promotion (pkg/canary/hpa_reconciler.go:55-77, called with init=false only while
    Promoting, scheduler.go:382-387), so a raised maxReplicas would wait for a whole release.
    Applying the bounds Flagger would copy (primaryScalerReplicas first, hpa_reconciler.go:70-77)
    keeps them in step at every `pulumi up`.
    """
    return {
        "apiVersion": autoscaler["apiVersion"],
        "kind": autoscaler["kind"],
        "metadata": {
            "name": f"{canary['spec']['autoscalerRef']['name']}-primary",
            "namespace": autoscaler["metadata"]["namespace"],
        },
        "spec": {
            "minReplicas": r.primary_scaler_replicas.min or autoscaler["spec"]["minReplicas"],
            "maxReplicas": r.primary_scaler_replicas.max or autoscaler["spec"]["maxReplicas"],
        },
    }


def _metric(s: ServiceConfig, name: str, check: Check) -> dict[str, Any]:
    """One check as a Canary metric: the namespace's built-in template or the service's own."""
    bounds = {"min": check.min, "max": check.max}
    if name == "request-volume":
        bounds["min"] = s.min_requests
    window = check.window or flagger_duration(s.release.metric_interval_seconds)
    return {
        "name": name,
        "templateRef": {
            "name": name if name in BUILT_IN_CHECKS else custom_template_name(s, name),
            "namespace": s.namespace,
        },
        "thresholdRange": {k: _number(v) for k, v in bounds.items() if v is not None},
        "interval": window,
        # The built-in queries select the service's own port (target_port), not the proxy's
        # admin port; a custom query may use it too.
        "templateVariables": {"port": str(s.port)} | _unit(name, check),
    }


def _unit(name: str, check: Check) -> dict[str, str]:
    """A custom check's unit rides in its templateVariables, where `canaryctl status`, `wait` and
    `history` read it from the live Canary. Flagger only offers the variables to the query's
    template ({{ variables.unit }}, flagger v1.44.0 pkg/apis/flagger/v1beta1/metric.go:97-110,
    pkg/controller/scheduler_metrics.go:303,376); a query that does not name it ignores it."""
    return {"unit": check.unit} if name not in BUILT_IN_CHECKS and check.unit else {}


def custom_template_name(s: ServiceConfig, check: str) -> str:
    """A service's own check's MetricTemplate: <service>-<check> in its namespace."""
    return f"{s.name}-{check}"


def _custom_template(
    s: ServiceConfig, name: str, check: Check, prometheus_url: str
) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": custom_template_name(s, name), "namespace": s.namespace},
        "spec": {
            "provider": {"type": "prometheus", "address": prometheus_url},
            "query": check.query,
        },
    }


def _number(value: float) -> int | float:
    """99.0 as 99: the Canary says what the declaration said."""
    return int(value) if float(value).is_integer() else value


def _alert_provider(name: str, namespace: str, provider: str, channel: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": provider, "secretRef": {"name": f"{name}-webhook"}}
    if provider == "slack":
        spec |= {"channel": channel, "username": "flagger"}
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
