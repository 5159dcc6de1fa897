"""`restart-mesh`: give every meshed workload new pods (and so new proxies) without starting a release.

After a Linkerd upgrade or a trust-anchor rotation every proxy must be restarted. `kubectl
rollout restart deploy` in each namespace would also restart each service's Deployment, which is
a Flagger target: Flagger hashes the target's pod template (pkg/canary/deployment_controller.go
HasTargetChanged, v1.44.0), so the restart annotation is a new revision and a full canary run
starts, per service, per restart (and waits for an approval in prod).

Which workloads: every Deployment, StatefulSet and DaemonSet whose pods Linkerd's proxy injector
injects, judged from the workload's pod template and its namespace as the injector judges a new
pod (linkerd2 edge-26.8.3): the webhook's namespaceSelector and objectSelector, read from the
cluster's MutatingWebhookConfiguration (the chart's defaults leave out kube-system,
cert-manager, namespaces labelled config.linkerd.io/admission-webhooks=disabled and the control
plane's own pods); then pkg/inject/report.go: the `linkerd.io/inject` annotation of the namespace
(enabled or ingress) unless the pod template's says disabled, or else the pod template's own;
no hostNetwork; no proxy already in the template (healthcheck.HasExistingSidecars). So a
workload whose pods started unmeshed (the injector was away, failure policy Ignore) is found
too. Left alone:

- Flagger targets (each Canary's spec.targetRef): between releases they have no pods, and during
  one they are the canary. Their primaries (`<name>-primary`, Flagger's copy, which it does not
  compare) are restarted like any other workload: that rolls the serving pods, no release.
- Linkerd's own control plane (pods labelled linkerd.io/control-plane-component): its Helm
  upgrade rolls it (the chart's checksum annotations).
- Every namespace where a Canary is in an active phase (Flagger v1.44.0
  pkg/apis/flagger/v1beta1/status.go: Initializing, Waiting, Progressing, WaitingPromotion,
  Promoting, Finalising), unless --force: restarting the load tester mid-release fails the
  release's webhooks and forgets its gates (they live in its memory, flagger#445), and Flagger
  itself rolls the primary while promoting. The command then ends with exit 3, naming them.

It stamps the pod template as `kubectl rollout restart` does, waits for each rollout as `kubectl
rollout status` judges it (k8s.io/kubectl pkg/polymorphichelpers/rollout_status.go), then checks
that every ready pod of the workload has Linkerd's proxy: a container `linkerd-proxy`
(pkg/k8s/labels.go ProxyContainerName), since 2.20 an init container with restartPolicy Always
(proxy.nativeSidecar, true by default in the linkerd-control-plane chart: charts/patch
patch.json puts it in initContainers, partials _proxy.tpl gives it restartPolicy Always). A pod
without one fails the command: with failure policy Ignore the injector's absence is silent.
Exit 0 when all rolled out with proxies, 2 when one did not within --timeout, 3 when one failed,
started without a proxy, or a namespace was skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from canaryctl.canary import ACTIVE_PHASES
from canaryctl.errors import FAILED, OK, TIMED_OUT, CanaryctlError
from canaryctl.kube import INJECTOR_WEBHOOK, WORKLOAD_PLURALS, Cluster
from canaryctl.timefmt import clock

CONTROL_PLANE_LABEL = "linkerd.io/control-plane-component"
INJECT_ANNOTATION = "linkerd.io/inject"  # pkg/k8s/labels.go ProxyInjectAnnotation
# pkg/inject/report.go ValidInjectAnnotationValues, InjectEnabledValues
VALID_INJECT_VALUES = frozenset({"enabled", "disabled", "ingress"})
ENABLING_INJECT_VALUES = frozenset({"enabled", "ingress"})
PROXY_CONTAINER = "linkerd-proxy"  # pkg/k8s/labels.go ProxyContainerName
INJECTOR_HOOK = "linkerd-proxy-injector.linkerd.io"
DEFAULT_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True, order=True)
class Workload:
    namespace: str
    kind: str
    name: str
    selector: str = field(default="", compare=False)
    """Its pods' label selector, as the API takes it ("app=podinfo")."""

    def __str__(self) -> str:
        return f"{self.kind.lower()} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Plan:
    restart: list[Workload]
    targets: list[Workload]
    """Meshed Flagger targets left alone."""
    busy: dict[str, list[str]] = field(default_factory=dict)
    """Namespaces with a release under way -> "Canary <name> is <phase>"."""
    skipped: list[Workload] = field(default_factory=list)
    """Meshed workloads in busy namespaces, not restarted (without --force)."""


