"""Building block: one service released progressively by Flagger, from its rendered manifests.

Its Deployment and HPA, the Canary that releases it (with its load-test and gate webhooks and its
alerts), and the bounds of the primary's HPA. The namespace-wide pieces it relies on (the load
tester, the MetricTemplates, the platform's AlertProvider) come from the services layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks.components.secret import secret_output
from stacks.schema.service import ServiceConfig
from stacks.services.manifests import ServiceManifests
from stacks.services.rollout_plan import plan, release_analysis

# Pulumi must not wait for the target to become ready: Flagger scales it to zero between releases.
_SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


@dataclass(frozen=True)
class ProgressiveServiceArgs:
    settings: ServiceConfig
    manifests: ServiceManifests
    """Rendered and cross-checked before anything was created."""
    namespace: pulumi.Input[str]
    """The service's namespace, as the services layer created it (objects wait for it)."""
    flagger: pulumi.Resource
    """Flagger: its CRDs must exist first, and it must outlive the Canary on teardown."""
    namespace_ready: Sequence[pulumi.Resource]
    """What the Canary names in the namespace: load tester, MetricTemplates, platform alerts."""


class ProgressiveService(pulumi.ComponentResource):
    """A Deployment Flagger releases: changing its version starts that service's release only."""

    rollout_plan: str
    """How long a healthy release takes to be promoted and a failing one to be rolled back."""

    def __init__(
        self, name: str, args: ProgressiveServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:services:ProgressiveService", name, None, opts)
        s, m, ns = args.settings, args.manifests, args.namespace
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=object_meta(m.deployment, ns, _SKIP_AWAIT),
            spec=m.deployment["spec"],
            # Flagger scales this Deployment; its replica count is never Pulumi's.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["spec.replicas"]),
        )
        autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=object_meta(m.autoscaler, ns),
            spec=m.autoscaler["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The service's own checks, each a MetricTemplate the Canary names (custom checks).
        checks = [
            custom_resource(
                f"{name}-metric-{template['metadata']['name']}",
                template,
                ns,
                pulumi.ResourceOptions(parent=self, depends_on=[args.flagger]),
            )
            for template in m.metric_templates
        ]
        alerting: list[pulumi.Resource] = []
        webhook = secret_output(s.alerts.webhook_url)
        if m.alert_provider is not None and webhook is not None:
            secret = k8s.core.v1.Secret(
                f"{name}-alert-webhook",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=m.alert_secret_name, namespace=ns),
                # Flagger's AlertProvider reads the webhook URL from the key "address".
                string_data={"address": webhook},
                opts=pulumi.ResourceOptions(parent=self),
            )
            provider = custom_resource(
                f"{name}-alert-provider",
                m.alert_provider,
                ns,
                pulumi.ResourceOptions(parent=self, depends_on=[args.flagger, secret]),
            )
            alerting = [secret, provider]
        canary = custom_resource(
            f"{name}-canary",
            m.canary,
            ns,
            # Created after everything it names; deleted before them. It carries no Flagger
            # finalizer (no revertOnDeletion, manifests/service/canary.yaml): Kubernetes
            # deletes it with everything Flagger generated for it (ownerReferences), Flagger
            # running or not.
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    args.flagger,
                    deployment,
                    autoscaler,
                    *args.namespace_ready,
                    *checks,
                    *alerting,
                ],
            ),
            annotations=_initialized(s.release.progress_deadline_seconds),
        )
        bounds = m.primary_autoscaler_bounds
        k8s.autoscaling.v2.HorizontalPodAutoscalerPatch(
            f"{name}-primary-hpa-bounds",
            # Flagger's own updates (at promotion) copy the same bounds; force takes the fields
            # over from its field manager without a conflict error.
            metadata=object_meta(bounds, ns, {"pulumi.com/patchForce": "true"}),
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
        self.rollout_plan = plan(release_analysis(s)).describe()
        self.register_outputs({"rollout_plan": self.rollout_plan})


def _initialized(progress_deadline_seconds: int) -> dict[str, str]:
    """Wait, on create, until Flagger has initialised the Canary: it sets status.lastAppliedSpec
    only after the primary Deployment is ready and the primary HPA and route exist
    (setPhaseInitialized, scheduler.go:1037-1058). The field stays set, so updates do not wait."""
    return {
        "pulumi.com/waitFor": "jsonpath={.status.lastAppliedSpec}",
        "pulumi.com/timeoutSeconds": str(progress_deadline_seconds + 300),
    }


def object_meta(
    obj: dict[str, Any], namespace: pulumi.Input[str], annotations: dict[str, str] | None = None
) -> Any:
    """The object's metadata in the namespace Pulumi created (so the object waits for it)."""
    metadata = dict(obj["metadata"], namespace=namespace)
    if annotations:
        metadata["annotations"] = {**metadata.get("annotations", {}), **annotations}
    return metadata


def custom_resource(
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
        metadata=object_meta(obj, namespace, annotations),
        spec=obj["spec"],
        opts=opts,
    )
