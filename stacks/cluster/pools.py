"""Cluster layer, node pools: the tainted system pool inside the cluster, the user pool beside it.

AKS refuses to change a pool's VM size or zones after creation. The system pool lives inside the
ManagedCluster, which must never be replaced for that: those changes are ignored there (README:
"Rotate a node pool"). The user pool is its own AgentPool whose name is derived from exactly those
settings, so changing one makes a pool with a new name: Pulumi creates it before deleting the old
one (create-before-delete), and AKS drains the old nodes onto the new ones.
"""

from __future__ import annotations

import hashlib

import pulumi
from pulumi_azure_native import containerservice

from stacks.settings import AksSettings, NodePool

SYSTEM_POOL = "system"
# A Linux pool name: 1-12 lower-case letters and digits, starting with a letter.
USER_POOL_PREFIX = "user"
OS_SKU = "AzureLinux"
# What AKS cannot change on an existing pool.
IMMUTABLE_POOL_FIELDS = ("vmSize", "availabilityZones")


def system_pool_profile(s: AksSettings) -> containerservice.ManagedClusterAgentPoolProfileArgs:
    pool = s.system_pool
    return containerservice.ManagedClusterAgentPoolProfileArgs(
        name=SYSTEM_POOL,
        mode="System",
        vm_size=pool.vm_size,
        count=pool.count,
        enable_auto_scaling=False,
        availability_zones=list(s.availability_zones) or None,
        orchestrator_version=s.kubernetes_version,
        os_type="Linux",
        os_sku=OS_SKU,
        type="VirtualMachineScaleSets",
        # Keep the platform's own pods off the system pool; AKS add-ons tolerate this taint.
        node_taints=["CriticalAddonsOnly=true:NoSchedule"],
    )


def system_pool_ignored_changes() -> list[str]:
    """Fields of the system pool Pulumi must not try to change on a live cluster."""
    return [f"agentPoolProfiles[*].{field}" for field in IMMUTABLE_POOL_FIELDS]


def user_pool_name(pool: NodePool, zones: tuple[str, ...]) -> str:
    """`user` plus a digest of what AKS cannot change in place (and the OS), e.g. user3f9a1c2b."""
    immutable = "|".join((pool.vm_size.lower(), ",".join(sorted(zones)), OS_SKU))
    return USER_POOL_PREFIX + hashlib.sha256(immutable.encode()).hexdigest()[:8]


def user_pool(
    name: str,
    s: AksSettings,
    cluster: containerservice.ManagedCluster,
    resource_group: pulumi.Input[str],
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> containerservice.AgentPool:
    """The only untainted pool: the mesh, telemetry, Flagger and every workload run here."""
    pool = s.user_pool
    ignored = ["count"]  # the autoscaler owns the node count once the pool exists
    if s.version_follows_channel:
        ignored.append("orchestratorVersion")
    return containerservice.AgentPool(
        name,
        agent_pool_name=user_pool_name(pool, s.availability_zones),
        resource_group_name=resource_group,
        resource_name_=cluster.name,
        mode="User",
        vm_size=pool.vm_size,
        count=pool.count,
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
        opts=pulumi.ResourceOptions(
            parent=parent,
            ignore_changes=ignored,
            # The new pool first, then the old one: workloads always have nodes to move to.
            delete_before_replace=False,
        ),
    )
