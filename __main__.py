"""The platform's table of contents: validated settings, then each layer in dependency order."""

import pulumi

from stacks import config
from stacks.cluster import AksCluster, AksClusterArgs
from stacks.existing_cluster import ExistingCluster, ExistingClusterArgs

settings = config.load()
tags = {"project": settings.project, "stack": settings.stack, "managed-by": "pulumi"}

if settings.aks is not None:
    cluster = AksCluster("cluster", AksClusterArgs(settings=settings.aks, tags=tags))
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("resourceGroupName", cluster.resource_group_name)
    pulumi.export("oidcIssuerUrl", cluster.oidc_issuer_url)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("getCredentials", cluster.credentials_command)
    provider = cluster.provider
else:
    assert settings.local is not None
    existing = ExistingCluster("cluster", ExistingClusterArgs(settings=settings.local))
    pulumi.export("kubeContext", existing.kube_context)
    provider = existing.provider