def plan(cluster: Cluster, namespaces: Iterable[str] = (), force: bool = False) -> Plan:
    """The meshed workloads to restart, in namespace order, the Flagger targets spared, and the
    namespaces skipped because a release is under way there (restarted with `force`)."""
    only = sorted(set(namespaces))
    webhook = cluster.injector_webhook()
    if webhook is None:
        raise CanaryctlError(
            f"Linkerd's proxy injector (MutatingWebhookConfiguration {INJECTOR_WEBHOOK}) is not "
            "installed: restarted pods would start without a proxy. Run `pulumi up` first."
        )
    hooks = webhook.get("webhooks") or [{}]
    hook = next((h for h in hooks if h.get("name") == INJECTOR_HOOK), hooks[0])
    spaces = {_meta(ns).get("name", ""): ns for ns in cluster.namespaces(only)}
    meshed: set[Workload] = set()
    for kind in WORKLOAD_PLURALS:
        for obj in _each(cluster, kind, only):
            meta, spec = _meta(obj), obj.get("spec") or {}
            namespace = str(meta.get("namespace") or "")
            if namespace in spaces and injected(
                spaces[namespace], spec.get("template") or {}, hook
            ):
                selector = label_selector(spec.get("selector") or {})
                meshed.add(Workload(namespace, kind, str(meta.get("name") or ""), selector))
    targets: set[Workload] = set()
    busy: dict[str, list[str]] = {}
    for canary in cluster.list_canaries(None):
        ref = (canary.get("spec") or {}).get("targetRef") or {}
        namespace = str(_meta(canary).get("namespace") or "")
        targets.add(Workload(namespace, str(ref.get("kind") or ""), str(ref.get("name") or "")))
        phase = str((canary.get("status") or {}).get("phase") or "")
        if phase in ACTIVE_PHASES and (not only or namespace in only):
            busy.setdefault(namespace, []).append(f"Canary {_meta(canary).get('name')} is {phase}")
    candidates = sorted(meshed - targets)
    skipped = [] if force else [w for w in candidates if w.namespace in busy]
    return Plan(
        [w for w in candidates if w not in skipped],
        sorted(meshed & targets),
        {ns: busy[ns] for ns in sorted(busy)},
        skipped,
    )


