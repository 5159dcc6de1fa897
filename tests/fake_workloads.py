"""The fake API server (tests/fake_kube_api.py) with meshed workloads: pods as Linkerd's injector
labels them, and Deployments, StatefulSets and DaemonSets that roll out when their pod template
changes, as the apps controllers report it in status.

A PATCH of a workload's pod template raises metadata.generation; the controller "observes" it at
the next GET (status.observedGeneration) with the pods not yet replaced, and reports the rollout
complete `rollout_gets` GETs later. A workload can be made to stall (never complete) or to exceed
its progress deadline (Deployments).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.fake_kube_api import FakeKubeApi, _Handler

PLURALS = {"deployments": "Deployment", "statefulsets": "StatefulSet", "daemonsets": "DaemonSet"}
INJECTOR_LABEL = {
    "Deployment": "linkerd.io/proxy-deployment",
    "StatefulSet": "linkerd.io/proxy-statefulset",
    "DaemonSet": "linkerd.io/proxy-daemonset",
}


@dataclass
class _Workload:
    kind: str
    namespace: str
    name: str
    replicas: int
    generation: int = 1
    observed: int = 1
    gets_since_patch: int = 0
    annotations: dict[str, str] = field(default_factory=dict)
    stall: bool = False
    deadline_exceeded: bool = False
    patches: int = 0


class FakeMeshApi(FakeKubeApi):
    """The fake API server with meshed workloads; `rollout_gets` GETs finish a rollout."""

    def __init__(self, rollout_gets: int = 2) -> None:
        super().__init__()
        self.rollout_gets = rollout_gets
        self.workloads: dict[tuple[str, str, str], _Workload] = {}
        self.pods: list[dict[str, Any]] = []
        self.order: list[str] = []
        """Every PATCH and rollout completion, in order: "patch Deployment ns/name", "done ..."."""
        self.routes += [
            ("GET", r"/api/v1/pods", _MeshHandler._pods),
            ("GET", r"/apis/apps/v1/namespaces/([^/]+)/([a-z]+)/([^/]+)", _MeshHandler._get),
            ("PATCH", r"/apis/apps/v1/namespaces/([^/]+)/([a-z]+)/([^/]+)", _MeshHandler._patch),
        ]

    def add_workload(
        self,
        kind: str,
        namespace: str,
        name: str,
        replicas: int = 2,
        meshed: bool = True,
        control_plane: bool = False,
        **fields: Any,
    ) -> None:
        """A workload and its pods; `meshed` pods carry the injector's labels."""
        self.workloads[(kind, namespace, name)] = _Workload(
            kind, namespace, name, replicas, **fields
        )
        for index in range(replicas):
            labels: dict[str, str] = {"app": name}
            if meshed:
                labels |= {
                    "linkerd.io/control-plane-ns": "linkerd",
                    INJECTOR_LABEL[kind]: name,
                    "linkerd.io/workload-ns": namespace,
                }
            if control_plane:
                labels["linkerd.io/control-plane-component"] = name
            self.pods.append(
                {"metadata": {"name": f"{name}-{index}", "namespace": namespace, "labels": labels}}
            )

    def patched(self, kind: str, namespace: str, name: str) -> int:
        return self.workloads[(kind, namespace, name)].patches

    def status(self, w: _Workload) -> dict[str, Any]:
        if w.generation > w.observed:  # the controller sees the change at this GET
            w.observed = w.generation
            w.gets_since_patch = 0
        else:
            w.gets_since_patch += 1
        rolling = w.patches > 0 and (w.stall or w.gets_since_patch < self.rollout_gets)
        if w.patches and not rolling and f"done {w.kind} {w.namespace}/{w.name}" not in self.order:
            self.order.append(f"done {w.kind} {w.namespace}/{w.name}")
        new = 0 if rolling else w.replicas
        meta = {"name": w.name, "namespace": w.namespace, "generation": w.generation}
        spec: dict[str, Any] = {"template": {"metadata": {"annotations": w.annotations}}}
        if w.kind == "Deployment":
            conditions = []
            if w.deadline_exceeded and w.patches:
                conditions.append({"type": "Progressing", "reason": "ProgressDeadlineExceeded"})
            status = {
                "observedGeneration": w.observed,
                "replicas": w.replicas + (1 if rolling else 0),
                "updatedReplicas": new,
                "availableReplicas": w.replicas,
                "conditions": conditions,
            }
            spec["replicas"] = w.replicas
        elif w.kind == "StatefulSet":
            status = {
                "observedGeneration": w.observed,
                "readyReplicas": w.replicas,
                "updatedReplicas": new,
                "currentRevision": "rev-1" if rolling else "rev-2",
                "updateRevision": "rev-2",
            }
            spec["replicas"] = w.replicas
        else:
            status = {
                "observedGeneration": w.observed,
                "desiredNumberScheduled": w.replicas,
                "updatedNumberScheduled": new,
                "numberAvailable": w.replicas,
            }
        return {"kind": w.kind, "metadata": meta, "spec": spec, "status": status}


class _MeshHandler(_Handler):
    def _pods(self, fake: FakeMeshApi, query: dict[str, list[str]], **_: Any) -> None:
        if "pods" in fake.forbidden:
            return self._forbidden("pods", "list", "pods", None)
        selector = query.get("labelSelector", [""])[0]
        items = [p for p in fake.pods if not selector or selector in p["metadata"]["labels"]]
        self._json({"kind": "PodList", "apiVersion": "v1", "items": items})

    def _get(self, fake: FakeMeshApi, ns: str, plural: str, name: str, **_: Any) -> None:
        w = fake.workloads.get((PLURALS.get(plural, ""), ns, name))
        if w is None:
            return self._status(404, "NotFound", f'{plural}.apps "{name}" not found')
        self._json(fake.status(w))

    def _patch(
        self, fake: FakeMeshApi, ns: str, plural: str, name: str, body: Any, **_: Any
    ) -> None:
        if plural in fake.forbidden:
            return self._forbidden(f'{plural}.apps "{name}"', "patch", plural, ns)
        w = fake.workloads.get((PLURALS.get(plural, ""), ns, name))
        if w is None:
            return self._status(404, "NotFound", f'{plural}.apps "{name}" not found')
        content_type = self.headers.get("Content-Type", "")
        assert content_type == "application/merge-patch+json", content_type
        w.annotations |= body["spec"]["template"]["metadata"]["annotations"]
        w.generation += 1
        w.patches += 1
        fake.order.append(f"patch {w.kind} {ns}/{name}")
        self._reply(200, json.dumps(fake.status(w)).encode())
