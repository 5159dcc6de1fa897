"""The platform's table of contents: validated settings, then each layer in dependency order."""

import pulumi

from stacks import config
from stacks.cluster import AksCluster, AksClusterArgs, create_only, existing_objects, live
from stacks.cluster.existing import ExistingCluster, ExistingClusterArgs
from stacks.components.ownership import owned_by, owner_id
from stacks.components.teardown import GUARD_NAME, TeardownGuard, deleted_with
from stacks.delivery import Delivery, DeliveryArgs
from stacks.mesh.layer import Mesh, MeshArgs
from stacks.services import layer as services
from stacks.services.layer import Services, ServicesArgs
from stacks.telemetry.layer import PROMETHEUS_URL, Telemetry, TelemetryArgs

# 0. Everything is checked before anything is created: config values, then the services' names.
settings = config.load()
rendered = services.prepare(settings.services, settings.delivery, PROMETHEUS_URL)
tags = {"project": settings.project, "stack": settings.stack, "managed-by": "pulumi"}
owner = owner_id(settings.project, settings.stack)

# 1. Cluster: a hardened AKS cluster, or an existing cluster's context for the local stack.
#    What already runs there is read first: a create-only change is refused (prod) or announced
#    as a replacement (dev); on a shared cluster, what another installation owns is refused or
#    left alone. Nothing is registered before these checks pass.
if settings.cluster is not None:
    running = live.observe(settings.cluster)
    replacing = create_only.check(
        settings.project, settings.stack, settings.cluster, running, settings.protect
    )
    cluster = AksCluster(
        "cluster",
        AksClusterArgs(
            settings=settings.cluster,
            project=settings.project,
            stack=settings.stack,
            tags=tags,
            live=running,
            replacing=replacing,
            protect=settings.protect,
        ),
    )
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("resourceGroupName", cluster.resource_group_name)
    pulumi.export("oidcIssuerUrl", cluster.oidc_issuer_url)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("getCredentials", cluster.credentials_command)
    # Every Kubernetes object below goes through this one provider, and goes with the cluster.
    in_cluster = pulumi.ResourceOptions(
        providers=[cluster.provider],
        transformations=[deleted_with(cluster.managed_cluster), owned_by(owner)],
    )
    keep_gateway_api = False
    layers: list[pulumi.Resource] = [cluster]
    cluster_label = settings.cluster.cluster_name
else:
    assert settings.local is not None
    inventory, found = existing_objects.check(settings, owner)
    existing = ExistingCluster(
        "cluster",
        ExistingClusterArgs(
            settings=settings.local, stack=settings.stack, cluster_uid=inventory.cluster_uid
        ),
    )
    pulumi.export("kubeContext", existing.kube_context)
    # The cluster outlives the stack: objects are deleted one by one, shared CRDs kept.
    in_cluster = pulumi.ResourceOptions(
        providers=[existing.provider], transformations=[owned_by(owner)]
    )
    keep_gateway_api = found.keep_gateway_api
    layers = [existing]
    cluster_label = settings.local.kube_context
shared_cluster = settings.local is not None

# 2. Mesh: cert-manager, Gateway API CRDs, Linkerd identity, CRDs and control plane.
mesh = Mesh(
    "mesh",
    MeshArgs(
        settings=settings.mesh, shared_cluster=shared_cluster, keep_gateway_api=keep_gateway_api
    ),
    opts=in_cluster,
)
pulumi.export("trustAnchorExpiry", mesh.anchor_expiries[settings.mesh.issuer_anchor_generation])
pulumi.export("trustAnchors", {f"generation {g}": t for g, t in mesh.anchor_expiries.items()})

# 3. Telemetry: Prometheus and Grafana in parallel with the mesh; linkerd-viz after it.
telemetry = Telemetry(
    "telemetry",
    TelemetryArgs(
        settings=settings.telemetry,
        alerting=settings.alerting,
        zone_redundant_storage=settings.zone_redundant_storage,
        mesh=settings.mesh,
        linkerd_namespace=mesh.namespace,
        mesh_ready=mesh.control_plane,
        cert_manager=mesh.cert_manager,
        anchor_expiries=mesh.anchor_expiries,
        canaries=services.watches(settings.services),
        check_thresholds=services.threshold_rules(rendered),
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
        shared_cluster=shared_cluster,
        mesh_ready=mesh.control_plane,
    ),
    opts=in_cluster,
)

# 5. Services: each declared service under a Canary; changing its version releases it.
released = Services(
    "services",
    ServicesArgs(
        services=settings.services,
        rendered=rendered,
        delivery=settings.delivery,
        mesh_ready=mesh.control_plane,
        flagger=delivery.flagger,
    ),
    opts=in_cluster,
)
pulumi.export("services", released.summary)

# 6. Teardown guard: deleted first by `pulumi destroy`; where the cluster is protected (prod,
#    unless allowDestroy), it stops the destroy before anything is deleted or dropped from state.
TeardownGuard(
    GUARD_NAME,
    protect=settings.protect,
    stack=settings.stack,
    cluster=cluster_label,
    layers=[*layers, mesh, telemetry, delivery, released],
)
