"""Cluster layer for the local stack: a provider for an existing cluster's kubeconfig context, no Azure."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from stacks.components.cluster_identity import ClusterIdentity
from stacks.schema.cluster import LocalClusterConfig


@dataclass(frozen=True)
class ExistingClusterArgs:
    settings: LocalClusterConfig
    stack: str
    cluster_uid: str
    """UID of the context's kube-system namespace, read before anything was registered."""


class ExistingCluster(pulumi.ComponentResource):
    """Targets a context of an existing kubeconfig (kind, k3d, minikube or an existing AKS)."""

    provider: k8s.Provider
    kube_context: str
    """The kubeconfig context every layer deploys into."""

    def __init__(
        self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:cluster:ExistingCluster", name, None, opts)
        s = args.settings
        # A re-created cluster behind the same context stops here, before any object is touched.
        identity = ClusterIdentity(
            f"{name}-identity",
            context=s.kube_context,
            kubeconfig=s.kubeconfig_path or None,
            uid=args.cluster_uid,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The provider resolves the file itself ($KUBECONFIG or ~/.kube/config when no path is
        # given): its contents, credentials included, never enter the program or its state.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            context=s.kube_context,
            kubeconfig=s.kubeconfig_path or None,
            # The context names the cluster: a changed kubeconfig (new token, CA) is an update.
            cluster_identifier=f"{args.stack}-{s.kube_context}",
            enable_secret_mutable=True,
            # Adopt what exists instead of failing with AlreadyExists. Only the stack's own
            # objects can exist by then: stacks/cluster/existing_objects.py refused anything else (or
            # leaves it out of the program) before a single resource was registered, so this
            # takes back what an earlier run of this stack kept on destroy (its CRDs).
            upsert_existing_objects=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[identity]),
        )
        self.kube_context = s.kube_context
        self.register_outputs({"kube_context": self.kube_context})
