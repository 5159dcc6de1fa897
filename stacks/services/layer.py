"""Services layer: every service the stack declares, each released progressively by Flagger.

Per namespace the services use: the meshed namespace, its load tester (webhooks and gates), the
MetricTemplates on Linkerd's metrics and, when used, the AlertProvider on the platform's webhook.
Per service a ProgressiveService. Services depend only on their namespace and on Flagger, so they
deploy in parallel; changing one service's version changes only its Deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks.components.helm import release
from stacks.components.progressive_service import (
    ProgressiveService,
    ProgressiveServiceArgs,
    custom_resource,
)
from stacks.components.secret import secret_output
from stacks.pins import LOADTESTER
from stacks.schema.delivery import DeliveryConfig
from stacks.schema.service import ServiceConfig
from stacks.schema.services import LOADTESTER_RELEASE
from stacks.services import analysis
from stacks.services import manifests as service_manifests
from stacks.services.manifests import NamespaceManifests, ServiceManifests
from stacks.services.rollout_plan import plan, release_analysis
from stacks.telemetry.alerts import CanaryWatch


@dataclass(frozen=True)
class Rendered:
    """Every service's objects and every namespace's shared objects, cross-checked."""

    services: dict[str, ServiceManifests]
    namespaces: dict[str, NamespaceManifests]


def prepare(
    services: tuple[ServiceConfig, ...], delivery: DeliveryConfig, prometheus_url: str
) -> Rendered:
    """Render every service and its namespace's shared objects before anything is created.
    (That their names fit together is the program's own doing: tests/crosscheck.py checks it
    over every example declaration.)"""
    platform_alerts = (
        (delivery.alert_provider, delivery.alert_channel)
        if delivery.alert_provider != "none"
        else None
    )
    namespaces = {
        ns: service_manifests.render_namespace(
            ns,
            prometheus_url,
            platform_alerts
            if any(s.alerts.target == "platform" for s in services if s.namespace == ns)
            else None,
        )
        for ns in sorted({s.namespace for s in services})
    }
    rendered = {
        s.name: service_manifests.render(
            s, prometheus_url, platform_alerts=platform_alerts is not None
        )
        for s in services
    }
    return Rendered(rendered, namespaces)


def threshold_rules(rendered: Rendered) -> dict[str, Any]:
    """Prometheus recording rules with each check's threshold of every Canary, so the canary
    dashboard draws each check against its own bound (stacks/services/analysis.py threshold_rules)."""
    return analysis.threshold_rules(
        [b for m in rendered.services.values() for b in analysis.thresholds(m.canary)]
    )


def watches(services: tuple[ServiceConfig, ...]) -> list[CanaryWatch]:
    """The Canaries alerted when a release is stuck: progressing past its slowest outcome plus
    three runs, or promoting or finalising past what that takes plus three runs."""
    found = []
    for s in services:
        r = s.release
        planned = plan(release_analysis(s))
        slowest = max(planned.slowest_promotion_seconds, planned.slowest_rollback_seconds)
        stuck = r.progress_deadline_seconds + slowest + 3 * r.interval_seconds
        # Promotion shifts traffic back in steps of step_weight_promotion (one run each, Flagger
        # v1.44.0 scheduler.go runPromotionTrafficShift), or at once; each phase may also wait
        # for a rollout of the primary, bounded by the progress deadline.
        steps = -(-r.max_weight // r.step_weight_promotion) if r.step_weight_promotion else 1
        finishing = r.progress_deadline_seconds + (steps + 3) * r.interval_seconds
        found.append(CanaryWatch(s.namespace, s.name, stuck, finishing))
    return found


@dataclass(frozen=True)
class ServicesArgs:
    services: tuple[ServiceConfig, ...]
    rendered: Rendered
    """From prepare(): rendered and cross-checked before anything was created."""
    delivery: DeliveryConfig
    """The platform's alert webhook, for services whose alerts go there."""
    mesh_ready: pulumi.Resource
    """The Linkerd control plane: no pod of a meshed namespace may start before the injector."""
    flagger: pulumi.Resource
    """Flagger's release: its CRDs must exist first, and it must outlive every Canary."""


class Services(pulumi.ComponentResource):
    """The declared services, their namespaces, load testers and analysis templates."""

    summary: dict[str, dict[str, Any]]
    """Per service: namespace, version and rollout plan."""

    def __init__(
        self, name: str, args: ServicesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:services:Services", name, None, opts)
        ready: dict[str, tuple[pulumi.Output[str], list[pulumi.Resource]]] = {
            ns: self._namespace(f"{name}-{ns}", ns, manifests, args)
            for ns, manifests in args.rendered.namespaces.items()
        }
        self.summary = {}
        for s in args.services:
            namespace, prerequisites = ready[s.namespace]
            service = ProgressiveService(
                f"{name}-{s.name}",
                ProgressiveServiceArgs(
                    settings=s,
                    manifests=args.rendered.services[s.name],
                    namespace=namespace,
                    flagger=args.flagger,
                    namespace_ready=prerequisites,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.summary[s.name] = {
                "namespace": s.namespace,
                "version": s.version,
                "rolloutPlan": service.rollout_plan,
            }
        self.register_outputs({"summary": self.summary})

    def _namespace(
        self, name: str, ns: str, m: NamespaceManifests, args: ServicesArgs
    ) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
        """The namespace and what its Canaries name there; returns (name, prerequisites)."""
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=m.namespace["metadata"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.mesh_ready]),
        )
        ns_name = namespace.metadata.name
        tester = release(
            f"{name}-loadtester",
            chart=LOADTESTER,
            release_name=LOADTESTER_RELEASE,
            namespace=ns_name,
            values={
                # Gate and rollback state lives in the pod's memory: one replica only.
                "replicaCount": 1,
                # Webhooks run commands: only from Canaries of this namespace, for an hour at most.
                "cmd": {"timeout": "1h", "namespaceRegexp": f"^{ns}$"},
            },
            parent=self,
        )
        after_flagger = pulumi.ResourceOptions(parent=self, depends_on=[args.flagger])
        prerequisites: list[pulumi.Resource] = [tester]
        for template in m.metric_templates:
            prerequisites.append(
                custom_resource(
                    f"{name}-metric-{template['metadata']['name']}",
                    template,
                    ns_name,
                    after_flagger,
                )
            )
        webhook = secret_output(args.delivery.alert_webhook_url)
        if m.platform_alerts is not None and webhook is not None:
            secret = k8s.core.v1.Secret(
                f"{name}-platform-alert-webhook",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=m.platform_alerts["spec"]["secretRef"]["name"], namespace=ns_name
                ),
                # Flagger's AlertProvider reads the webhook URL from the key "address".
                string_data={"address": webhook},
                opts=pulumi.ResourceOptions(parent=self),
            )
            prerequisites += [
                secret,
                custom_resource(
                    f"{name}-platform-alerts",
                    m.platform_alerts,
                    ns_name,
                    pulumi.ResourceOptions(parent=self, depends_on=[args.flagger, secret]),
                ),
            ]
        return ns_name, prerequisites
