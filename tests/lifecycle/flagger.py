"""Flagger v1.44.0 as the lifecycle model needs it: what it generates for a Canary, who owns it,
and what its finalizer needs before it lets a Canary go.

From fluxcd/flagger at v1.44.0:

- Generated objects, each with a controller ownerReference to the Canary
  (metav1.NewControllerRef: controller and blockOwnerDeletion true): the apex, primary and canary
  Services (pkg/router/kubernetes_default.go reconcileService, ~165), the primary Deployment
  (pkg/canary/deployment_controller.go ~280), the primary HPA (pkg/canary/hpa_reconciler.go ~192)
  and the HTTPRoute (pkg/router/gateway_api_v1beta1.go ~150, setOwnerRefs is true when mesh and
  Flagger share a cluster, cmd/flagger/main.go ~224).
- `spec.revertOnDeletion: true` makes Flagger add `finalizer.flagger.app` (controller.go
  syncHandler ~310). On deletion (controller.go ~270) it runs finalize (pkg/controller/
  finalizer.go): status Terminating; resume the target's scaler; DeploymentController.Finalize
  reads the target Deployment (an error if it is gone) and scales it like the primary (or from
  zero if the primary is gone); waits for the target to be ready; KubernetesDefaultRouter.Finalize
  reads the apex Service (an error if it is gone, kubernetes_default.go ~281); the mesh router's
  Finalize (GatewayAPIV1Beta1Router.Finalize does nothing, gateway_api_v1beta1.go ~399); then it
  removes the finalizer. Any error: the finalizer stays and the next sync tries again.
- Turning revertOnDeletion from true to false removes the finalizer (controller.go UpdateFunc
  ~168).
- Flagger does all this only while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.lifecycle.kube import Cluster, Obj, Owner

FINALIZER = "finalizer.flagger.app"
FLAGGER_NAMESPACE = "flagger-system"


@dataclass
class Flagger:
    """The controller; `running` decides whether it acts (its Deployment exists)."""

    errors: list[str] = field(default_factory=list)

    def running(self, cluster: Cluster) -> bool:
        return cluster.get("Deployment", FLAGGER_NAMESPACE, "flagger") is not None

    def initialise(self, cluster: Cluster, canary: Obj) -> None:
        """What Flagger creates for a new Canary (and the finalizer, with revertOnDeletion)."""
        spec = canary.spec
        target = spec["targetRef"]["name"]
        owner = [Owner("Canary", canary.name)]
        ns = canary.namespace
        for name in (target, f"{target}-primary", f"{target}-canary"):
            cluster.add(Obj("Service", name, ns, list(owner), created_by="flagger"))
        cluster.add(Obj("Deployment", f"{target}-primary", ns, list(owner), created_by="flagger"))
        if spec.get("autoscalerRef"):
            primary_hpa = f"{spec['autoscalerRef']['name']}-primary"
            cluster.add(
                Obj("HorizontalPodAutoscaler", primary_hpa, ns, list(owner), created_by="flagger")
            )
        cluster.add(Obj("HTTPRoute", target, ns, list(owner), created_by="flagger"))
        if spec.get("revertOnDeletion"):
            canary.finalizers.append(FINALIZER)

    def __call__(self, cluster: Cluster) -> None:
        """One sync of every Canary being deleted that still has Flagger's finalizer."""
        if not self.running(cluster):
            return
        for canary in [o for o in cluster.objects.values() if o.kind == "Canary"]:
            if canary.deleting and FINALIZER in canary.finalizers:
                problem = self.finalize(cluster, canary)
                if problem is None:
                    cluster.remove_finalizer(canary, FINALIZER)
                else:
                    self.errors.append(f"Unable to finalize canary: {problem}")

    def finalize(self, cluster: Cluster, canary: Obj) -> str | None:
        """finalizer.go finalize(): None when it succeeds, else the error Flagger logs."""
        ns, target = canary.namespace, canary.spec["targetRef"]["name"]
        if cluster.get("Deployment", ns, target) is None:
            return (
                f"failed to revert target: deplyoment {target}.{ns} get query error: "
                f'deployments.apps "{target}" not found'
            )
        # Scaled like the primary, or from zero: the target's pods must become ready.
        apex = cluster.get("Service", ns, target)
        if apex is None:
            return (
                f"failed revert router: service {target}.{ns} get query error: "
                f'services "{target}" not found'
            )
        return None  # owned by the Canary: nothing to revert; the v1beta1 mesh router: no-op
