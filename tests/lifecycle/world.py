"""The world a stack's resources live in, for the lifecycle walks: a Kubernetes cluster (kube.py)
with Flagger in it (flagger.py), and, for AKS stacks, the Azure resources around it.

`World.of(run)` builds it as `pulumi up` of `run` leaves it: every Kubernetes object the program
registers, every object its Helm releases render (when `renders` are given: tests/render_check.py,
Helm's own engine), the volume claims StatefulSets make, what Flagger generates per Canary, and
objects of other software the stack must never touch. `provider_delete` is what each provider
does for the engine's Delete (engine.py):

- pulumi-kubernetes: objects through kube.pulumi_delete, Helm releases through helm_uninstall;
  once the cluster is gone (AKS deleted) every call fails: it would wait on nothing.
- azure-native: deleting the ManagedCluster deletes what is inside it (its agent pools, the
  maintenance configurations, role assignments at its scope, every Kubernetes object); deleting
  a resource group deletes everything in it; a missing resource's 404 counts as deleted
  (azureClientImpl.Delete accepts 404); deleting the only untainted pool of a running cluster
  drains it, which PodDisruptionBudgets stop when nothing can take the pods (AKS "Delete a node
  pool"; the API version used has no ignore-PDB option).
- pulumi-python dynamic resources: what the dynamic provider host does (pulumi sdk/python
  pulumi/dynamic/__main__.py Delete): the provider serialized in the resource's state, loaded with
  dill, is asked to delete; an exception is the step's error. The teardown lock refuses while
  armed; the waits have nothing to delete.
- Everything else (tls, random) has nothing to delete outside the state.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import dill  # type: ignore[import-untyped]

from tests.harness import HELM_RELEASE, Run
from tests.lifecycle.engine import Res
from tests.lifecycle.flagger import Flagger
from tests.lifecycle.kube import Cluster, Obj, Owner, helm_uninstall, pulumi_delete

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
# Workloads other software runs in a shared cluster (the local stack must leave them alone).
FOREIGN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "team-a")
NOT_IN_CLUSTER = ("kubernetes:helm.sh/v3:Release", "pulumi:providers:kubernetes")
PATCH_SUFFIX = "Patch"
DYNAMIC = "pulumi-python:dynamic"
PROVIDER_KEY = "__provider"  # pulumi/dynamic/__main__.py


@dataclass
class World:
    cluster: Cluster
    flagger: Flagger
    azure: dict[str, str] = field(default_factory=dict)
    """Azure resources that exist: URN -> kind (AKS stacks)."""
    cluster_gone: bool = False
    calls: list[str] = field(default_factory=list)
    """Every provider call, in order."""

    @staticmethod
    def of(run: Run, renders: Any = None) -> World:
        kube = Cluster()
        flagger = Flagger()
        kube.controllers.append(flagger)
        for name in FOREIGN_NAMESPACES:
            kube.add(Obj("Namespace", name, finalizers=["kubernetes"], created_by="foreign"))
        kube.add(Obj("Deployment", "their-app", "team-a", created_by="foreign"))
        world = World(kube, flagger)
        for r in run.resources:
            if r.type.startswith("azure-native:"):
                world.azure[r.urn] = r.type
            elif _in_cluster(r.type):
                obj = kube.add(_object(r))
                if obj.kind == "CustomResourceDefinition":
                    kube.crd_kinds[obj.name] = r.inputs["spec"]["names"]["kind"]
        for r in run.of_type(HELM_RELEASE):
            release = f"helm:{r.inputs['namespace']}/{r.inputs['name']}"
            kube.add(
                Obj("HelmRelease", r.inputs["name"], r.inputs["namespace"], created_by=release)
            )
        for rendered in getattr(renders, "releases", []):
            release = rendered.release
            origin = f"helm:{release.namespace}/{release.name}"
            for crd in rendered.crds:
                obj = kube.add(_rendered(crd, release.namespace, origin))
                obj.spec["helm-crds-dir"] = True
            for raw in rendered.objects:
                obj = kube.add(_rendered(raw, release.namespace, origin))
                if obj.kind == "StatefulSet":
                    _claims(kube, raw, obj)
        for canary in [o for o in kube.objects.values() if o.kind == "Canary"]:
            flagger.initialise(kube, canary)
        return world

    def provider_delete(self, res: Res) -> str | None:
        self.calls.append(f"delete {res}")
        if res.type.startswith("azure-native:"):
            return self._azure_delete(res)
        if res.type.startswith(DYNAMIC):
            return _dynamic_delete(res)
        if res.type == HELM_RELEASE or _in_cluster(res.type):
            if self.cluster_gone:
                return f"{res}: the cluster is gone; the delete would wait on nothing"
            if res.type == HELM_RELEASE:
                left = helm_uninstall(self.cluster, res.inputs["name"], res.inputs["namespace"])
                self.cluster.objects.pop(
                    ("HelmRelease", res.inputs["namespace"], res.inputs["name"]), None
                )
                return f"{res}: still there after uninstall: {left}" if left else None
            key = _key(res.type, res.inputs)
            done = pulumi_delete(self.cluster, key, _annotations(res.inputs))
            if not done.done:
                return (
                    f"{res}: still there after {done.timeout_seconds} s ({done.propagation} "
                    f"deletion, finalizers {list(done.left)}): {self.flagger.errors[-1:] or ''}"
                )
        return None

    def _azure_delete(self, res: Res) -> str | None:
        if res.urn not in self.azure:
            return None  # 404: azure-native takes it as deleted
        if res.type == AGENT_POOL and not self.cluster_gone and res.inputs.get("mode") == "User":
            others = [u for u, kind in self.azure.items() if kind == AGENT_POOL and u != res.urn]
            if not others and self._has_disruption_budgets():
                return (
                    f"{res}: the drain stops at PodDisruptionBudgets: only the tainted system "
                    "pool is left, which takes no platform pods"
                )
        del self.azure[res.urn]
        if res.type == MANAGED_CLUSTER:
            self.cluster_gone = True
            self.cluster.objects.clear()
            for urn, kind in list(self.azure.items()):
                if kind in (AGENT_POOL, "azure-native:containerservice:MaintenanceConfiguration"):
                    del self.azure[urn]
        if res.type == RESOURCE_GROUP:
            self.azure.clear()
        return None

    def _has_disruption_budgets(self) -> bool:
        return any(o.kind == "PodDisruptionBudget" for o in self.cluster.objects.values())

    def created_by(self, origin: str) -> list[Obj]:
        return [o for o in self.cluster.objects.values() if o.created_by == origin]


def dynamic_provider(res: Res) -> Any:
    """The provider a dynamic resource carries, loaded as the dynamic provider host loads it
    (pulumi/dynamic/__main__.py get_provider)."""
    return dill.loads(base64.b64decode(res.inputs[PROVIDER_KEY]))


def _dynamic_delete(res: Res) -> str | None:
    """The dynamic provider host's Delete. The state's outputs are what `create` returned: the
    program's dynamic resources return their inputs' keys, which the registration holds."""
    provider = dynamic_provider(res)
    props = {k: v for k, v in res.inputs.items() if k != PROVIDER_KEY}
    try:
        provider.delete(f"{res.name}-id", props)
    except Exception as error:  # the host turns any exception into the step's error
        return f"{res}: {error}"
    return None


def _in_cluster(type_: str) -> bool:
    return (
        type_.startswith("kubernetes:")
        and type_ not in NOT_IN_CLUSTER
        and not type_.endswith(PATCH_SUFFIX)
    )


def _kind(type_: str, inputs: dict[str, Any]) -> str:
    return inputs.get("kind") or type_.rsplit(":", 1)[-1]


def _key(type_: str, inputs: dict[str, Any]) -> tuple[str, str, str]:
    meta = inputs.get("metadata") or {}
    kind = _kind(type_, inputs)
    namespace = (
        ""
        if kind in ("Namespace", "CustomResourceDefinition", "StorageClass")
        else meta.get("namespace", "")
    )
    return (kind, namespace or "", meta["name"])


def _annotations(inputs: dict[str, Any]) -> dict[str, str]:
    return dict((inputs.get("metadata") or {}).get("annotations") or {})


def _object(r: Any) -> Obj:
    kind, namespace, name = _key(r.type, r.inputs)
    meta = r.inputs.get("metadata") or {}
    return Obj(
        kind,
        name,
        namespace,
        finalizers=["kubernetes"] if kind == "Namespace" else [],
        labels=dict(meta.get("labels") or {}),
        annotations=dict(meta.get("annotations") or {}),
        spec=dict(r.inputs.get("spec") or {}),
        created_by="pulumi",
    )


def _rendered(raw: dict[str, Any], namespace: str, origin: str) -> Obj:
    meta = raw.get("metadata") or {}
    kind = raw["kind"]
    scoped = kind not in CLUSTER_SCOPED
    return Obj(
        kind,
        meta["name"],
        (meta.get("namespace") or namespace) if scoped else "",
        labels=dict(meta.get("labels") or {}),
        annotations=dict(meta.get("annotations") or {}),
        spec={"replicas": (raw.get("spec") or {}).get("replicas")},
        created_by=origin,
    )


def _claims(kube: Cluster, raw: dict[str, Any], sts: Obj) -> None:
    """A StatefulSet's volume claims: no owner reference under the default retention policy
    (whenDeleted: Retain; kubernetes pkg/controller/statefulset/stateful_set_utils.go sets one
    only for Delete), so they outlive the StatefulSet."""
    spec = raw.get("spec") or {}
    policy = (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted", "Retain")
    for template in spec.get("volumeClaimTemplates") or []:
        for ordinal in range(int(spec.get("replicas") or 1)):
            claim = Obj(
                "PersistentVolumeClaim",
                f"{template['metadata']['name']}-{sts.name}-{ordinal}",
                sts.namespace,
                created_by="statefulset",
            )
            if policy == "Delete":
                claim.owners.append(Owner("StatefulSet", sts.name))
            kube.add(claim)


CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "StorageClass",
    "PriorityClass", "IngressClass", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
})  # fmt: skip