def injected(namespace: dict[str, Any], template: dict[str, Any], hook: dict[str, Any]) -> bool:
    """Whether the proxy injector injects a new pod of this template in this namespace."""
    ns_meta, pod_meta = _meta(namespace), _meta(template)
    pod_spec = template.get("spec") or {}
    # The API server calls the webhook only for what its selectors match.
    if not selector_matches(hook.get("namespaceSelector"), ns_meta.get("labels") or {}):
        return False
    if not selector_matches(hook.get("objectSelector"), pod_meta.get("labels") or {}):
        return False
    if CONTROL_PLANE_LABEL in (pod_meta.get("labels") or {}):
        return False  # rolled by the control plane's Helm upgrade, whatever the selector says
    # report.go Injectable: hostNetwork and an existing proxy rule it out.
    if pod_spec.get("hostNetwork") or _has_sidecar(pod_spec):
        return False
    # report.go disabledByAnnotation, the webhook's truth table.
    on_pod = str((pod_meta.get("annotations") or {}).get(INJECT_ANNOTATION) or "")
    on_ns = str((ns_meta.get("annotations") or {}).get(INJECT_ANNOTATION) or "")
    if (on_ns and on_ns not in VALID_INJECT_VALUES) or (
        on_pod and on_pod not in VALID_INJECT_VALUES
    ):
        return False
    if on_ns in ENABLING_INJECT_VALUES:
        return on_pod != "disabled"
    return on_pod in ENABLING_INJECT_VALUES


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector against labels (apimachinery LabelSelectorAsSelector): an absent or empty
    selector matches everything, as the webhook API defines it."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def label_selector(selector: dict[str, Any]) -> str:
    """A LabelSelector as the API's labelSelector parameter takes it."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(expression.get("values") or [])
        parts.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": f"{key}",
                "DoesNotExist": f"!{key}",
            }[operator]
        )
    return ",".join(parts)


def has_proxy(pod: dict[str, Any]) -> bool:
    """Whether the pod runs Linkerd's proxy: a container, or a native sidecar (an init
    container that keeps running: restartPolicy Always)."""
    spec = pod.get("spec") or {}
    if any(c.get("name") == PROXY_CONTAINER for c in spec.get("containers") or []):
        return True
    return any(
        c.get("name") == PROXY_CONTAINER and c.get("restartPolicy") == "Always"
        for c in spec.get("initContainers") or []
    )


def without_proxy(pods: list[dict[str, Any]]) -> list[str]:
    """The ready pods, not being deleted, that have no proxy."""
    return sorted(
        str(_meta(pod).get("name"))
        for pod in pods
        if not _meta(pod).get("deletionTimestamp") and _ready(pod) and not has_proxy(pod)
    )


def run(
    cluster: Cluster,
    namespaces: Iterable[str],
    timeout: float | None,
    poll: float,
    dry_run: bool,
    out: TextIO,
    clock_now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    force: bool = False,
) -> int:
    found = plan(cluster, namespaces, force)
    spared = ", ".join(f"{w.namespace}/{w.name}" for w in found.targets)
    for namespace, reasons in found.busy.items():
        if force:
            out.write(f"Restarting in {namespace} although {', '.join(reasons)} (--force).\n")
        else:
            out.write(
                f"Skipping namespace {namespace}: {', '.join(reasons)}. Restarting its load tester "
                "or primary during a release fails the release's webhooks, forgets its gates or "
                "fights Flagger's promotion. Run restart-mesh again when it is over (`canaryctl "
                "wait`), or with --force.\n"
            )
    if not found.restart:
        out.write(
            "No meshed workload to restart"
            + (f" (Flagger targets spared: {spared})" if spared else "")
            + ".\n"
        )
        return _skipped(out, found) if found.skipped else OK
    out.write(
        f"{'Would restart' if dry_run else 'Restarting'} {len(found.restart)} meshed workload(s) "
        "one at a time"
        + (
            f"; Flagger targets spared (a restart would start a release): {spared}"
            if spared
            else ""
        )
        + ".\n"
    )
    if dry_run:
        for workload in found.restart:
            out.write(f"  {workload}\n")
        return OK
    limit = DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    done = 0
    for workload in found.restart:
        started = clock_now()
        out.write(f"  {workload}: restarting ... ")
        out.flush()
        cluster.restart_workload(workload.kind, workload.namespace, workload.name, at)
        while True:
            obj = cluster.get_workload(workload.kind, workload.namespace, workload.name)
            finished, why = rollout_status(workload.kind, obj)
            waited = clock_now() - started
            if finished:
                break
            if why.startswith("failed:"):
                out.write(f"FAILED: {why.removeprefix('failed: ')}\n")
                return _stop(out, done, found, FAILED, workload)
            if limit and waited >= limit:
                out.write(f"TIMED OUT after {clock(waited)}: {why}\n")
                return _stop(out, done, found, TIMED_OUT, workload)
            sleep(poll)
        unmeshed = without_proxy(cluster.pods(workload.namespace, workload.selector))
        if unmeshed:
            out.write(
                f"FAILED: rolled out in {clock(waited)}, but pod(s) {', '.join(unmeshed)} run "
                f"without a {PROXY_CONTAINER} container: the proxy injector did not inject them "
                "(with failure policy Ignore, pods created while it is unavailable start "
                "unmeshed). Check it: `kubectl -n linkerd get pods -l "
                "linkerd.io/control-plane-component=proxy-injector`.\n"
            )
            return _stop(out, done, found, FAILED, workload)
        out.write(f"rolled out in {clock(waited)}\n")
        done += 1
    if found.skipped:
        return _skipped(out, found, done)
    out.write(f"Restarted {done} workload(s): every meshed pod runs a new proxy.\n")
    return OK


def _skipped(out: TextIO, found: Plan, done: int = 0) -> int:
    out.write(
        f"Restarted {done} workload(s); not restarted, a release is under way there: "
        f"{', '.join(str(w) for w in found.skipped)}. Run restart-mesh again when it is over.\n"
    )
    return FAILED


def _stop(out: TextIO, done: int, found: Plan, code: int, workload: Workload) -> int:
    left = found.restart[found.restart.index(workload) + 1 :]
    out.write(
        f"Restarted {done} of {len(found.restart)}; stopped at {workload}"
        + (f", not restarted: {', '.join(str(w) for w in left)}" if left else "")
        + f". `kubectl -n {workload.namespace} describe {workload.kind.lower()} {workload.name}` "
        "says why; run restart-mesh again once it is fixed.\n"
    )
    return code


def _each(cluster: Cluster, kind: str, only: list[str]) -> list[dict[str, Any]]:
    if not only:
        return cluster.workloads(kind, None)
    return [obj for namespace in only for obj in cluster.workloads(kind, namespace)]


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _has_sidecar(spec: dict[str, Any]) -> bool:
    """healthcheck.HasExistingSidecars: a proxy (Linkerd's or Istio's) already in the template."""
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    return any(
        c.get("name") in (PROXY_CONTAINER, "istio-proxy", "linkerd-init", "istio-init")
        or str(c.get("image") or "").startswith(
            ("cr.l5d.io/linkerd/proxy:", "cr.l5d.io/linkerd/proxy-init:")
        )
        for c in containers
    )


def rollout_status(kind: str, obj: dict[str, Any]) -> tuple[bool, str]:
    """(done, why not) as `kubectl rollout status` decides it (rollout_status.go)."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
    if kind in ("StatefulSet", "DaemonSet") and strategy != "RollingUpdate":
        # kubectl: "rollout status is only available for RollingUpdate strategy type".
        return (
            False,
            f"failed: its updateStrategy is {strategy}: it replaces pods only when they are deleted",
        )
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return False, "waiting for the rollout to be observed"
    if kind == "Deployment":
        for condition in status.get("conditions") or []:
            if condition.get("type") == "Progressing" and condition.get("reason") == (
                "ProgressDeadlineExceeded"
            ):
                return False, "failed: the deployment exceeded its progress deadline"
        replicas = int(spec.get("replicas", 1) or 0)
        updated = int(status.get("updatedReplicas") or 0)
        if updated < replicas:
            return False, f"{updated} of {replicas} new replicas updated"
        if int(status.get("replicas") or 0) > updated:
            return (
                False,
                f"{int(status.get('replicas') or 0) - updated} old replicas pending termination",
            )
        if int(status.get("availableReplicas") or 0) < updated:
            return (
                False,
                f"{status.get('availableReplicas') or 0} of {updated} updated replicas available",
            )
        return True, ""
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        if int(status.get("updatedNumberScheduled") or 0) < desired:
            return (
                False,
                f"{status.get('updatedNumberScheduled') or 0} of {desired} new pods updated",
            )
        if int(status.get("numberAvailable") or 0) < desired:
            return (
                False,
                f"{status.get('numberAvailable') or 0} of {desired} updated pods available",
            )
        return True, ""
    if kind == "StatefulSet":
        replicas = int(spec.get("replicas", 1) or 0)
        if int(status.get("readyReplicas") or 0) < replicas:
            return False, f"{status.get('readyReplicas') or 0} of {replicas} pods ready"
        if status.get("updateRevision") != status.get("currentRevision"):
            return (
                False,
                f"{status.get('updatedReplicas') or 0} of {replicas} pods at the new revision",
            )
        return True, ""
    raise CanaryctlError(f"cannot restart a {kind}")
