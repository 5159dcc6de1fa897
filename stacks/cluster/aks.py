"""Cluster layer: a hardened AKS cluster and the one Kubernetes provider every later layer uses."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import containerservice, resources

from stacks.cluster.access import cluster_access
from stacks.cluster.create_only import network_profile
from stacks.cluster.kubeconfig import non_interactive
from stacks.cluster.live import LiveCluster
from stacks.cluster.maintenance import maintenance_windows
from stacks.cluster.pools import (
    system_agent_pool,
    system_pool_ignored_changes,
    system_pools,
    user_pool,
)
from stacks.schema.cluster import ClusterConfig


@dataclass(frozen=True)
class AksClusterArgs:
    settings: ClusterConfig
    project: str
    stack: str
    tags: dict[str, str]
    live: LiveCluster | None
    """The cluster as it runs before this `pulumi up` (live.py); None when there is none yet."""
    replacing: bool
    """A create-only setting changed (create_only.py): this `pulumi up` replaces the cluster."""
    protect: bool
    """prod: a planned replacement or a mistaken delete of the cluster stops instead."""


class AksCluster(pulumi.ComponentResource):
    """Resource group, AKS cluster, user pool, maintenance windows, cluster admins, provider."""

    provider: k8s.Provider
    managed_cluster: pulumi.Resource
    """The cluster itself: in-cluster objects go away with it (deleted_with)."""
    cluster_name: pulumi.Output[str]
    """Name of the AKS cluster."""
    resource_group_name: pulumi.Output[str]
    """Resource group holding the cluster."""
    oidc_issuer_url: pulumi.Output[str]
    """OIDC issuer for workload identity federation."""
    kubeconfig: pulumi.Output[str]
    """Secret kubeconfig with a non-interactive kubelogin login."""
    credentials_command: pulumi.Output[str]
    """What a person runs to get kubectl access to this cluster."""

    def __init__(
        self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:cluster:AksCluster", name, None, opts)
        s = args.settings
        # prod: a provider upgrade that plans a replacement must stop, not delete the cluster.
        # Names are fixed and unique in Azure (azure-native refuses to create what exists), so a
        # replacement (dev) must delete the old one first.
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect, delete_before_replace=True)

        group = resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=s.resource_group_name,
            location=s.location,
            tags=args.tags,
            opts=keep,
        )
        pools = system_pools(s, args.live, args.replacing)
        network = network_profile(s)
        system_pool = (
            system_agent_pool(f"{name}-system-pool", s, pools.separate, group.name, args.tags, self)
            if pools.separate
            else None
        )
        cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_name_=s.cluster_name,
            resource_group_name=group.name,
            location=s.location,
            dns_prefix=s.dns_prefix,
            kubernetes_version=s.kubernetes_version,
            sku=containerservice.ManagedClusterSKUArgs(name="Base", tier=s.sku_tier),
            identity=containerservice.ManagedClusterIdentityArgs(
                type=containerservice.ResourceIdentityType.SYSTEM_ASSIGNED
            ),
            enable_rbac=True,
            # Entra ID for every login, Azure RBAC for every permission.
            # (Administrators are Azure role assignments, see access.py.)
            aad_profile=containerservice.ManagedClusterAADProfileArgs(
                managed=True, enable_azure_rbac=True
            ),
            disable_local_accounts=s.disable_local_accounts,
            oidc_issuer_profile=containerservice.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=containerservice.ManagedClusterSecurityProfileArgs(
                workload_identity=containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(
                    enabled=True
                ),
            ),
            auto_upgrade_profile=containerservice.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel=s.upgrade_channel,
                node_os_upgrade_channel=s.node_os_upgrade_channel,
            ),
            # Azure CNI overlay on the classic dataplane. Not the Cilium dataplane: its socket-level
            # load balancing rewrites Service addresses before Linkerd's proxy sees them, so the
            # proxy cannot apply the HTTPRoute weights and canaries would get no traffic split.
            # Create-only (create_only.py): a change replaces the cluster, refused in prod.
            network_profile=containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin=network["networkPlugin"],
                network_plugin_mode=network["networkPluginMode"],
                network_dataplane=network["networkDataplane"],
                network_policy=network["networkPolicy"],
                load_balancer_sku="standard",
            ),
            api_server_access_profile=containerservice.ManagedClusterAPIServerAccessProfileArgs(
                authorized_ip_ranges=list(s.authorized_ip_ranges),
            )
            if s.authorized_ip_ranges
            else None,
            agent_pool_profiles=[pools.inline] if pools.inline else None,
            tags=args.tags,
            opts=pulumi.ResourceOptions.merge(
                keep,
                pulumi.ResourceOptions(
                    ignore_changes=_ignored_changes(s),
                    depends_on=[system_pool] if system_pool else [],
                ),
            ),
        )
        # Children of the cluster in Azure: AKS deletes them with it, so `pulumi destroy` does not
        # delete them one by one first (a user pool's drain would stop at the workloads'
        # PodDisruptionBudgets, with only the tainted system pool left to move to).
        with_cluster = pulumi.ResourceOptions(parent=self, deleted_with=cluster)
        pool = user_pool(
            f"{name}-user-pool",
            s,
            None if args.replacing else args.live,
            cluster,
            group.name,
            args.tags,
            with_cluster,
        )
        maintenance_windows(name, s, cluster, group.name, with_cluster)

        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=group.name,
            resource_name=cluster.name,
            format="exec",
        )
        self.kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs[0].value.apply(
                lambda encoded: non_interactive(
                    base64.b64decode(encoded).decode("utf-8"), s.kubelogin_mode
                )
            )
        )
        access = cluster_access(name, s, cluster, self.kubeconfig, self, with_cluster)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            # Known at preview and stable: new credentials or a rotated cluster CA
            # (`az aks rotate-certs`) update the provider instead of replacing it, and with it
            # every object in the cluster.
            cluster_identifier=f"{args.project}-{args.stack}-{s.cluster_name}",
            # Rotated Secrets are updated in place, not deleted and recreated.
            enable_secret_mutable=True,
            # Nothing may reach the API server before the deployer's role has taken effect, and
            # workloads need the user pool: the system pool only takes CriticalAddonsOnly pods.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access, pool]),
        )
        self.managed_cluster = cluster
        self.cluster_name = cluster.name
        self.resource_group_name = group.name
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(
            lambda profile: profile.issuer_url if profile else ""
        )
        self.credentials_command = pulumi.Output.concat(
            "az aks get-credentials --resource-group ",
            group.name,
            " --name ",
            cluster.name,
            f" && kubelogin convert-kubeconfig --login {s.kubelogin_mode}",
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "resource_group_name": self.resource_group_name,
                "oidc_issuer_url": self.oidc_issuer_url,
                "kubeconfig": self.kubeconfig,
            }
        )


def _ignored_changes(s: ClusterConfig) -> list[str]:
    """What Pulumi leaves alone on the live cluster.

    With the patch channel (or none) the minor is Pulumi's: raising kubernetesVersion upgrades the
    control plane, then the pools follow. The stable and rapid channels move it themselves, so
    reverting it would mean a downgrade: then it is ignored and upgrades are AKS's alone. Counts
    are never ignored: systemNodeCount reaches the pool (it does not autoscale).
    """
    ignored = system_pool_ignored_changes()
    if s.version_follows_channel:
        ignored += ["kubernetesVersion", "agentPoolProfiles[*].orchestratorVersion"]
    return ignored
