"""A small Kubernetes: objects with owner references and finalizers, deleted the way the API
server and the garbage collector delete them, and the controllers that act on deletions.

Rules encoded, each from its source (Kubernetes 1.35; the garbage collector read in
pkg/controller/garbagecollector/garbagecollector.go, the API server's side in
staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go):

- A delete with propagation Foreground marks the object (deletionTimestamp) and adds the
  `foregroundDeletion` finalizer; Orphan adds `orphan`; Background adds nothing. An object with
  no finalizer left is removed at once.
- `foregroundDeletion` (processDeletingDependentsItem): the collector deletes the object's
  dependents; it removes the finalizer once no dependent that blocks (ownerReference
  blockOwnerDeletion: true) remains. A dependent whose owner is waiting for its dependents and
  that has dependents itself is deleted in Foreground too; otherwise in Background
  (attemptToDeleteItem).
- `orphan`: the collector removes the owner's references from the dependents, then the finalizer.
- A dependent none of whose owners exists any more (dangling) is deleted in Background; one
  with a solid owner (existing, not waiting for dependents) stays.
- Deleting a namespace deletes everything in it (the namespace controller); deleting a CRD
  deletes every object of its kind.
- Any other finalizer (Flagger's) is removed only by its controller, and only when that
  controller runs.

pulumi-kubernetes deletes an object with Foreground propagation unless the object's annotation
`pulumi.com/deletionPropagationPolicy` says otherwise (provider/pkg/metadata/overrides.go
DeletionPropagation, used by provider/pkg/await/await.go Deletion), then waits until the object
is gone, at most `pulumi.com/timeoutSeconds` or 10 minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
PROPAGATION_ANNOTATION = "pulumi.com/deletionPropagationPolicy"
TIMEOUT_ANNOTATION = "pulumi.com/timeoutSeconds"
DEFAULT_DELETE_TIMEOUT = 600  # await.go Deletion: 10 minutes

Key = tuple[str, str, str]
"""(kind, namespace or "", name)."""


@dataclass(frozen=True)
class Owner:
    kind: str
    name: str
    block: bool = True
    """blockOwnerDeletion; metav1.NewControllerRef sets it (and controller) to true."""


@dataclass
class Obj:
    kind: str
    name: str
    namespace: str = ""
    owners: list[Owner] = field(default_factory=list)
    finalizers: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    deleting: bool = False
    created_by: str = ""
    """Who made it: "pulumi", a Helm release, "flagger", "statefulset", or "foreign"."""

    @property
    def key(self) -> Key:
        return (self.kind, self.namespace, self.name)


Controller = Callable[["Cluster"], None]


class Cluster:
    """Objects and the controllers that run; `settle()` lets them act until nothing changes."""

    def __init__(self) -> None:
        self.objects: dict[Key, Obj] = {}
        self.controllers: list[Controller] = []
        self.crd_kinds: dict[str, str] = {}
        """CRD name -> the kind it serves (deleting the CRD deletes them)."""
        self.log: list[str] = []

    # ---- the API ----

    def add(self, obj: Obj) -> Obj:
        self.objects[obj.key] = obj
        return obj

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get((kind, namespace, name))

    def exists(self, key: Key) -> bool:
        return key in self.objects

    def delete(self, key: Key, propagation: str = "Background") -> None:
        obj = self.objects.get(key)
        if obj is None:
            return
        if not obj.deleting:
            obj.deleting = True
            if propagation == "Foreground" and FOREGROUND not in obj.finalizers:
                obj.finalizers.append(FOREGROUND)
            elif propagation == "Orphan" and ORPHAN not in obj.finalizers:
                obj.finalizers.append(ORPHAN)
        self.log.append(f"delete {_show(key)} ({propagation})")
        self._remove_if_free(obj)

    def remove_finalizer(self, obj: Obj, finalizer: str) -> None:
        if finalizer in obj.finalizers:
            obj.finalizers.remove(finalizer)
        self._remove_if_free(obj)

    def in_namespace(self, namespace: str) -> list[Obj]:
        return [o for o in self.objects.values() if o.namespace == namespace]

    def dependents(self, owner: Obj) -> list[Obj]:
        return [
            o
            for o in self.objects.values()
            if o.namespace == owner.namespace
            and any(r.kind == owner.kind and r.name == owner.name for r in o.owners)
        ]

    # ---- the controllers ----

    def settle(self, rounds: int = 50) -> None:
        """Run the garbage collector, the namespace controller and every other controller until
        the cluster stops changing (or `rounds` passes: then something waits forever)."""
        for _ in range(rounds):
            before = self._snapshot()
            self._collect_garbage()
            self._finish_namespaces()
            for controller in self.controllers:
                controller(self)
            if self._snapshot() == before:
                return

    def _collect_garbage(self) -> None:
        for obj in list(self.objects.values()):
            if obj.key not in self.objects:
                continue
            if obj.deleting and FOREGROUND in obj.finalizers:
                blocking = [d for d in self.dependents(obj) if _blocks(d, obj)]
                for dependent in self.dependents(obj):
                    if not dependent.deleting:
                        policy = "Foreground" if self.dependents(dependent) else "Background"
                        self.delete(dependent.key, policy)
                if not blocking:
                    self.remove_finalizer(obj, FOREGROUND)
            elif obj.deleting and ORPHAN in obj.finalizers:
                for dependent in self.dependents(obj):
                    dependent.owners = [
                        r for r in dependent.owners if (r.kind, r.name) != (obj.kind, obj.name)
                    ]
                self.remove_finalizer(obj, ORPHAN)
        for obj in list(self.objects.values()):
            if obj.owners and not obj.deleting:
                present = [r for r in obj.owners if self.get(r.kind, obj.namespace, r.name)]
                if not present:  # every owner is gone: a dangling dependent
                    self.delete(obj.key, "Background")

    def _finish_namespaces(self) -> None:
        for ns in [o for o in self.objects.values() if o.kind == "Namespace" and o.deleting]:
            for obj in self.in_namespace(ns.name):
                if not obj.deleting:
                    self.delete(obj.key, "Background")
            if not self.in_namespace(ns.name):
                self.remove_finalizer(ns, "kubernetes")
        for crd in [o for o in self.objects.values() if o.kind == "CustomResourceDefinition"]:
            if crd.deleting:
                kind = self.crd_kinds.get(crd.name)
                for obj in [o for o in self.objects.values() if o.kind == kind]:
                    if not obj.deleting:
                        self.delete(obj.key, "Background")

    def _remove_if_free(self, obj: Obj) -> None:
        if obj.deleting and not obj.finalizers and obj.key in self.objects:
            del self.objects[obj.key]
            self.log.append(f"gone {_show(obj.key)}")

    def _snapshot(self) -> Any:
        return sorted(
            (k, tuple(o.finalizers), o.deleting, tuple(o.owners)) for k, o in self.objects.items()
        )


def _blocks(dependent: Obj, owner: Obj) -> bool:
    return any(r.kind == owner.kind and r.name == owner.name and r.block for r in dependent.owners)


def _show(key: Key) -> str:
    kind, namespace, name = key
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


# ---- pulumi-kubernetes' side of a delete ----


@dataclass(frozen=True)
class Deletion:
    """How one Pulumi delete of a Kubernetes object ended."""

    key: Key
    propagation: str
    done: bool
    """False: the object was still there when the provider gave up waiting."""
    timeout_seconds: int
    left: tuple[str, ...] = ()
    """The finalizers it still had."""


def propagation_of(annotations: dict[str, str]) -> str:
    """metadata.DeletionPropagation: Foreground unless the annotation says orphan or background."""
    policy = annotations.get(PROPAGATION_ANNOTATION, "").lower()
    return {"orphan": "Orphan", "background": "Background"}.get(policy, "Foreground")


def pulumi_delete(cluster: Cluster, key: Key, annotations: dict[str, str]) -> Deletion:
    """await.Deletion: delete with the object's propagation policy, wait until it is gone."""
    propagation = propagation_of(annotations)
    timeout = int(annotations.get(TIMEOUT_ANNOTATION, DEFAULT_DELETE_TIMEOUT))
    cluster.delete(key, propagation)
    cluster.settle()
    obj = cluster.objects.get(key)
    return Deletion(key, propagation, obj is None, timeout, tuple(obj.finalizers) if obj else ())


def helm_uninstall(cluster: Cluster, release: str, namespace: str) -> list[Key]:
    """`helm uninstall` as the Release resource runs it (helm_release.go Delete, Wait unless
    skipAwait): delete every object of the release in Background (Helm's default propagation),
    except those annotated `helm.sh/resource-policy: keep` and the chart's crds/ (never deleted
    by Helm); wait for them to go. Returns what stayed although it was to be deleted."""
    owned = [
        o
        for o in cluster.objects.values()
        if o.created_by == f"helm:{namespace}/{release}"
        and o.annotations.get("helm.sh/resource-policy") != "keep"
        and not o.spec.get("helm-crds-dir")
    ]
    for obj in owned:
        cluster.delete(obj.key, "Background")
    cluster.settle()
    return [o.key for o in owned if cluster.exists(o.key)]


def objects_of(cluster: Cluster, created_by: str) -> Iterable[Obj]:
    return [o for o in cluster.objects.values() if o.created_by == created_by]
