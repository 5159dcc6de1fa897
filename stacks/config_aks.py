"""Config, cluster section: AKS settings checked against Azure's and AKS's own rules.

Part of stacks/config.py (the only reader of stack config); split out because Azure has the most
rules: names, regions, Kubernetes versions AKS serves, principal types, maintenance windows.
"""

from __future__ import annotations

from datetime import date

from stacks import azure_names as names
from stacks import validators as v
from stacks import versions
from stacks.azure_regions import region_problem, zone_problem
from stacks.config_reader import Reader
from stacks.config_record import Record, record, records
from stacks.settings import (
    AksSettings,
    LocalClusterSettings,
    MaintenanceWindow,
    NodePool,
    Principal,
)

UPGRADE_CHANNELS = ("none", "patch", "stable", "rapid", "node-image")
NODE_OS_UPGRADE_CHANNELS = ("None", "Unmanaged", "NodeImage", "SecurityPatch")
SKU_TIERS = ("Free", "Standard", "Premium")
NETWORK_POLICIES = ("calico", "azure")
KUBELOGIN_MODES = ("azurecli", "workloadidentity", "spn", "msi")
# Who runs `pulumi up`: a person (az login) or anything else Entra ID calls a service principal
# (app registration with a secret or OIDC federation, managed identity, workload identity).
DEPLOYER_TYPES = ("User", "ServicePrincipal")
ADMIN_TYPES = ("User", "Group", "ServicePrincipal")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EGRESS_HINT = (
    "your deployers' public egress addresses as CIDRs, e.g. "
    "`pulumi config set --path 'apiServerAuthorizedIpRanges[0]' \"$(curl -s https://api.ipify.org)/32\"`"
    " (the API server is otherwise open to the whole internet)"
)


def read_aks(r: Reader, project: str, stack: str, environment: str, today: date) -> AksSettings:
    prod = environment == "prod"
    cluster_name = r.text(
        "clusterName", pattern=names.CLUSTER_NAME, allowed=names.CLUSTER_NAME_RULE, empty_ok=True
    ) or names.default_cluster_name(stack)
    dns_prefix = r.text(
        "dnsPrefix", pattern=names.DNS_PREFIX, allowed=names.DNS_PREFIX_RULE, empty_ok=True
    ) or names.dns_prefix_for(cluster_name)
    upgrade_channel = r.choice("upgradeChannel", UPGRADE_CHANNELS)
    sku_tier = r.choice("skuTier", SKU_TIERS)
    if prod and sku_tier == "Free":
        r.problem("skuTier", sku_tier, "Standard or Premium when environment is prod (uptime SLA)")
    disable_local_accounts = r.flag("disableLocalAccounts")
    if prod and not disable_local_accounts:
        r.problem(
            "disableLocalAccounts",
            disable_local_accounts,
            "true when environment is prod (static admin credentials bypass Entra ID)",
        )
    allow_destroy = _allow_destroy(r, prod)
    authorized_ip_ranges = r.texts("apiServerAuthorizedIpRanges", each=v.ipv4_cidr)
    if prod and not authorized_ip_ranges and not r.has_problem("apiServerAuthorizedIpRanges"):
        r.problem("apiServerAuthorizedIpRanges", [], f"in prod, {EGRESS_HINT}")
    location = r.check("location", region_problem)
    zones = r.texts("availabilityZones", each=v.zone)
    if not r.has_problem("location", "availabilityZones"):
        # Else AKS refuses the cluster (AvailabilityZoneNotSupported) after the group was created.
        wrong = zone_problem(location, zones)
        if wrong:
            r.problem("availabilityZones", list(zones), wrong)
    return AksSettings(
        location=location,
        resource_group_name=r.text(
            "resourceGroupName",
            pattern=names.RESOURCE_GROUP,
            allowed=names.RESOURCE_GROUP_RULE,
            empty_ok=True,
        )
        or names.default_resource_group(project, stack),
        cluster_name=cluster_name,
        dns_prefix=dns_prefix,
        kubernetes_version=_kubernetes_version(r, upgrade_channel, today),
        sku_tier=sku_tier,
        system_pool=_system_pool(r),
        user_pool=_user_pool(r),
        availability_zones=zones,
        upgrade_channel=upgrade_channel,
        node_os_upgrade_channel=r.choice("nodeOsUpgradeChannel", NODE_OS_UPGRADE_CHANNELS),
        auto_upgrade_window=_window(record(r, "autoUpgradeWindow")),
        node_os_upgrade_window=_window(record(r, "nodeOsUpgradeWindow")),
        network_policy=r.choice("networkPolicy", NETWORK_POLICIES),
        authorized_ip_ranges=authorized_ip_ranges,
        disable_local_accounts=disable_local_accounts,
        deployer_principal_type=r.choice("deployerPrincipalType", DEPLOYER_TYPES),
        cluster_admins=tuple(_principal(admin) for admin in records(r, "clusterAdmins")),
        container_registry=r.text(
            "containerRegistry",
            pattern=names.CONTAINER_REGISTRY_ID,
            allowed="an Azure Container Registry resource id, /subscriptions/<id>/resourceGroups/"
            "<rg>/providers/Microsoft.ContainerRegistry/registries/<name>",
            empty_ok=True,
        )
        or None,
        kubelogin_mode=r.choice("kubeloginMode", KUBELOGIN_MODES),
        protect=prod and not allow_destroy,
    )


