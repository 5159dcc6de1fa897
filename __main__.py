"""The platform's table of contents: validated settings, then each layer in dependency order."""

import pulumi

from stacks import config, workload
from stacks.cluster import AksCluster, AksClusterArgs
from stacks.delivery import Delivery, DeliveryArgs
from stacks.existing_cluster import ExistingCluster, ExistingClusterArgs
from stacks.mesh import Mesh, MeshArgs
from stacks.telemetry import PROMETHEUS_URL, Telemetry, TelemetryArgs
from stacks.workload import Workload, WorkloadArgs

# 0. Everything is checked before anything is created: config values, then the workload's names.
settings = config.load()
podinfo_manifests = workload.prepare(settings.workload, settings.delivery, PROMETHEUS_URL)
tags = {"project": settings.project, "stack": settings.stack, "managed-by": "pulumi"}

# 1. Cluster: a hardened AKS cluster, or an existing cluster's context for the local stack.
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

# Every Kubernetes object below goes through this one provider.
in_cluster = pulumi.ResourceOptions(providers=[provider])

# 2. Mesh: Gateway API CRDs, Linkerd identity, CRDs and control plane.
mesh = Mesh("mesh", MeshArgs(settings=settings.mesh), opts=in_cluster)
pulumi.export("trustAnchorExpiry", mesh.trust_anchor_expiry)

# 3. Telemetry: Prometheus and Grafana in parallel with the mesh; linkerd-viz after it.
telemetry = Telemetry(
    "telemetry",
    TelemetryArgs(
        settings=settings.telemetry,
        mesh=settings.mesh,
        linkerd_namespace=mesh.namespace,
        mesh_ready=mesh.control_plane,
    ),
    opts=in_cluster,
)
pulumi.export("prometheusUrl", telemetry.prometheus_url)
pulumi.export("grafanaAdminPassword", telemetry.grafana_admin_password)
pulumi.export("openDashboards", telemetry.dashboard_commands)

# 4. Delivery: Flagger, meshed, reading the telemetry layer's Prometheus.
delivery = Delivery(
    "delivery",
    DeliveryArgs(
        settings=settings.delivery,
        prometheus_url=telemetry.prometheus_url,
        cluster_name=settings.stack,
        mesh_ready=mesh.control_plane,
    ),
    opts=in_cluster,
)

# 5. Workload: podinfo under a Canary; changing podinfoVersion starts a release.
podinfo = Workload(
    "workload",
    WorkloadArgs(
        settings=settings.workload,
        delivery=settings.delivery,
        manifests=podinfo_manifests,
        mesh_ready=mesh.control_plane,
        flagger=delivery.flagger,
    ),
    opts=in_cluster,
)
pulumi.export("workloadNamespace", settings.workload.namespace)
pulumi.export("rolloutPlan", podinfo.rollout_plan)
