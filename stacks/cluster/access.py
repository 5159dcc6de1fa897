"""Cluster layer, access: who may act inside the cluster, and a wait until that has taken effect.

With Entra ID and Azure RBAC every Kubernetes request is authorised by Azure role assignments.
The identity that first creates the cluster gets "Azure Kubernetes Service RBAC Cluster Admin" and
keeps it when another identity runs `pulumi up` later (a CI run and a person's run never take each
other's access away); config `clusterAdmins` adds further people, groups or service principals.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, containerservice

from stacks.components.access_wait import AccessWait
from stacks.schema.cluster import ClusterConfig, Principal

# Built-in role "Azure Kubernetes Service RBAC Cluster Admin": full access to every namespace.
CLUSTER_ADMIN_ROLE = "Azure Kubernetes Service RBAC Cluster Admin"
CLUSTER_ADMIN_ROLE_ID = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
# Built-in role "AcrPull": pull images from a container registry.
ACR_PULL_ROLE_ID = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


def cluster_access(
    name: str,
    s: ClusterConfig,
    cluster: containerservice.ManagedCluster,
    kubeconfig: pulumi.Output[str],
    parent: pulumi.Resource,
    with_cluster: pulumi.ResourceOptions,
) -> AccessWait:
    """Role assignments for the deployer and clusterAdmins, and the wait until they apply.

    The grants on the cluster and the wait go with the cluster (`with_cluster`: deleted_with):
    `pulumi destroy` does not revoke them one by one first, and a replaced cluster gets them
    anew (Pulumi CLI 3.260+ replaces what is deleted_with a replaced resource). AcrPull lives on
    the registry, which outlives the cluster: it is revoked on its own.
    """
    caller = authorization.get_client_config_output()
    role = caller.subscription_id.apply(
        lambda sub: (
            f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
            f"roleDefinitions/{CLUSTER_ADMIN_ROLE_ID}"
        )
    )
    deployer = authorization.RoleAssignment(
        f"{name}-deployer-cluster-admin",
        principal_id=caller.object_id,
        # ARM checks the type against the principal: the SDK's default, User, is refused for a
        # service principal or managed identity (UnmatchedPrincipalType).
        principal_type=s.deployer_principal_type,
        role_definition_id=role,
        scope=cluster.id,
        description="The identity that created the cluster manages everything inside it.",
        # Whoever runs `pulumi up` later must not take this grant over (replacing it would
        # remove the creator's access): the first deployer keeps it.
        opts=pulumi.ResourceOptions.merge(
            with_cluster, pulumi.ResourceOptions(ignore_changes=["principalId", "principalType"])
        ),
    )
    admins = [
        _admin(f"{name}-admin-{admin.object_id}", admin, role, cluster, with_cluster)
        for admin in s.cluster_admins
    ]
    if s.container_registry:
        _registry_pull(name, s.container_registry, cluster, parent)
    return AccessWait(
        f"{name}-access",
        kubeconfig=kubeconfig,
        grants=[grant.id for grant in (deployer, *admins)],
        principal=caller.object_id,
        role=CLUSTER_ADMIN_ROLE,
        authorized_ip_ranges=s.authorized_ip_ranges,
        opts=with_cluster,
    )


def _admin(
    name: str,
    admin: Principal,
    role: pulumi.Input[str],
    cluster: containerservice.ManagedCluster,
    with_cluster: pulumi.ResourceOptions,
) -> authorization.RoleAssignment:
    return authorization.RoleAssignment(
        name,
        principal_id=admin.object_id,
        principal_type=admin.principal_type,
        role_definition_id=role,
        scope=cluster.id,
        description="A cluster administrator from the stack's clusterAdmins.",
        opts=with_cluster,
    )


def _registry_pull(
    name: str,
    registry_id: str,
    cluster: containerservice.ManagedCluster,
    parent: pulumi.Resource,
) -> authorization.RoleAssignment:
    """AcrPull for the kubelet's identity: nodes pull private images without a pull secret.
    The registry may live in another subscription: the role is named in the registry's."""
    subscription = registry_id.split("/")[2]
    kubelet = cluster.identity_profile.apply(
        lambda profile: profile["kubeletidentity"].object_id if profile else ""
    )
    return authorization.RoleAssignment(
        f"{name}-acr-pull",
        principal_id=kubelet,
        principal_type="ServicePrincipal",  # a managed identity
        role_definition_id=(
            f"/subscriptions/{subscription}/providers/Microsoft.Authorization/"
            f"roleDefinitions/{ACR_PULL_ROLE_ID}"
        ),
        scope=registry_id,
        description="The cluster's kubelet pulls the services' images from this registry.",
        opts=pulumi.ResourceOptions(parent=parent),
    )
