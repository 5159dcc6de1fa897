"""Settings: the typed, validated values every layer receives (built by stacks/config.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class NodePool:
    vm_size: str
    count: int
    autoscaling: bool
    min_count: int
    max_count: int


@dataclass(frozen=True)
class Principal:
    """An Entra ID identity that gets a role, with the type ARM must be told."""

    object_id: str
    principal_type: str
    """User, Group or ServicePrincipal (also for managed and workload identities)."""


@dataclass(frozen=True)
class MaintenanceWindow:
    """A weekly window in which AKS may upgrade (aksManaged*Schedule maintenance configurations)."""

    day_of_week: str
    start_time: str
    """HH:mm in utc_offset."""
    duration_hours: int
    utc_offset: str
    """+HH:mm or -HH:mm."""


@dataclass(frozen=True)
class AksSettings:
    """What the cluster layer needs to create an AKS cluster."""

    location: str
    resource_group_name: str
    cluster_name: str
    dns_prefix: str
    kubernetes_version: str
    sku_tier: str
    system_pool: NodePool
    user_pool: NodePool
    availability_zones: tuple[str, ...]
    upgrade_channel: str
    node_os_upgrade_channel: str
    auto_upgrade_window: MaintenanceWindow
    node_os_upgrade_window: MaintenanceWindow
    network_policy: str
    authorized_ip_ranges: tuple[str, ...]
    disable_local_accounts: bool
    deployer_principal_type: str
    """User for a person's `az login`; ServicePrincipal for CI (secret, OIDC or managed identity)."""
    cluster_admins: tuple[Principal, ...]
    container_registry: str | None
    """Resource id of an existing Azure Container Registry the kubelet may pull from."""
    kubelogin_mode: str
    protect: bool

    @property
    def version_follows_channel(self) -> bool:
        """The stable and rapid channels move the minor version outside Pulumi."""
        return self.upgrade_channel in ("stable", "rapid")


@dataclass(frozen=True)
class LocalClusterSettings:
    """An existing cluster reached through a kubeconfig context."""

    kube_context: str
    kubeconfig_path: str | None


@dataclass(frozen=True)
class MeshSettings:
    """Linkerd: version, availability and its trust anchors."""

    linkerd_version: str
    gateway_api_version: str
    high_availability: bool
    trust_anchor_validity_days: int
    trust_anchor_generations: tuple[int, ...]
    """Anchors every proxy trusts (two only during a rotation)."""
    issuer_anchor_generation: int
    """The anchor that signs the identity issuer; one of trust_anchor_generations."""


@dataclass(frozen=True)
class AlertReceiver:
    """Where Alertmanager sends the platform's alerts, and where its heartbeat goes."""

    kind: str
    """none, slack, msteams (Teams Workflows), webhook, pagerduty or opsgenie."""
    secret: pulumi.Output[str] | None
    """The webhook URL, PagerDuty routing key or Opsgenie API key; None when kind is none."""
    dead_mans_switch_url: pulumi.Output[str] | None
    """Secret URL the always-firing heartbeat is posted to; None: no switch (not in prod)."""
    runbook_url: str
    """Address of docs/runbook.md as people open it; each alert links a section of it."""


@dataclass(frozen=True)
class TelemetrySettings:
    """Prometheus storage and alerting; Grafana and the Linkerd dashboard need no tuning."""

    prometheus_retention: str
    prometheus_persistence: bool
    prometheus_storage_size: str
    meshed_pods: int
    """Expected meshed pods: Prometheus's memory is sized from it."""
    zone_redundant_storage: bool
    """AKS across zones: volumes on zone-redundant (ZRS) disks, so pods can move between zones."""
    alerts: AlertReceiver


@dataclass(frozen=True)
class DeliverySettings:
    """Flagger itself and where it sends canary events (its AlertProvider, not Alertmanager)."""

    flagger_replicas: int
    alert_provider: str
    """none, slack or msteams."""
    alert_channel: str
    alert_webhook_url: pulumi.Output[str] | None
    """Secret; None unless alert_provider is slack or msteams."""


@dataclass(frozen=True)
class Match:
    """A/B testing: requests with this header (or cookie) value go to the new version."""

    kind: str
    """header or cookie."""
    name: str
    value: str


@dataclass(frozen=True)
class SessionAffinity:
    """Canary strategy: a user routed to the new version stays on it (Flagger sessionAffinity)."""

    cookie_name: str
    max_age_seconds: int


@dataclass(frozen=True)
class ReleaseSettings:
    """How Flagger releases one service: strategy, pacing and what counts as healthy."""

    strategy: str
    """canary, abTesting or blueGreen."""
    interval_seconds: int
    threshold: int
    metric_interval_seconds: int
    progress_deadline_seconds: int
    manual_promotion: bool
    step_weight: int
    """canary: percent added per healthy step."""
    max_weight: int
    """canary: the largest share the new version gets before promotion, percent."""
    iterations: int
    """abTesting and blueGreen: analysis runs before promotion."""
    match: Match | None
    session_affinity: SessionAffinity | None
    step_weight_promotion: int
    """Percent of traffic moved back to the primary per run at promotion; 0 moves it at once."""
    primary_min_replicas: int | None
    primary_max_replicas: int | None
    """autoscalerRef.primaryScalerReplicas: the serving primary's own bounds, if different."""
    success_rate: int
    """percent, 1-100"""
    latency_p99_ms: int
    min_requests: int
    """Requests the canary must answer per metric window (the request-volume check)."""


@dataclass(frozen=True)
class ServiceAlerts:
    """Where a service's release events go: the platform's webhook, none, or its own."""

    target: str
    """platform, none or own."""
    provider: str = ""
    channel: str = ""
    webhook_url: pulumi.Output[str] | None = None
    """Secret; only for own."""


@dataclass(frozen=True)
class ServiceSettings:
    """One service released progressively, declared in services/<name>.yaml and its stack entry."""

    name: str
    namespace: str
    image: str
    """Repository, without tag or digest."""
    version: str
    """Tag (6.14.1) or digest (sha256:...) the stack runs."""
    port: int
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    readiness_path: str
    liveness_path: str
    user: int
    min_replicas: int
    max_replicas: int
    cpu_request: str
    memory_request: str
    cpu_limit: str | None
    memory_limit: str
    release: ReleaseSettings
    load_path: str
    load_rate: int
    """Requests per second of each load generator."""
    load_concurrency: int
    acceptance_method: str | None
    acceptance_path: str | None
    alerts: ServiceAlerts
    faults: str
    """none, errors or latency (podinfo's own fault injection)."""
    retry: str

    @property
    def image_ref(self) -> str:
        separator = "@" if self.version.startswith("sha256:") else ":"
        return f"{self.image}{separator}{self.version}"


@dataclass(frozen=True)
class Settings:
    """Everything the program builds, validated."""

    project: str
    stack: str
    environment: str
    aks: AksSettings | None
    local: LocalClusterSettings | None
    mesh: MeshSettings
    telemetry: TelemetrySettings
    delivery: DeliverySettings
    services: tuple[ServiceSettings, ...]
