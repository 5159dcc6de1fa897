"""Cross-checks of a service's names: every reference from its Canary must land on a real object.

Flagger accepts a Canary whose targetRef, templateRef or webhook points nowhere and only fails at
release time; these checks fail `pulumi up` (and `make validate`) before anything is applied.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from stacks.schema.delivery import flagger_seconds
from stacks.schema.services import LOADTESTER_RELEASE
from stacks.services.analysis import RenderError, query_model, render_query
from stacks.services.manifests import NamespaceManifests, ServiceManifests

# Which load-tester endpoint each kind of webhook must call.
_WEBHOOK_PATHS = {
    "pre-rollout": "/",
    "rollout": "/",
    "post-rollout": "/",
    "rollback": "/rollback/check",
    "confirm-rollout": "/gate/check",
    "confirm-promotion": "/gate/check",
    "confirm-traffic-increase": "/gate/check",
}
_URL_IN_COMMAND = re.compile(r"https?://[^\s'\"|]+")
_HEY_DURATION = re.compile(r"\bhey\b.*?\s-z\s+(\d+[sm])\b")


def problems(m: ServiceManifests, n: NamespaceManifests, prometheus_url: str) -> list[str]:
    """Every broken reference of one service in `m` (with its namespace's shared objects `n`), as
    readable sentences; empty when all names match."""
    found: list[str] = []
    canary = m.canary
    spec = canary["spec"]
    ns = canary["metadata"]["namespace"]

    for obj in m.all():
        if obj["metadata"].get("namespace") != ns:
            found.append(f"{_name(obj)} is not in the service's namespace {ns}")
    if n.namespace["metadata"]["name"] != ns:
        found.append(f"Namespace {n.namespace['metadata']['name']} is not the canary's {ns}")

    found += _ref("Canary targetRef", spec["targetRef"], m.deployment)
    found += _ref("Canary autoscalerRef", spec["autoscalerRef"], m.autoscaler)
    primary_hpa = f"{spec['autoscalerRef']['name']}-primary"  # hpa_reconciler.go:79
    if m.primary_autoscaler_bounds["metadata"]["name"] != primary_hpa:
        found.append(
            f"the primary HPA patch names {m.primary_autoscaler_bounds['metadata']['name']}, "
            f"but Flagger creates {primary_hpa}"
        )
    found += _ref("HPA scaleTargetRef", m.autoscaler["spec"]["scaleTargetRef"], m.deployment)
    if "replicas" in m.deployment["spec"]:
        found.append(f"{_name(m.deployment)} declares replicas, which Flagger and the HPA own")
    template_labels = m.deployment["spec"]["template"]["metadata"].get("labels", {})
    for key, value in m.deployment["spec"]["selector"]["matchLabels"].items():
        if template_labels.get(key) != value:
            found.append(f"Deployment selector {key}={value} does not match its pod labels")

    templates = {(t["metadata"]["namespace"], t["metadata"]["name"]): t for t in n.metric_templates}
    for metric in spec["analysis"].get("metrics", []):
        ref = metric.get("templateRef")
        template = templates.get((ref.get("namespace", ns), ref["name"])) if ref else None
        if ref and template is None:
            found.append(
                f"metric {metric['name']}: no MetricTemplate {ref['name']} in {ref.get('namespace', ns)}"
            )
        elif template is not None:
            found += _query(canary, metric, template)
    for template in n.metric_templates:
        if template["spec"]["provider"].get("address") != prometheus_url:
            found.append(
                f"{_name(template)} queries {template['spec']['provider'].get('address')}, not {prometheus_url}"
            )

    found += _gateway_refs(spec, ns)
    found += _webhooks(spec, ns)
    found += _alerts(spec, ns, m, n)
    return [f"{canary['metadata']['name']}: {problem}" for problem in found]


def _name(obj: dict[str, Any]) -> str:
    return f"{obj['kind']} {obj['metadata']['name']}"


def _ref(what: str, ref: dict[str, Any], target: dict[str, Any]) -> list[str]:
    if (ref.get("apiVersion"), ref.get("kind"), ref.get("name")) != (
        target["apiVersion"],
        target["kind"],
        target["metadata"]["name"],
    ):
        return [
            f"{what} {ref.get('kind')}/{ref.get('name')} ({ref.get('apiVersion')}) is not {_name(target)} ({target['apiVersion']})"
        ]
    return []


def _apex(spec: dict[str, Any]) -> str:
    """The Service Flagger generates for callers (service.name, else the target's name)."""
    return spec["service"].get("name") or spec["targetRef"]["name"]


def _gateway_refs(spec: dict[str, Any], ns: str) -> list[str]:
    port = spec["service"]["port"]
    refs = spec["service"].get("gatewayRefs") or []
    if not refs:
        return ["Canary has no service.gatewayRefs: a Gateway API provider routes nothing"]
    found = []
    for ref in refs:
        wanted = {
            "name": _apex(spec),
            "namespace": ns,
            "group": "core",
            "kind": "Service",
            "port": port,
        }
        wrong = {key: ref.get(key) for key, value in wanted.items() if ref.get(key) != value}
        if wrong:
            found.append(f"gatewayRef {wrong} must point at the apex Service: {wanted}")
    return found


def _query(canary: dict[str, Any], metric: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """The query Flagger will send renders (missingkey=error) and selects the service's port."""
    try:
        query = render_query(template["spec"]["query"], query_model(canary, metric))
    except RenderError as error:
        return [
            f"metric {metric['name']}: its query does not render as Flagger renders it: {error}"
        ]
    port = str(canary["spec"]["service"].get("targetPort") or canary["spec"]["service"]["port"])
    if "target_port=" in query and f'target_port="{port}"' not in query:
        return [f"metric {metric['name']}: its query does not select the service's port {port}"]
    return []


def _load_problems(spec: dict[str, Any]) -> list[str]:
    """Load commands fit Flagger's schedule and the load tester's skip rule (stacks/services/analysis.py):
    each ends within one interval, and each starts as pre-rollout too."""
    found = []
    analysis = spec["analysis"]
    interval = flagger_seconds(analysis["interval"])
    hooks = analysis.get("webhooks", [])
    started = {h.get("metadata", {}).get("cmd") for h in hooks if h.get("type") == "pre-rollout"}
    for hook in hooks:
        cmd = hook.get("metadata", {}).get("cmd", "")
        duration = _HEY_DURATION.search(cmd)
        if hook.get("type") != "rollout" or duration is None:
            continue
        if flagger_seconds(duration[1]) >= interval:
            found.append(
                f"webhook {hook['name']} runs load for {duration[1]}, not less than the "
                f"interval {analysis['interval']}: the load tester skips it every other run"
            )
        if cmd not in started:
            found.append(
                f"webhook {hook['name']} has no pre-rollout twin: the first analysis window "
                "would have no load"
            )
    return found


def _webhooks(spec: dict[str, Any], ns: str) -> list[str]:
    found = _load_problems(spec)
    tester_host = f"{LOADTESTER_RELEASE}.{ns}"
    # Load goes to the canary Service or, split by the route's weights, to the apex Service.
    targets = {f"{_apex(spec)}-canary.{ns}", f"{_apex(spec)}.{ns}"}
    port = spec["service"]["port"]
    for hook in spec["analysis"].get("webhooks", []):
        url = urlparse(hook["url"])
        if url.hostname != tester_host or url.port not in (None, 80):
            found.append(
                f"webhook {hook['name']} calls {url.netloc}, not the load tester {tester_host}"
            )
        wanted_path = _WEBHOOK_PATHS.get(hook.get("type", ""), "/")
        if (url.path or "/") != wanted_path:
            found.append(
                f"webhook {hook['name']} ({hook.get('type')}) calls {url.path or '/'}, not {wanted_path}"
            )
        for target in _URL_IN_COMMAND.findall(hook.get("metadata", {}).get("cmd", "")):
            parsed = urlparse(target)
            if parsed.hostname not in targets or parsed.port != port:
                found.append(
                    f"webhook {hook['name']} sends traffic to {parsed.netloc}, not to "
                    f"{' or '.join(f'{t}:{port}' for t in sorted(targets))}"
                )
    return found


def _alerts(spec: dict[str, Any], ns: str, m: ServiceManifests, n: NamespaceManifests) -> list[str]:
    found = []
    providers = {
        (p["metadata"]["namespace"], p["metadata"]["name"]): p
        for p in (m.alert_provider, n.platform_alerts)
        if p is not None
    }
    for alert in spec["analysis"].get("alerts", []):
        ref = alert["providerRef"]
        provider = providers.get((ref.get("namespace", ns), ref["name"]))
        if provider is None:
            found.append(f"alert {alert['name']}: no AlertProvider {ref['name']}")
        elif (
            provider is m.alert_provider
            and provider["spec"]["secretRef"]["name"] != m.alert_secret_name
        ):
            found.append(
                f"AlertProvider {ref['name']} reads Secret {provider['spec']['secretRef']['name']}, which is not created"
            )
    return found