def _allow_destroy(r: Reader, prod: bool) -> bool:
    """allowDestroy: prod's protection lifted at this `pulumi up` (stacks/components/teardown.py)."""
    allowed = r.flag("allowDestroy")
    if allowed and prod:
        r.warn(
            "allowDestroy",
            "true: this `pulumi up` lifts the protection of the cluster, its resource group and "
            "the teardown guard; `pulumi destroy` then deletes the whole stack, and a create-only "
            "change replaces the cluster. Set it back to false and run `pulumi up` to protect it "
            "again.",
        )
    return allowed


def read_local(r: Reader) -> LocalClusterSettings:
    context = r.text("kubeContext", allowed="the name of a context in your kubeconfig")
    return LocalClusterSettings(
        kube_context=context,
        kubeconfig_path=r.text("kubeconfigPath", allowed="a file path", empty_ok=True) or None,
    )


def _kubernetes_version(r: Reader, upgrade_channel: str, today: date) -> str:
    version = r.check("kubernetesVersion", v.kubernetes_version)
    if r.has_problem("kubernetesVersion"):
        return version
    if version.count(".") == 2 and upgrade_channel in ("patch", "stable", "rapid"):
        # AKS would move the patch on its own and Pulumi would then try to undo it.
        r.problem(
            "kubernetesVersion",
            version,
            f"MAJOR.MINOR with upgradeChannel {upgrade_channel} (AKS picks and upgrades the "
            f"patch), e.g. {version.rsplit('.', 1)[0]}",
        )
    support = versions.aks_support(version)
    if support is not None and today > support.end_of_standard_support:
        r.warn(
            "kubernetesVersion",
            f"AKS standard support for Kubernetes {support.minor} ended on "
            f"{support.end_of_standard_support.isoformat()} (table of {versions.AKS_TABLE_DATE}); "
            f"AKS upgrades such clusters by itself. Move to {versions.newest_supported(today)} "
            "(`az aks get-versions --location <region>` lists what your region offers).",
        )
    return version


def _user_pool(r: Reader) -> NodePool:
    pool = NodePool(
        vm_size=r.text(
            "nodeVmSize", pattern=v.VM_SIZE, allowed="an Azure VM size like Standard_D4s_v5"
        ),
        count=r.integer("nodeCount", minimum=1, maximum=1000),
        autoscaling=r.flag("autoscaling"),
        min_count=r.integer("nodeMinCount", minimum=1, maximum=1000),
        max_count=r.integer("nodeMaxCount", minimum=1, maximum=1000),
    )
    if not pool.autoscaling or r.has_problem("nodeCount", "nodeMinCount", "nodeMaxCount"):
        return pool
    if pool.min_count > pool.max_count:
        r.problem("nodeMinCount", pool.min_count, f"at most nodeMaxCount ({pool.max_count})")
    elif not pool.min_count <= pool.count <= pool.max_count:
        r.problem(
            "nodeCount",
            pool.count,
            f"between nodeMinCount and nodeMaxCount ({pool.min_count}-{pool.max_count})",
        )
    return pool


def _system_pool(r: Reader) -> NodePool:
    count = r.integer("systemNodeCount", minimum=1, maximum=100)
    return NodePool(
        vm_size=r.text(
            "systemNodeVmSize", pattern=v.VM_SIZE, allowed="an Azure VM size like Standard_D2s_v5"
        ),
        count=count,
        autoscaling=False,
        min_count=count,
        max_count=count,
    )


def _window(fields: Record) -> MaintenanceWindow:
    window = MaintenanceWindow(
        day_of_week=fields.choice("dayOfWeek", WEEKDAYS),
        start_time=fields.text("startTime", pattern=v.CLOCK_TIME, allowed="HH:mm, e.g. 02:00"),
        # AKS: "Length of maintenance window range from 4 to 24 hours."
        duration_hours=fields.integer("durationHours", minimum=4, maximum=24),
        utc_offset=fields.text(
            "utcOffset",
            pattern=v.UTC_OFFSET,
            allowed="+HH:mm or -HH:mm, e.g. +01:00",
            default="+00:00",
        ),
    )
    fields.done()
    return window


def _principal(fields: Record) -> Principal:
    principal = Principal(
        object_id=fields.text("objectId", pattern=v.GUID, allowed="an Entra ID object id (GUID)"),
        principal_type=fields.choice("principalType", ADMIN_TYPES),
    )
    fields.done()
    return principal
