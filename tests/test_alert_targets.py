"""The component alerts select what the charts really run: each component's pods, as Helm renders
them with the platform's values, carry the labels, container names, ports and annotations the
scrape jobs turn into the `up` series the rules select (names must match, or a rule watches
nothing and fires forever, or worse, never)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from stacks.telemetry.alerts_health import COMPONENTS, KUBE_STATE_METRICS_SERVICE
from tests.render_check import StackRender, committed

# A long analysis (each component alert against the pods each stack runs): `make test-slow`, which CI runs too.
pytestmark = pytest.mark.slow

_PAIR = re.compile(r'(\w+)="([^"]*)"')
# The linkerd-controller job keeps container ports named admin or *-admin, except linkerd-admin
# (manifests/telemetry/prometheus-values.yaml).
_ADMIN_PORT = re.compile(r"^(admin|.*-admin)$")


@pytest.fixture(scope="module")
def prod() -> StackRender:
    return committed("prod")


def pod_templates(sr: StackRender) -> list[tuple[str, dict[str, Any]]]:
    """(namespace, pod template) of every Deployment and StatefulSet the stack installs."""
    return [
        (obj["metadata"]["namespace"], obj["spec"]["template"])
        for _, obj in sr.objects()
        if obj["kind"] in ("Deployment", "StatefulSet")
    ]


def scraped_by_pods_job(template: dict[str, Any], selector: dict[str, str]) -> bool:
    metadata = template["metadata"]
    labels = {
        k.replace(".", "_").replace("/", "_").replace("-", "_"): v
        for k, v in (metadata.get("labels") or {}).items()
    }
    annotations = metadata.get("annotations") or {}
    wanted = {k: v for k, v in selector.items() if k not in ("job", "namespace")}
    return annotations.get("prometheus.io/scrape") == "true" and all(
        labels.get(k) == v for k, v in wanted.items()
    )


@pytest.mark.parametrize("component", COMPONENTS, ids=[c.alert for c in COMPONENTS])
def test_each_component_alert_selects_pods_the_stack_runs(
    component: Any, prod: StackRender
) -> None:
    selector = dict(_PAIR.findall(component.selector))
    templates = [t for ns, t in pod_templates(prod) if ns == component.namespace]
    job = selector["job"]
    if job == "linkerd-controller":
        found = [
            c
            for t in templates
            for c in t["spec"]["containers"]
            if c["name"] == selector["component"]
            and any(_ADMIN_PORT.match(p.get("name", "")) for p in c.get("ports", []))
        ]
    elif job == "kubernetes-pods":
        found = [t for t in templates if scraped_by_pods_job(t, selector)]
    elif job == "alertmanager":
        found = [
            t
            for t in templates
            if t["metadata"]["labels"].get("app.kubernetes.io/name") == "alertmanager"
            and any(
                p["containerPort"] == 9093
                for c in t["spec"]["containers"]
                for p in c.get("ports", [])
            )
        ]
    else:
        assert job == "kubernetes-service-endpoints"
        found = [
            obj
            for _, obj in prod.objects()
            if obj["kind"] == "Service"
            and obj["metadata"]["name"] == selector["service"] == KUBE_STATE_METRICS_SERVICE
            and obj["metadata"].get("annotations", {}).get("prometheus.io/scrape") == "true"
        ]
    assert len(found) == 1, (
        f"{component.alert}: {component.selector} matches {len(found)} targets' pods"
    )


def test_every_job_the_component_alerts_read_is_scraped(prod: StackRender) -> None:
    jobs = prod.run.release("prometheus").inputs["values"]["scrapeConfigs"]
    for component in COMPONENTS:
        job = dict(_PAIR.findall(component.selector))["job"]
        # A job the values do not list is one of the chart's defaults, enabled.
        assert jobs.get(job, {}).get("enabled", True), f"{component.alert}: job {job} is off"
