"""Workload layer: podinfo in a meshed namespace, released by a Flagger Canary, plus its load tester."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks import crosscheck, podinfo
from stacks.alerts import CanaryWatch
from stacks.config_reader import ConfigError
from stacks.helm import release
from stacks.rollout_plan import canary_analysis, plan
from stacks.settings import DeliverySettings, WorkloadSettings
from stacks.versions import LOADTESTER

# Pulumi must not wait for podinfo to become ready: Flagger scales it to zero between releases.
_SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


def prepare(
    workload: WorkloadSettings, delivery: DeliverySettings, prometheus_url: str
) -> podinfo.PodinfoManifests:
    """Render the workload's objects and check every name they share; raise before any resource
    of the platform exists if they do not fit together."""
    manifests = podinfo.render(
        workload, prometheus_url, delivery.alert_provider, delivery.alert_channel
    )
    broken = crosscheck.problems(manifests, prometheus_url)
    if broken:
        listed = "\n".join(f"  - {p}" for p in broken)
        raise ConfigError(f"podinfo manifests do not fit together; nothing was created:\n{listed}")
    return manifests


def watches(workload: WorkloadSettings) -> list[CanaryWatch]:
    """The Canaries the platform alerts on when a release is stuck past its slowest outcome."""
    c = workload.canary
    planned = plan(canary_analysis(c))
    slowest = max(planned.slowest_promotion_seconds, planned.slowest_rollback_seconds)
    stuck = c.progress_deadline_seconds + slowest + 3 * c.interval_seconds
    return [CanaryWatch(workload.namespace, podinfo.TARGET, stuck)]


@dataclass(frozen=True)
class WorkloadArgs:
    settings: WorkloadSettings
    delivery: DeliverySettings
    manifests: podinfo.PodinfoManifests
    """From prepare(): rendered and cross-checked before anything was created."""
    mesh_ready: pulumi.Resource
    """The Linkerd control plane: no pod of this namespace may start before the injector."""
    flagger: pulumi.Resource
    """Flagger's release: its CRDs must exist first, and it must outlive the Canary."""


class Workload(pulumi.ComponentResource):
    """podinfo, its HPA, metric templates, Canary, alerting and load tester."""

    rollout_plan: str
    """How long a healthy release takes to be promoted and a failing one to be rolled back."""

    def __init__(
        self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:workload:Workload", name, None, opts)
        s = args.settings
        manifests = args.manifests
        child = pulumi.ResourceOptions(parent=self)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=manifests.namespace["metadata"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.mesh_ready]),
        )
        ns = namespace.metadata.name
        tester = release(
            f"{name}-loadtester",
            chart=LOADTESTER,
            release_name=podinfo.LOADTESTER_RELEASE,
            namespace=ns,
            values={
                # Gate and rollback state lives in the pod's memory: one replica only.
                "replicaCount": 1,
                "cmd": {"timeout": "1h", "namespaceRegexp": f"^{s.namespace}$"},
            },
            parent=self,
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-podinfo",
            metadata=_meta(manifests.deployment, ns, _SKIP_AWAIT),
            spec=manifests.deployment["spec"],
            # Flagger scales this Deployment; its replica count is never Pulumi's.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["spec.replicas"]),
        )
        autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-podinfo-hpa",
            metadata=_meta(manifests.autoscaler, ns),
            spec=manifests.autoscaler["spec"],
            opts=child,
        )
        flagger_objects = pulumi.ResourceOptions(parent=self, depends_on=[args.flagger])
        templates = [
            _custom(f"{name}-metric-{t['metadata']['name']}", t, ns, flagger_objects)
            for t in manifests.metric_templates
        ]
        alerting: list[pulumi.Resource] = []
        if manifests.alert_provider is not None and args.delivery.alert_webhook_url is not None:
            secret = k8s.core.v1.Secret(
                f"{name}-alert-webhook",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=manifests.alert_secret_name, namespace=ns),
                # Flagger's AlertProvider reads the webhook URL from the key "address".
                string_data={"address": args.delivery.alert_webhook_url},
                opts=child,
            )
            alerting = [
                secret,
                _custom(f"{name}-alert-provider", manifests.alert_provider, ns, flagger_objects),
            ]
        canary = _custom(
            f"{name}-canary",
            manifests.canary,
            ns,
            # Created after everything it names; deleted before them and before Flagger, so
            # Flagger can hand traffic back to podinfo (revertOnDeletion) on teardown.
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[args.flagger, tester, deployment, autoscaler, *templates, *alerting],
            ),
            annotations=_initialized(s.canary.progress_deadline_seconds),
        )
        bounds = manifests.primary_autoscaler_bounds
        k8s.autoscaling.v2.HorizontalPodAutoscalerPatch(
            f"{name}-podinfo-primary-hpa-bounds",
            # Flagger's own updates (at promotion) copy the same bounds; force takes the fields
            # over from its field manager without a conflict error.
            metadata=_meta(bounds, ns, {"pulumi.com/patchForce": "true"}),
            spec=bounds["spec"],
            opts=pulumi.ResourceOptions(
                parent=self,
                # The HPA exists once Flagger has initialised the Canary (it waits for that).
                depends_on=[canary],
                # The HPA is Flagger's and goes with the Canary: giving the fields back on
                # delete would remove maxReplicas (SSA drops fields nobody owns) and be refused.
                retain_on_delete=True,
            ),
        )
        self.rollout_plan = plan(canary_analysis(s.canary)).describe()
        self.register_outputs({"rollout_plan": self.rollout_plan})


def _meta(
    obj: dict[str, Any], namespace: pulumi.Input[str], annotations: dict[str, str] | None = None
) -> Any:
    """The object's metadata in the namespace Pulumi created (so the object waits for it)."""
    metadata = dict(obj["metadata"], namespace=namespace)
    if annotations:
        metadata["annotations"] = {**metadata.get("annotations", {}), **annotations}
    return metadata


def _initialized(progress_deadline_seconds: int) -> dict[str, str]:
    """Wait, on create, until Flagger has initialised the Canary: it sets status.lastAppliedSpec
    only after the primary Deployment is ready and the primary HPA and route exist
    (setPhaseInitialized, scheduler.go:1037-1058). The field stays set, so updates do not wait."""
    return {
        "pulumi.com/waitFor": "jsonpath={.status.lastAppliedSpec}",
        "pulumi.com/timeoutSeconds": str(progress_deadline_seconds + 300),
    }


def _custom(
    name: str,
    obj: dict[str, Any],
    namespace: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    annotations: dict[str, str] | None = None,
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name,
        api_version=obj["apiVersion"],
        kind=obj["kind"],
        metadata=_meta(obj, namespace, annotations),
        spec=obj["spec"],
        opts=opts,
    )
