"""Cluster layer, node pools: the tainted system pool and the user pool, sized and rotated by config.

AKS cannot change a pool's VM size or zones; a pool with other machines is a new pool, and the
old one is deleted once the new one runs. Two AKS rules shape how the program does that:

- A cluster is created with at least one System pool inside the ManagedCluster request, and every
  later ManagedCluster PUT may name only pools that exist: "A new agent pool was introduced.
  Adding agent pools to an existing cluster is not allowed through managed cluster operations"
  (Azure/AKS#4383, pulumi-azure-native#2719). Pulumi resends what it sent at creation
  (`ignore_changes` resends the old input: pulumi pkg/resource/deploy/step_generator.go
  processIgnoreChanges), so the pool created with the cluster, `system`, must exist as long as
  the cluster does, and a new pool can never be introduced there.
- azure-native refuses to create a resource that exists ("cannot create already existing
  resource"), so `system` can never become an AgentPool resource either.

Hence: `system` carries the system role while its machines are what the stack asks for. When
`systemNodeVmSize` or `availabilityZones` change, the program creates an AgentPool with System
mode and those machines (named from them, like the user pool), and in the same `pulumi up`, once
it runs, turns `system` into an empty User pool (mode User, 0 nodes: AKS drains it and system
pods move over). A later change replaces that AgentPool (new pool first, then the old one);
asking for `system`'s own machines again brings the role back to it. Counts reach the pools on
every `pulumi up`, except the autoscaler's: an autoscaled pool is sent the count it has now
(never a stale one, terraform-provider-azurerm#4830), within the bounds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import containerservice

from stacks.cluster.live import LiveCluster
from stacks.schema.cluster import ClusterConfig, NodePool

SYSTEM_POOL = "system"
# A Linux pool name: 1-12 lower-case letters and digits, starting with a letter.
SYSTEM_POOL_PREFIX = "sys"
USER_POOL_PREFIX = "user"
OS_SKU = "AzureLinux"
# Keep the platform's own pods off the system pools; AKS add-ons tolerate this taint.
SYSTEM_TAINT = "CriticalAddonsOnly=true:NoSchedule"
# What AKS cannot change on an existing pool.
IMMUTABLE_POOL_FIELDS = ("vmSize", "availabilityZones")


@dataclass(frozen=True)
class SystemPools:
    """Where the system role lives: the ManagedCluster's own pool, or an AgentPool beside it."""

    inline: containerservice.ManagedClusterAgentPoolProfileArgs | None
    """The ManagedCluster's agentPoolProfiles entry, `system`; None on a cluster that lost it."""
    separate: str | None
    """Name of the System-mode AgentPool that carries the role, when `system` does not."""


def pool_name(prefix: str, vm_size: str, zones: tuple[str, ...]) -> str:
    """`prefix` plus a digest of what AKS cannot change in place (and the OS): user3f9a1c2b."""
    immutable = "|".join((vm_size.lower(), ",".join(sorted(zones)), OS_SKU))
    return prefix + hashlib.sha256(immutable.encode()).hexdigest()[:8]


def user_pool_name(pool: NodePool, zones: tuple[str, ...]) -> str:
    return pool_name(USER_POOL_PREFIX, pool.vm_size, zones)


def system_pools(s: ClusterConfig, live: LiveCluster | None, replacing: bool) -> SystemPools:
    """The system pool plan against the running cluster (None, or being replaced: a new one)."""
    wanted = s.system_pool
    separate = pool_name(SYSTEM_POOL_PREFIX, wanted.vm_size, s.availability_zones)
    if live is None or replacing:
        return SystemPools(_profile(s, SystemProfile.active(s)), None)  # a new cluster
    current = live.pool(SYSTEM_POOL)
    if current is None:
        # Rotated by hand (`az aks nodepool delete --name system`, as this README once said):
        # naming it would fail every PUT, so the ManagedCluster names no pool (AKS accepts a PUT
        # without agent pools, Azure/AKS#2889) and the system role gets its AgentPool.
        return SystemPools(None, separate)
    if current.same_machines(wanted.vm_size, s.availability_zones):
        # `system` has the machines asked for: it carries the role.
        return SystemPools(_profile(s, SystemProfile.active(s)), None)
    # `system` keeps its machines (AKS cannot change them) but hands the role over.
    retired = SystemProfile(
        mode="User",
        vm_size=current.vm_size,
        zones=current.zones,
        count=0,
    )
    return SystemPools(_profile(s, retired), separate)


@dataclass(frozen=True)
class SystemProfile:
    mode: str
    vm_size: str
    zones: tuple[str, ...]
    count: int

    @staticmethod
    def active(s: ClusterConfig) -> SystemProfile:
        return SystemProfile(
            "System", s.system_pool.vm_size, s.availability_zones, s.system_pool.count
        )


