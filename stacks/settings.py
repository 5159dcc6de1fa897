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
class TelemetrySettings:
    """Prometheus storage; Grafana and the Linkerd dashboard need no tuning."""

    prometheus_retention: str
    prometheus_persistence: bool
    prometheus_storage_size: str
    meshed_pods: int
    """Expected meshed pods: Prometheus's memory is sized from it."""
    zone_redundant_storage: bool
    """AKS across zones: volumes on zone-redundant (ZRS) disks, so pods can move between zones."""


@dataclass(frozen=True)
class DeliverySettings:
    """Flagger itself and where it sends canary events."""

    flagger_replicas: int
    alert_provider: str
    """none, slack or msteams."""
    alert_channel: str
    alert_webhook_url: pulumi.Output[str] | None
    """Secret; None unless alert_provider is slack or msteams."""


@dataclass(frozen=True)
class CanarySettings:
    """Flagger's analysis: how fast traffic moves and what counts as healthy."""

    interval_seconds: int
    threshold: int
    max_weight: int
    step_weight: int
    metric_interval_seconds: int
    success_rate: int
    """percent, 1-100"""
    latency_p99_ms: int
    progress_deadline_seconds: int
    manual_promotion: bool


@dataclass(frozen=True)
class WorkloadSettings:
    """podinfo: where it runs, which version, and how far it may scale."""

    namespace: str
    version: str
    retry: str
    faults: str
    """none, errors or latency."""
    min_replicas: int
    max_replicas: int
    canary: CanarySettings


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
    workload: WorkloadSettings
