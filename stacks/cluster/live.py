"""Cluster layer, what runs already: the AKS cluster as Azure reports it before `pulumi up` acts.

Three decisions need the live cluster, not Pulumi's record of what it last sent: a create-only
setting that differs from the running cluster (refused in prod, a replacement in dev,
create_only.py), which node pool currently carries the system role (a system-pool rotation,
pools.py), and the node count of an autoscaled pool (the autoscaler's, never a stale input).
One GET of the cluster (`getManagedCluster`, AKS API 2025-09-01 in the pinned azure-native SDK)
answers all three: its agentPoolProfiles list every pool, also those created as AgentPools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_azure_native import containerservice

from stacks.config import ConfigError
from stacks.schema.cluster import ClusterConfig


@dataclass(frozen=True)
class LivePool:
    """One node pool of the running cluster."""

    name: str
    mode: str
    """System or User."""
    vm_size: str
    zones: tuple[str, ...]
    count: int
    autoscaling: bool

    def same_machines(self, vm_size: str, zones: Sequence[str]) -> bool:
        """Whether the pool has the VM size and zones given (what AKS cannot change in place)."""
        return self.vm_size.lower() == vm_size.lower() and set(self.zones) == set(zones)


@dataclass(frozen=True)
class LiveCluster:
    """The running cluster's create-only settings and its node pools."""

    location: str
    dns_prefix: str
    network: dict[str, str]
    """networkProfile fields as AKS reports them (networkPlugin, networkPolicy, ...)."""
    pools: tuple[LivePool, ...]

    def pool(self, name: str) -> LivePool | None:
        return next((p for p in self.pools if p.name == name), None)


def observe(s: ClusterConfig) -> LiveCluster | None:
    """The cluster `s` names as it runs now, or None when it does not exist (yet)."""
    try:
        found = containerservice.get_managed_cluster(
            resource_group_name=s.resource_group_name, resource_name=s.cluster_name
        )
    except Exception as error:  # the SDK raises a plain Exception carrying the provider's text
        if not_found(error):
            return None
        raise ConfigError(
            f"could not read AKS cluster {s.cluster_name} in resource group "
            f"{s.resource_group_name} before planning any change: {error}; nothing was created"
        ) from None
    network = found.network_profile
    return LiveCluster(
        location=str(found.location or ""),
        dns_prefix=str(found.dns_prefix or ""),
        network={
            key: str(_field(network, attribute) or "") for key, attribute in NETWORK_FIELDS.items()
        },
        pools=tuple(_pool(p) for p in found.agent_pool_profiles or ()),
    )


# networkProfile fields the program sets, camelCase as Pulumi.yaml and the AKS API name them.
NETWORK_FIELDS = {
    "networkPlugin": "network_plugin",
    "networkPluginMode": "network_plugin_mode",
    "networkDataplane": "network_dataplane",
    "networkPolicy": "network_policy",
}


def not_found(error: Exception) -> bool:
    """Whether an invoke failed because the cluster or its resource group does not exist.

    ARM answers 404 with ResourceNotFound or ResourceGroupNotFound; azure-native passes the
    status and code through in the error text, which the SDK raises as the exception's message.
    """
    text = str(error)
    return "404" in text or "NotFound" in text


def _pool(profile: Any) -> LivePool:
    return LivePool(
        name=str(_field(profile, "name")),
        mode=str(_field(profile, "mode") or "User"),
        vm_size=str(_field(profile, "vm_size") or ""),
        zones=tuple(str(z) for z in _field(profile, "availability_zones") or ()),
        count=int(_field(profile, "count") or 0),
        autoscaling=bool(_field(profile, "enable_auto_scaling")),
    )


def _field(value: Any, attribute: str) -> Any:
    """An attribute of an SDK output type (a dict subclass with properties), None when absent."""
    return getattr(value, attribute, None) if value is not None else None
