"""The fake API server (tests/fake_kube_api.py) with meshed workloads: namespaces and pod templates
annotated for Linkerd's injector, its MutatingWebhookConfiguration as the chart renders it, pods
with or without the proxy, and Deployments, StatefulSets and DaemonSets that roll out when their
pod template changes, as the apps controllers report it in status.

A PATCH of a workload's pod template raises metadata.generation; the controller "observes" it at
the next GET (status.observedGeneration) with the pods not yet replaced, and reports the rollout
complete `rollout_gets` GETs later, with new pods. A new pod gets the proxy when the workload is
meshed and the injector was up at the PATCH (`injector_up`; with failure policy Ignore a pod
created while it is away starts without one), as a native sidecar (an init container with
restartPolicy Always, Linkerd 2.20's default) or, with `native_sidecar` off, a container. A
workload can be made to stall (never complete) or to exceed its progress deadline (Deployments).
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
INJECT = "linkerd.io/inject"
WEBHOOKS_OFF = "config.linkerd.io/admission-webhooks"
# linkerd-control-plane 2026.8.3: templates/proxy-injector-rbac.yaml with values.yaml's
# proxyInjector.namespaceSelector and objectSelector.
INJECTOR_WEBHOOK = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "MutatingWebhookConfiguration",
    "metadata": {"name": "linkerd-proxy-injector-webhook-config"},
    "webhooks": [
        {
            "name": "linkerd-proxy-injector.linkerd.io",
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": WEBHOOKS_OFF, "operator": "NotIn", "values": ["disabled"]},
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "NotIn",
                        "values": ["kube-system", "cert-manager"],
                    },
                ]
            },
            "objectSelector": {
                "matchExpressions": [
                    {"key": "linkerd.io/control-plane-component", "operator": "DoesNotExist"},
                    {"key": "linkerd.io/cni-resource", "operator": "DoesNotExist"},
                ]
            },
            "failurePolicy": "Ignore",
        }
    ],
}


@dataclass
class _Workload:
    kind: str
    namespace: str
    name: str
    replicas: int
    meshed: bool = True
    """The injector injects its pods (the test's own judgement, not canaryctl's)."""
    template_labels: dict[str, str] = field(default_factory=dict)
    template_annotations: dict[str, str] = field(default_factory=dict)
    host_network: bool = False
    generation: int = 1
    observed: int = 1
    gets_since_patch: int = 0
    annotations: dict[str, str] = field(default_factory=dict)
    """What restarts stamp on the pod template."""
    stall: bool = False
    deadline_exceeded: bool = False
    patches: int = 0
    proxied_at_patch: bool = True
    pods: list[dict[str, Any]] = field(default_factory=list)


class FakeMeshApi(FakeKubeApi):
    """The fake API server with meshed workloads; `rollout_gets` GETs finish a rollout."""

    def __init__(self, rollout_gets: int = 2) -> None:
        super().__init__()
        self.rollout_gets = rollout_gets
        self.workloads: dict[tuple[str, str, str], _Workload] = {}
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.webhook: dict[str, Any] | None = json.loads(json.dumps(INJECTOR_WEBHOOK))
        self.injector_up = True
        self.native_sidecar = True
        self.order: list[str] = []
        """Every PATCH and rollout completion, in order: "patch Deployment ns/name", "done ..."."""
        self.routes += [
            ("GET", r"/api/v1/namespaces", _MeshHandler._namespaces),
            ("GET", r"/api/v1/namespaces/([^/]+)", _MeshHandler._namespace),
            ("GET", r"/api/v1/namespaces/([^/]+)/pods", _MeshHandler._pods),
            (
                "GET",
                r"/apis/admissionregistration\.k8s\.io/v1/mutatingwebhookconfigurations/([^/]+)",
                _MeshHandler._webhook,
            ),
            (
                "GET",
                r"/apis/apps/v1(?:/namespaces/([^/]+))?/(deployments|statefulsets|daemonsets)",
                _MeshHandler._list,
            ),
            ("GET", r"/apis/apps/v1/namespaces/([^/]+)/([a-z]+)/([^/]+)", _MeshHandler._get),
            ("PATCH", r"/apis/apps/v1/namespaces/([^/]+)/([a-z]+)/([^/]+)", _MeshHandler._patch),
        ]

    def add_namespace(
        self,
        name: str,
        inject: str | None = "enabled",
        labels: dict[str, str] | None = None,
    ) -> None:
        """A namespace; the API server labels every one with its name."""
        self.namespaces[name] = {
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/metadata.name": name, **(labels or {})},
                "annotations": {INJECT: inject} if inject else {},
            }
        }

    def add_workload(
        self,
        kind: str,
        namespace: str,
        name: str,
        replicas: int = 2,
        meshed: bool = True,
        control_plane: bool = False,
        pods_meshed: bool | None = None,
        **fields: Any,
    ) -> None:
        """A workload and its pods. `meshed`: its namespace is annotated for the injector (made
        so if new) and its pods carry the proxy, unless `pods_meshed` says otherwise (pods that
        started while the injector was away)."""
        if namespace not in self.namespaces:
            if control_plane:
                self.add_namespace(namespace, "disabled", {WEBHOOKS_OFF: "disabled"})
            else:
                self.add_namespace(namespace, "enabled" if meshed else None)
        labels = {"app": name, **fields.pop("template_labels", {})}
        if control_plane:
            labels["linkerd.io/control-plane-component"] = name
        w = _Workload(
            kind,
            namespace,
            name,
            replicas,
            meshed=meshed and not control_plane,
            template_labels=labels,
            **fields,
        )
        self.workloads[(kind, namespace, name)] = w
        w.pods = self._pods_of(
            w, revision=0, proxied=meshed if pods_meshed is None else pods_meshed
        )

    def patched(self, kind: str, namespace: str, name: str) -> int:
        return self.workloads[(kind, namespace, name)].patches

    def _pods_of(self, w: _Workload, revision: int, proxied: bool) -> list[dict[str, Any]]:
        pods = []
        for index in range(w.replicas):
            labels = dict(w.template_labels)
            containers: list[dict[str, Any]] = [{"name": w.name, "image": "app:1"}]
            init: list[dict[str, Any]] = []
            if proxied:
                labels |= {
                    "linkerd.io/control-plane-ns": "linkerd",
                    INJECTOR_LABEL[w.kind]: w.name,
                    "linkerd.io/workload-ns": w.namespace,
                }
                proxy = {"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:edge-26.8.3"}
                if self.native_sidecar:
                    init.append({**proxy, "restartPolicy": "Always"})
                else:
                    containers.insert(0, proxy)
            pods.append(
                {
                    "metadata": {
                        "name": f"{w.name}-{revision}-{index}",
                        "namespace": w.namespace,
                        "labels": labels,
                    },
                    "spec": {"initContainers": init, "containers": containers},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                }
            )
        return pods

    def manifest(self, w: _Workload, status: dict[str, Any] | None = None) -> dict[str, Any]:
        meta = {"name": w.name, "namespace": w.namespace, "generation": w.generation}
        template = {
            "metadata": {
                "labels": w.template_labels,
                "annotations": {**w.template_annotations, **w.annotations},
            },
            "spec": {"hostNetwork": w.host_network, "containers": [{"name": w.name}]},
        }
        spec: dict[str, Any] = {
            "selector": {"matchLabels": {"app": w.template_labels["app"]}},
            "template": template,
        }
        if w.kind != "DaemonSet":
            spec["replicas"] = w.replicas
        return {"kind": w.kind, "metadata": meta, "spec": spec, "status": status or {}}

    def status(self, w: _Workload) -> dict[str, Any]:
        if w.generation > w.observed:  # the controller sees the change at this GET
            w.observed = w.generation
            w.gets_since_patch = 0
        else:
            w.gets_since_patch += 1
        rolling = w.patches > 0 and (w.stall or w.gets_since_patch < self.rollout_gets)
        if w.patches and not rolling and f"done {w.kind} {w.namespace}/{w.name}" not in self.order:
            self.order.append(f"done {w.kind} {w.namespace}/{w.name}")
            w.pods = self._pods_of(w, revision=w.patches, proxied=w.proxied_at_patch)
        new = 0 if rolling else w.replicas
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
        elif w.kind == "StatefulSet":
            status = {
                "observedGeneration": w.observed,
                "readyReplicas": w.replicas,
                "updatedReplicas": new,
                "currentRevision": "rev-1" if rolling else "rev-2",
                "updateRevision": "rev-2",
            }
        else:
            status = {
                "observedGeneration": w.observed,
                "desiredNumberScheduled": w.replicas,
                "updatedNumberScheduled": new,
                "numberAvailable": w.replicas,
            }
        return self.manifest(w, status)


def _matches(selector: str, labels: dict[str, str]) -> bool:
    """The label selectors these tests send: comma-separated `key=value` terms."""
    terms = [t for t in selector.split(",") if t]
    return all(labels.get(k) == v for k, _, v in (t.partition("=") for t in terms))


class _MeshHandler(_Handler):
    def _namespaces(self, fake: FakeMeshApi, **_: Any) -> None:
        if "namespaces" in fake.forbidden:
            return self._forbidden("namespaces", "list", "namespaces", None)
        items = [fake.namespaces[n] for n in sorted(fake.namespaces)]
        self._json({"kind": "NamespaceList", "apiVersion": "v1", "items": items})

    def _namespace(self, fake: FakeMeshApi, name: str, **_: Any) -> None:
        if name not in fake.namespaces:
            return self._status(404, "NotFound", f'namespaces "{name}" not found')
        self._json(fake.namespaces[name])

    def _webhook(self, fake: FakeMeshApi, name: str, **_: Any) -> None:
        if fake.webhook is None or name != fake.webhook["metadata"]["name"]:
            resource = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
            return self._status(404, "NotFound", f'{resource} "{name}" not found')
        self._json(fake.webhook)

    def _pods(self, fake: FakeMeshApi, ns: str, query: dict[str, list[str]], **_: Any) -> None:
        if "pods" in fake.forbidden:
            return self._forbidden("pods", "list", "pods", ns)
        selector = query.get("labelSelector", [""])[0]
        items = [
            pod
            for w in fake.workloads.values()
            if w.namespace == ns
            for pod in w.pods
            if _matches(selector, pod["metadata"]["labels"])
        ]
        self._json({"kind": "PodList", "apiVersion": "v1", "items": items})

    def _list(self, fake: FakeMeshApi, ns: str | None, plural: str, **_: Any) -> None:
        if plural in fake.forbidden:
            return self._forbidden(f"{plural}.apps", "list", plural, ns)
        items = [
            fake.manifest(w)
            for (kind, namespace, _name), w in sorted(fake.workloads.items())
            if kind == PLURALS[plural] and (ns is None or namespace == ns)
        ]
        self._json({"kind": f"{PLURALS[plural]}List", "apiVersion": "apps/v1", "items": items})

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
        w.proxied_at_patch = w.meshed and fake.injector_up
        fake.order.append(f"patch {w.kind} {ns}/{name}")
        self._reply(200, json.dumps(fake.status(w)).encode())
