"""`restart-mesh`: give every meshed workload new pods (and so new proxies) without starting a release.

After a Linkerd upgrade or a trust-anchor rotation every proxy must be restarted. `kubectl
rollout restart deploy` in each namespace would also restart each service's Deployment, which is
a Flagger target: Flagger hashes the target's pod template (pkg/canary/deployment_controller.go
HasTargetChanged, v1.44.0), so the restart annotation is a new revision and a full canary run
starts, per service, per restart (and waits for an approval in prod).

This command restarts, one at a time, every Deployment, StatefulSet and DaemonSet whose pods
carry a Linkerd proxy, as the proxy injector labelled them (linkerd2 pkg/inject/inject.go
populateMeta: linkerd.io/proxy-deployment, -statefulset, -daemonset; edge-26.8.3), except:

- Flagger targets (each Canary's spec.targetRef): between releases they have no pods, and during
  one they are the canary. Their primaries (`<name>-primary`, Flagger's copy, which it does not
  compare) are restarted like any other workload: that rolls the serving pods, no release.
- Linkerd's own control plane (pods labelled linkerd.io/control-plane-component): its Helm
  upgrade rolls it (the chart's checksum annotations).

It stamps the pod template as `kubectl rollout restart` does, waits for each rollout as `kubectl
rollout status` judges it (k8s.io/kubectl pkg/polymorphichelpers/rollout_status.go), and reports
each. Exit 0 when all rolled out, 2 when one did not within --timeout, 3 when one failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from canaryctl.errors import FAILED, OK, TIMED_OUT, CanaryctlError
from canaryctl.kube import Cluster
from canaryctl.timefmt import clock

# Pod label the injector sets -> the workload kind it names.
OWNER_LABELS = {
    "linkerd.io/proxy-deployment": "Deployment",
    "linkerd.io/proxy-statefulset": "StatefulSet",
    "linkerd.io/proxy-daemonset": "DaemonSet",
}
CONTROL_PLANE_LABEL = "linkerd.io/control-plane-component"
DEFAULT_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True, order=True)
class Workload:
    namespace: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Plan:
    restart: list[Workload]
    targets: list[Workload]
    """Meshed Flagger targets left alone."""


def plan(cluster: Cluster, namespaces: Iterable[str] = ()) -> Plan:
    """The meshed workloads to restart, in namespace order, and the Flagger targets spared."""
    only = set(namespaces)
    meshed: set[Workload] = set()
    for pod in cluster.meshed_pods():
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        if CONTROL_PLANE_LABEL in labels:
            continue
        namespace = str(meta.get("namespace") or "")
        if only and namespace not in only:
            continue
        for label, kind in OWNER_LABELS.items():
            if labels.get(label):
                meshed.add(Workload(namespace, kind, str(labels[label])))
    targets = set()
    for canary in cluster.list_canaries(None):
        ref = (canary.get("spec") or {}).get("targetRef") or {}
        namespace = str((canary.get("metadata") or {}).get("namespace") or "")
        targets.add(Workload(namespace, str(ref.get("kind") or ""), str(ref.get("name") or "")))
    return Plan(sorted(meshed - targets), sorted(meshed & targets))


def run(
    cluster: Cluster,
    namespaces: Iterable[str],
    timeout: float | None,
    poll: float,
    dry_run: bool,
    out: TextIO,
    clock_now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    found = plan(cluster, namespaces)
    spared = ", ".join(f"{w.namespace}/{w.name}" for w in found.targets)
    if not found.restart:
        out.write(
            "No meshed workload to restart"
            + (f" (Flagger targets spared: {spared})" if spared else "")
            + ".\n"
        )
        return OK
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
                out.write(f"rolled out in {clock(waited)}\n")
                done += 1
                break
            if why.startswith("failed:"):
                out.write(f"FAILED: {why.removeprefix('failed: ')}\n")
                return _stop(out, done, found, FAILED, workload)
            if limit and waited >= limit:
                out.write(f"TIMED OUT after {clock(waited)}: {why}\n")
                return _stop(out, done, found, TIMED_OUT, workload)
            sleep(poll)
    out.write(f"Restarted {done} workload(s): every meshed pod runs a new proxy.\n")
    return OK


def _stop(out: TextIO, done: int, found: Plan, code: int, workload: Workload) -> int:
    left = found.restart[found.restart.index(workload) + 1 :]
    out.write(
        f"Restarted {done} of {len(found.restart)}; stopped at {workload}"
        + (f", not restarted: {', '.join(str(w) for w in left)}" if left else "")
        + f". `kubectl -n {workload.namespace} describe {workload.kind.lower()} {workload.name}` "
        "says why; run restart-mesh again once it is fixed.\n"
    )
    return code


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
