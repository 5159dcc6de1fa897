"""Config schema, cluster section: AKS settings checked against Azure's and AKS's own rules, and
the local stack's existing cluster."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import StrictBool, ValidationInfo, field_validator, model_validator

from stacks import pins
from stacks.schema import azure_names as names
from stacks.schema import kubernetes_versions as versions
from stacks.schema.azure_regions import region_problem, zone_problem
from stacks.schema.base import AKS_STACKS, Section, setting
from stacks.schema.problems import Rules

KUBERNETES_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
MIN_KUBERNETES = pins.version_text(pins.MIN_KUBERNETES)
VM_SIZE = re.compile(r"^Standard_[A-Za-z0-9_]+$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
UTC_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):(00|30|45)$")
ZONE = re.compile(r"^[123]$")
EGRESS_HINT = (
    "your deployers' public egress addresses as CIDRs, e.g. "
    "`pulumi config set --path 'apiServerAuthorizedIpRanges[0]' \"$(curl -s https://api.ipify.org)/32\"`"
    " (the API server is otherwise open to the whole internet)"
)
REPLACES_CLUSTER = (
    "replaces the cluster, which AKS cannot change in place: dev deletes it and everything in "
    "it, then creates it again; prod refuses the change before anything is touched "
    "(docs/lifecycle.md)"
)
RENAMES_CLUSTER = (
    "creates a new cluster under the new name and deletes the old one with everything in it; "
    "prod's protection stops that (docs/lifecycle.md)"
)
ROTATES_POOLS = "rotates the pool: a new pool first, then the old one drained (docs/lifecycle.md)"


def _kubernetes_version(value: str) -> str | None:
    match = KUBERNETES_VERSION.match(value)
    if match is None:
        example = pins.KUBERNETES_VERSION
        return f"MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. {example} or {example}.2"
    if (int(match[1]), int(match[2])) < pins.MIN_KUBERNETES:
        return f"{MIN_KUBERNETES} or newer (the oldest Kubernetes the pinned Linkerd supports)"
    return None


def _ipv4_cidr(value: str) -> str | None:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return "IPv4 CIDRs like 203.0.113.0/24, with no host bits set"
    return None if network.version == 4 and "/" in value else "IPv4 CIDRs like 203.0.113.0/24"


class MaintenanceWindow(Section):
    """A weekly window in which AKS may upgrade (aksManaged*Schedule maintenance configurations)."""

    day_of_week: Literal[
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
    ] = setting(..., "Day of the week the window opens.")
    start_time: str = setting(
        ..., "When it opens, HH:mm in utcOffset.", pattern=CLOCK_TIME, allowed="HH:mm, e.g. 02:00"
    )
    # AKS: "Length of maintenance window range from 4 to 24 hours."
    duration_hours: int = setting(..., "How long it stays open.", unit="hours", ge=4, le=24)
    utc_offset: str = setting(
        "+00:00",
        "Offset of startTime from UTC.",
        pattern=UTC_OFFSET,
        allowed="+HH:mm or -HH:mm, e.g. +01:00",
    )


class Principal(Section):
    """An Entra ID identity that gets a role, with the type ARM must be told."""

    object_id: str = setting(
        ..., "Entra ID object id.", pattern=GUID, allowed="an Entra ID object id (GUID)"
    )
    principal_type: Literal["User", "Group", "ServicePrincipal"] = setting(
        ..., "What the object is (ServicePrincipal also for managed and workload identities)."
    )


@dataclass(frozen=True)
class NodePool:
    vm_size: str
    count: int
    autoscaling: bool
    min_count: int
    max_count: int


class ClusterConfig(Section):
    """AKS: where and how the cluster runs. Read by dev and prod; the local stack ignores it."""

    location: str = setting(
        "westeurope",
        "Azure public region, lower case without spaces; `az account list-locations -o table` lists them.",
        check=region_problem,
        allowed="an Azure public region's programmatic name, e.g. westeurope",
        stacks=AKS_STACKS,
        on_change=REPLACES_CLUSTER,
        create_only=True,
        example="swedencentral",
    )
    resource_group_name: str = setting(
        "",
        "Resource group to create. Empty means rg-<project>-<stack>.",
        pattern=names.RESOURCE_GROUP,
        allowed=names.RESOURCE_GROUP_RULE,
        stacks=AKS_STACKS,
        on_change=RENAMES_CLUSTER,
        create_only=True,
    )
    cluster_name: str = setting(
        "",
        "AKS cluster name. Empty means aks-<stack> (other characters become -).",
        pattern=names.CLUSTER_NAME,
        allowed=names.CLUSTER_NAME_RULE,
        stacks=AKS_STACKS,
        on_change=RENAMES_CLUSTER,
        create_only=True,
    )
    dns_prefix: str = setting(
        "",
        "DNS prefix of the API server's address. Empty means the cluster name with _ as -.",
        pattern=names.DNS_PREFIX,
        allowed=names.DNS_PREFIX_RULE,
        stacks=AKS_STACKS,
        on_change=REPLACES_CLUSTER,
        create_only=True,
    )
    kubernetes_version: str = setting(
        pins.KUBERNETES_VERSION,
        "MAJOR.MINOR (AKS picks and patches the newest patch); MAJOR.MINOR.PATCH only with "
        "upgradeChannel none or node-image. Raising it upgrades the cluster (not with the "
        "stable/rapid channels, which move it themselves).",
        check=_kubernetes_version,
        allowed=f"MAJOR.MINOR or MAJOR.MINOR.PATCH, {MIN_KUBERNETES} or newer",
        stacks=AKS_STACKS,
    )
    sku_tier: Literal["Free", "Standard", "Premium"] = setting(
        "Free",
        "AKS control-plane tier: Free (no SLA), Standard (uptime SLA) or Premium. prod needs "
        "Standard or Premium.",
        stacks=AKS_STACKS,
    )
    system_node_vm_size: str = setting(
        "Standard_D2s_v5",
        "VM size of the system pool (tainted CriticalAddonsOnly, runs only AKS add-ons).",
        pattern=VM_SIZE,
        allowed="an Azure VM size like Standard_D2s_v5",
        stacks=AKS_STACKS,
        on_change=ROTATES_POOLS,
    )
    system_node_count: int = setting(
        1, "Nodes in the system pool.", unit="nodes", ge=1, le=100, stacks=AKS_STACKS
    )
    node_vm_size: str = setting(
        "Standard_D4s_v5",
        "VM size of the user pool that runs the mesh, telemetry, Flagger and workloads.",
        pattern=VM_SIZE,
        allowed="an Azure VM size like Standard_D4s_v5",
        stacks=AKS_STACKS,
        on_change=ROTATES_POOLS,
    )
    node_count: int = setting(
        2,
        "Nodes in the user pool; with autoscaling only a new pool's first count (the "
        "autoscaler's count is kept).",
        unit="nodes",
        ge=1,
        le=1000,
        stacks=AKS_STACKS,
    )
    autoscaling: StrictBool = setting(
        False,
        "Let the cluster autoscaler size the user pool between nodeMinCount and nodeMaxCount.",
        stacks=AKS_STACKS,
    )
    node_min_count: int = setting(
        2,
        "Autoscaler lower bound for the user pool.",
        unit="nodes",
        ge=1,
        le=1000,
        stacks=AKS_STACKS,
    )
    node_max_count: int = setting(
        5,
        "Autoscaler upper bound for the user pool, at least nodeMinCount.",
        unit="nodes",
        ge=1,
        le=1000,
        stacks=AKS_STACKS,
    )
    availability_zones: tuple[str, ...] = setting(
        (),
        'Availability zones for both pools, e.g. ["1","2","3"]. Empty means no zone pinning.',
        pattern=ZONE,
        allowed='zone numbers "1", "2" or "3", in a region that has zones',
        stacks=AKS_STACKS,
        on_change="rotates both pools: new pools first, then the old ones drained "
        "(docs/lifecycle.md)",
    )
    upgrade_channel: Literal["none", "patch", "stable", "rapid", "node-image"] = setting(
        "patch", "Kubernetes auto-upgrade channel.", stacks=AKS_STACKS
    )
    node_os_upgrade_channel: Literal["None", "Unmanaged", "NodeImage", "SecurityPatch"] = setting(
        "NodeImage", "Node OS upgrade channel.", stacks=AKS_STACKS
    )
    auto_upgrade_window: MaintenanceWindow = setting(
        MaintenanceWindow(day_of_week="Saturday", start_time="02:00", duration_hours=4),
        "Weekly window for the upgradeChannel's upgrades (aksManagedAutoUpgradeSchedule).",
        stacks=AKS_STACKS,
    )
    node_os_upgrade_window: MaintenanceWindow = setting(
        MaintenanceWindow(day_of_week="Sunday", start_time="02:00", duration_hours=4),
        "Weekly window for node image upgrades (aksManagedNodeOSUpgradeSchedule).",
        stacks=AKS_STACKS,
    )
    network_policy: Literal["calico", "azure"] = setting(
        "calico",
        "Network policy engine (cilium needs the Cilium dataplane, which bypasses Linkerd's "
        "traffic split).",
        stacks=AKS_STACKS,
        on_change=REPLACES_CLUSTER,
        create_only=True,
    )
    authorized_ip_ranges: tuple[str, ...] = setting(
        (),
        'IPv4 CIDRs allowed to reach the API server, e.g. ["203.0.113.0/24"]. Empty means any '
        "address (refused in prod).",
        check=_ipv4_cidr,
        allowed="IPv4 CIDRs like 203.0.113.0/24, with no host bits set",
        stacks=AKS_STACKS,
        alias="apiServerAuthorizedIpRanges",
    )
    disable_local_accounts: StrictBool = setting(
        True,
        "Turn off static admin credentials so every login goes through Entra ID. Must be true "
        "in prod.",
        stacks=AKS_STACKS,
    )
    deployer_principal_type: Literal["User", "ServicePrincipal"] = setting(
        "User",
        "Who runs `pulumi up`: User (a person's az login) or ServicePrincipal (CI with a secret "
        "or OIDC, managed or workload identity). The first deployer becomes cluster admin.",
        stacks=AKS_STACKS,
    )
    cluster_admins: tuple[Principal, ...] = setting(
        (),
        "More cluster admins besides the first deployer.",
        stacks=AKS_STACKS,
        example=[{"objectId": "<Entra ID object id>", "principalType": "Group"}],
    )
    container_registry: str = setting(
        "",
        "Resource id of an existing Azure Container Registry the cluster pulls private images "
        "from (AcrPull for its kubelet identity). Empty means none.",
        pattern=names.CONTAINER_REGISTRY_ID,
        allowed="an Azure Container Registry resource id, /subscriptions/<id>/resourceGroups/"
        "<rg>/providers/Microsoft.ContainerRegistry/registries/<name>",
        stacks=AKS_STACKS,
    )
    allow_destroy: StrictBool = setting(
        False,
        "prod only: true lifts, at the next `pulumi up`, the protection of the cluster, its "
        "resource group and the teardown guard (and disarms its lock), so `pulumi destroy` can "
        "delete the stack; a create-only change then replaces the cluster. Warned about on every "
        "run; set it back to false and run `pulumi up` to protect prod again.",
        stacks=AKS_STACKS,
    )
    kubelogin_mode: Literal["azurecli", "workloadidentity", "spn", "msi"] = setting(
        "azurecli",
        "How the exported kubeconfig logs in without a prompt.",
        stacks=AKS_STACKS,
    )

    @model_validator(mode="before")
    @classmethod
    def _derived_names(cls, data: Any, info: ValidationInfo) -> Any:
        """Empty names are derived from the project and stack (azure_names.py)."""
        if not isinstance(data, dict) or not info.context:
            return data
        project, stack = info.context["project"], info.context["stack"]
        data = dict(data)
        if not data.get("resourceGroupName"):
            data["resourceGroupName"] = names.default_resource_group(project, stack)
        if not data.get("clusterName"):
            data["clusterName"] = names.default_cluster_name(stack)
        if not data.get("dnsPrefix") and isinstance(data["clusterName"], str):
            data["dnsPrefix"] = names.dns_prefix_for(data["clusterName"])
        return data

    @field_validator("kubernetes_version")
    @classmethod
    def _still_supported(cls, version: str, info: ValidationInfo) -> str:
        """Past AKS's standard support, AKS upgrades the cluster by itself: a warning."""
        context = info.context or {}
        support = versions.aks_support(version)
        today: date = context.get("today") or date.today()
        if support is not None and today > support.end_of_standard_support:
            context.setdefault("warnings", []).append(
                f"kubernetesVersion: AKS standard support for Kubernetes {support.minor} ended on "
                f"{support.end_of_standard_support.isoformat()} (table of "
                f"{versions.AKS_TABLE_DATE}); AKS upgrades such clusters by itself. Move to "
                f"{versions.newest_supported(today)} (`az aks get-versions --location <region>` "
                "lists what your region offers)."
            )
        return version

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> ClusterConfig:
        rules = Rules(info)
        prod = rules.context.get("environment") == "prod"
        if prod and rules.valid("skuTier") and self.sku_tier == "Free":
            rules.refuse(
                "skuTier",
                self.sku_tier,
                "Standard or Premium when environment is prod (uptime SLA)",
            )
        if prod and rules.valid("disableLocalAccounts") and not self.disable_local_accounts:
            rules.refuse(
                "disableLocalAccounts",
                False,
                "true when environment is prod (static admin credentials bypass Entra ID)",
            )
        ranges = "apiServerAuthorizedIpRanges"
        if prod and rules.valid(ranges) and not self.authorized_ip_ranges:
            rules.refuse(ranges, [], f"in prod, {EGRESS_HINT}")
        version = self.kubernetes_version
        patched = self.upgrade_channel in ("patch", "stable", "rapid")
        if (
            rules.valid("kubernetesVersion", "upgradeChannel")
            and version.count(".") == 2
            and patched
        ):
            # AKS would move the patch on its own and Pulumi would then try to undo it.
            rules.refuse(
                "kubernetesVersion",
                version,
                f"MAJOR.MINOR with upgradeChannel {self.upgrade_channel} (AKS picks and upgrades "
                f"the patch), e.g. {version.rsplit('.', 1)[0]}",
            )
        zones = "availabilityZones"
        if rules.valid("location", zones) and (
            wrong := zone_problem(self.location, self.availability_zones)
        ):
            # Else AKS refuses the cluster (AvailabilityZoneNotSupported) after the group exists.
            rules.refuse(zones, list(self.availability_zones), wrong)
        if prod and self.allow_destroy:
            rules.context.setdefault("warnings", []).append(
                "allowDestroy: true: this `pulumi up` lifts the protection of the cluster, its "
                "resource group and the teardown guard; `pulumi destroy` then deletes the whole "
                "stack, and a create-only change replaces the cluster. Set it back to false and "
                "run `pulumi up` to protect it again."
            )
        counts = ("autoscaling", "nodeCount", "nodeMinCount", "nodeMaxCount")
        if self.autoscaling and rules.valid(*counts):
            low, high = self.node_min_count, self.node_max_count
            if low > high:
                rules.refuse("nodeMinCount", low, f"at most nodeMaxCount ({high})")
            elif not low <= self.node_count <= high:
                rules.refuse(
                    "nodeCount",
                    self.node_count,
                    f"between nodeMinCount and nodeMaxCount ({low}-{high})",
                )
        rules.done(self)
        return self

    @property
    def system_pool(self) -> NodePool:
        count = self.system_node_count
        return NodePool(self.system_node_vm_size, count, False, count, count)

    @property
    def user_pool(self) -> NodePool:
        return NodePool(
            self.node_vm_size,
            self.node_count,
            self.autoscaling,
            self.node_min_count,
            self.node_max_count,
        )

    @property
    def version_follows_channel(self) -> bool:
        """The stable and rapid channels move the minor version outside Pulumi."""
        return self.upgrade_channel in ("stable", "rapid")


class LocalClusterConfig(Section):
    """The local stack: an existing cluster reached through a kubeconfig context, no Azure."""

    kube_context: str = setting(
        "",
        "The kubeconfig context to deploy into (e.g. kind-kind). Required when environment is "
        "local.",
        stacks=("local",),
    )
    kubeconfig_path: str = setting(
        "", "Kubeconfig file to read. Empty means $KUBECONFIG or ~/.kube/config.", stacks=("local",)
    )
    # Readers take the file or None: the Kubernetes client treats "" as a file that holds no
    # configuration, and ClusterIdentity's state has held None for an unset path since it exists.

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> LocalClusterConfig:
        rules = Rules(info)
        if rules.valid("kubeContext") and not self.kube_context.strip():
            rules.refuse(
                "kubeContext", self.kube_context, "the name of a context in your kubeconfig"
            )
        rules.done(self)
        return self
