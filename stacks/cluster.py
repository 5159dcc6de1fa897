"""Cluster layer: a hardened AKS cluster and the one Kubernetes provider every later layer uses."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import authorization, containerservice, resources

from stacks.kubeconfig import non_interactive
from stacks.settings import AksSettings, NodePool

# Built-in role "Azure Kubernetes Service RBAC Cluster Admin": full access to every namespace.
CLUSTER_ADMIN_ROLE_ID = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
SYSTEM_POOL = "system"
USER_POOL = "user"


@dataclass(frozen=True)
class AksClusterArgs:
    settings: AksSettings
    tags: dict[str, str]


class AksCluster(pulumi.ComponentResource):
    """Resource group, AKS cluster, user node pool, admin role for the deployer, and provider."""

    provider: k8s.Provider
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
        keep = pulumi.ResourceOptions(parent=self, protect=s.protect)

        group = resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=s.resource_group_name,
            location=s.location,
            tags=args.tags,
            opts=keep,
        )
        cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_name_=s.cluster_name,
            resource_group_name=group.name,
            location=s.location,
            dns_prefix=s.cluster_name,
            kubernetes_version=s.kubernetes_version,
            sku=containerservice.ManagedClusterSKUArgs(name="Base", tier=s.sku_tier),
            identity=containerservice.ManagedClusterIdentityArgs(
                type=containerservice.ResourceIdentityType.SYSTEM_ASSIGNED
            ),
            enable_rbac=True,
            # Entra ID for every login, Azure RBAC for every permission.
            aad_profile=containerservice.ManagedClusterAADProfileArgs(
                managed=True,
                enable_azure_rbac=True,
                admin_group_object_ids=list(s.admin_group_object_ids),
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
            network_profile=containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin="azure",
                network_plugin_mode="overlay",
                network_dataplane="azure",
                network_policy=s.network_policy,
                load_balancer_sku="standard",
            ),
            api_server_access_profile=containerservice.ManagedClusterAPIServerAccessProfileArgs(
                authorized_ip_ranges=list(s.authorized_ip_ranges),
            )
            if s.authorized_ip_ranges
            else None,
            agent_pool_profiles=[_system_pool(s.system_pool, s)],
            tags=args.tags,
            opts=pulumi.ResourceOptions.merge(
                keep,
                pulumi.ResourceOptions(
                    # Auto-upgrade moves these outside Pulumi; reverting them would downgrade.
                    ignore_changes=[
                        "kubernetesVersion",
                        "agentPoolProfiles[*].orchestratorVersion",
                        "agentPoolProfiles[*].count",
                    ],
                ),
            ),
        )
        user_pool = containerservice.AgentPool(
            f"{name}-user-pool",
            agent_pool_name=USER_POOL,
            resource_group_name=group.name,
            resource_name_=cluster.name,
            mode="User",
            vm_size=s.user_pool.vm_size,
            count=s.user_pool.count,
            enable_auto_scaling=s.user_pool.autoscaling,
            min_count=s.user_pool.min_count if s.user_pool.autoscaling else None,
            max_count=s.user_pool.max_count if s.user_pool.autoscaling else None,
            availability_zones=list(s.availability_zones) or None,
            os_type="Linux",
            os_sku="AzureLinux",
            type="VirtualMachineScaleSets",
            tags=args.tags,
            opts=pulumi.ResourceOptions.merge(
                keep,
                pulumi.ResourceOptions(
                    # The autoscaler and auto-upgrade own these once the pool exists.
                    ignore_changes=["count", "orchestratorVersion"],
                ),
            ),
        )

        deployer = authorization.get_client_config_output()
        admin_role = authorization.RoleAssignment(
            f"{name}-deployer-cluster-admin",
            principal_id=deployer.object_id,
            role_definition_id=deployer.subscription_id.apply(
                lambda sub: (
                    f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                    f"roleDefinitions/{CLUSTER_ADMIN_ROLE_ID}"
                )
            ),
            scope=cluster.id,
            description="Lets the identity running Pulumi manage everything inside the cluster.",
            opts=pulumi.ResourceOptions(parent=self),
        )

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
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            # Nothing may reach the API server before the deployer can act in it, and workloads
            # need the user pool: the system pool only takes CriticalAddonsOnly pods.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[admin_role, user_pool]),
        )
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


def _system_pool(
    pool: NodePool, s: AksSettings
) -> containerservice.ManagedClusterAgentPoolProfileArgs:
    return containerservice.ManagedClusterAgentPoolProfileArgs(
        name=SYSTEM_POOL,
        mode="System",
        vm_size=pool.vm_size,
        count=pool.count,
        enable_auto_scaling=False,
        availability_zones=list(s.availability_zones) or None,
        os_type="Linux",
        os_sku="AzureLinux",
        type="VirtualMachineScaleSets",
        # Keep the platform's own pods off the system pool; AKS add-ons tolerate this taint.
        node_taints=["CriticalAddonsOnly=true:NoSchedule"],
    )