def _profile(
    s: ClusterConfig, p: SystemProfile
) -> containerservice.ManagedClusterAgentPoolProfileArgs:
    return containerservice.ManagedClusterAgentPoolProfileArgs(
        name=SYSTEM_POOL,
        mode=p.mode,
        vm_size=p.vm_size,
        count=p.count,
        enable_auto_scaling=False,
        availability_zones=list(p.zones) or None,
        orchestrator_version=s.kubernetes_version,
        os_type="Linux",
        os_sku=OS_SKU,
        type="VirtualMachineScaleSets",
        node_taints=[SYSTEM_TAINT],
    )


def system_pool_ignored_changes() -> list[str]:
    """Fields of the ManagedCluster's pool Pulumi must never try to change on a live cluster
    (the program sends the running values anyway; this keeps a stale record from being sent)."""
    return [f"agentPoolProfiles[*].{field}" for field in IMMUTABLE_POOL_FIELDS]


def user_pool_count(s: ClusterConfig, live: LiveCluster | None) -> int:
    """The user pool's node count to send: the stack's, or with the autoscaler the pool's own."""
    pool = s.user_pool
    if not pool.autoscaling:
        return pool.count
    running = live.pool(user_pool_name(pool, s.availability_zones)) if live else None
    if running is None:
        return pool.count  # a new pool starts at nodeCount (checked to lie within the bounds)
    # AKS refuses a count outside the bounds; a raised minimum or lowered maximum moves it there.
    return min(max(running.count, pool.min_count), pool.max_count)


def user_pool(
    name: str,
    s: ClusterConfig,
    live: LiveCluster | None,
    cluster: containerservice.ManagedCluster,
    resource_group: pulumi.Input[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> containerservice.AgentPool:
    """The only untainted pool: the mesh, telemetry, Flagger and every workload run here.

    Its name is derived from what AKS cannot change (vmSize, zones): changing one makes a pool
    with a new name, which Pulumi creates before deleting the old one; AKS drains the old nodes
    onto the new ones.
    """
    pool = s.user_pool
    return containerservice.AgentPool(
        name,
        agent_pool_name=user_pool_name(pool, s.availability_zones),
        resource_group_name=resource_group,
        resource_name_=cluster.name,
        mode="User",
        vm_size=pool.vm_size,
        # nodeCount, or the autoscaler's own count: never a stale one.
        count=user_pool_count(s, live),
        enable_auto_scaling=pool.autoscaling,
        min_count=pool.min_count if pool.autoscaling else None,
        max_count=pool.max_count if pool.autoscaling else None,
        availability_zones=list(s.availability_zones) or None,
        # Follows the control plane: raising kubernetesVersion upgrades these nodes after it.
        orchestrator_version=s.kubernetes_version,
        os_type="Linux",
        os_sku=OS_SKU,
        type="VirtualMachineScaleSets",
        tags=tags,
        opts=pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                ignore_changes=_version_ignored(s),
                # The new pool first, then the old one: workloads always have nodes to move to.
                delete_before_replace=False,
            ),
        ),
    )


def system_agent_pool(
    name: str,
    s: ClusterConfig,
    agent_pool_name: str,
    resource_group: pulumi.Input[str],
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> containerservice.AgentPool:
    """The AgentPool that carries the system role after a rotation (see the module docstring).

    It must run before the ManagedCluster's PUT hands the role over, so it names the running
    cluster by its name and the ManagedCluster depends on it. For the same reason it is not
    deleted_with the cluster (that would be a cycle): `pulumi destroy` deletes it after the
    cluster, and azure-native takes the 404 of a pool whose cluster is gone as deleted.
    """
    pool = s.system_pool
    return containerservice.AgentPool(
        name,
        agent_pool_name=agent_pool_name,
        resource_group_name=resource_group,
        resource_name_=s.cluster_name,
        mode="System",
        vm_size=pool.vm_size,
        count=pool.count,
        enable_auto_scaling=False,
        availability_zones=list(s.availability_zones) or None,
        orchestrator_version=s.kubernetes_version,
        os_type="Linux",
        os_sku=OS_SKU,
        type="VirtualMachineScaleSets",
        node_taints=[SYSTEM_TAINT],
        tags=tags,
        opts=pulumi.ResourceOptions(
            parent=parent,
            ignore_changes=_version_ignored(s),
            # Other machines again: the new pool first, then the old one.
            delete_before_replace=False,
        ),
    )


def _version_ignored(s: ClusterConfig) -> list[str]:
    return ["orchestratorVersion"] if s.version_follows_channel else []
