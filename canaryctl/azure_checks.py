"""doctor's Azure checks (dev, prod): login, Kubernetes version, capacity, providers, rights, egress.

All but the egress check go through the az CLI, which holds the login `pulumi up` and kubelogin
use too. docs/doctor.md describes each check, the az command behind it and its fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from canaryctl import azure_capacity, azure_rights, egress
from canaryctl.az import Az, az_json
from canaryctl.tools import Runner, ToolFailed

if TYPE_CHECKING:
    from canaryctl.preflight import Found, Report, StackFacts

LOGIN, VERSION, PROVIDERS = "azure login", "kubernetes version", "resource providers"
CHECKS = (
    LOGIN,
    VERSION,
    azure_capacity.SIZES,
    azure_capacity.QUOTA,
    PROVIDERS,
    azure_rights.ROLE_ASSIGNMENTS,
    azure_rights.RESOURCES,
    egress.EGRESS,
)
# The namespaces of what `pulumi up` creates (stacks/cluster/): the cluster, its pools and
# maintenance windows (Microsoft.ContainerService); and of what AKS then creates in its node
# resource group with the cluster's identity (AKS docs, aks-service-permissions.md): scale sets
# and disks (Microsoft.Compute), the load balancer, public IPs, NSG and VNet (Microsoft.Network),
# storage accounts for Azure Files and Disks (Microsoft.Storage), the kubelet's managed identity
# (Microsoft.ManagedIdentity). Not listed: Microsoft.Resources (the resource group) and
# Microsoft.Authorization (role assignments), which Azure registers on every subscription
# ("Registered by default", azure-services-resource-providers.md). pulumi-azure-native does not
# register providers itself (pulumi-azure-native#3479): ARM answers MissingSubscriptionRegistration.
PROVIDER_NAMESPACES = (
    "Microsoft.ContainerService",
    "Microsoft.Compute",
    "Microsoft.Network",
    "Microsoft.Storage",
    "Microsoft.ManagedIdentity",
)


def run(
    report: Report, runner: Runner, found: Found | None, facts: StackFacts, lookup: egress.Egress
) -> None:
    if found is None:
        for name in CHECKS[:-1]:
            report.add("SKIP", name, "needs az (see above)")
    else:
        az = _login(report, runner, found.path, facts)
        if az is None:
            for name in CHECKS[1:-1]:
                report.add("SKIP", name, "needs `az login`")
        else:
            _version(report, az, facts)
            group_exists = _group_exists(az, facts)
            azure_capacity.run(report, az, facts, group_exists)
            _providers(report, az)
            azure_rights.run(report, az, facts, group_exists)
    egress.check(report, facts, lookup)


def _login(report: Report, runner: Runner, path: str, facts: StackFacts) -> Az | None:
    """Check az's login; az pointed at the subscription the stack will use, or None."""
    try:
        account = az_json(runner, path, "account", "show")
    except ToolFailed as error:
        report.add("FAIL", LOGIN, f"az is not logged in ({error})", _login_fix(facts))
        return None
    sub_id, name = str(account.get("id") or ""), str(account.get("name") or "")
    user = account.get("user") or {}
    who = user.get("name") or "(unknown user)"
    current = f"{name} ({sub_id})"
    if facts.subscription_secret:
        report.add(
            "PASS",
            LOGIN,
            f"{who}, subscription {current}; the stack's {facts.subscription_source} is not "
            "compared (`pulumi config get azure-native:subscriptionId` shows it)",
        )
    elif facts.subscription is None:
        report.add(
            "PASS",
            LOGIN,
            f"{who}; the stack will use az's default subscription {current} (pin it with "
            "`pulumi config set azure-native:subscriptionId <id>`)",
        )
    elif sub_id.lower() != facts.subscription.lower():
        report.add(
            "FAIL",
            LOGIN,
            f"{who} uses subscription {current}, but the stack deploys to "
            f"{facts.subscription} ({facts.subscription_source})",
            f"`az account set --subscription {facts.subscription}` (or change "
            f"{facts.subscription_source.split(' in ')[0]})",
        )
        # The other checks look where the stack deploys.
        return Az(runner, path, facts.subscription, user)
    else:
        report.add("PASS", LOGIN, f"{who}, subscription {current} ({facts.subscription_source})")
    return Az(runner, path, sub_id, user)


def _login_fix(facts: StackFacts) -> str:
    pin = f", then `az account set --subscription {facts.subscription}`"
    return "`az login`" + (pin if facts.subscription else "")


def _group_exists(az: Az, facts: StackFacts) -> bool | None:
    """Whether the stack's resource group exists already; None when az cannot tell."""
    try:
        return bool(az("group", "exists", "--name", facts.resource_group))
    except ToolFailed:
        return None


def _version(report: Report, az: Az, facts: StackFacts) -> None:
    # The program accepts only MAJOR.MINOR[.PATCH] (stacks/schema/cluster.py), checked before this.
    minor = ".".join(facts.kubernetes_version.split(".")[:2])
    patch = facts.kubernetes_version.count(".") == 2
    try:
        # Shape (az 2.5x and later, the AKS List Kubernetes Versions API): {"values": [{"version":
        # "1.34", "isPreview": true?, "capabilities": {"supportPlan": ["KubernetesOfficial",
        # "AKSLongTermSupport"]}, "patchVersions": {"1.34.2": {"upgrades": [...]}}}]}, see
        # learn.microsoft.com/rest/api/aks/managed-clusters/list-kubernetes-versions
        answer = az("aks", "get-versions", "--location", facts.location)
        offered = {str(v["version"]): v for v in answer["values"]}
    except ToolFailed as error:
        report.add(
            "FAIL",
            VERSION,
            f"`az aks get-versions --location {facts.location}` failed: {error}",
            "check `location` against `az account list-locations --output table`",
        )
        return
    except (KeyError, TypeError, AttributeError):
        report.add(
            "FAIL",
            VERSION,
            "`az aks get-versions` answered in an unknown shape",
            "upgrade the Azure CLI (`az upgrade`) to 2.60 or newer",
        )
        return
    minors = sorted(offered, key=_numeric)
    listed = ", ".join(m + (" (preview)" if offered[m].get("isPreview") else "") for m in minors)
    where = f"in {facts.location}"
    if minor not in offered:
        report.add(
            "FAIL",
            VERSION,
            f"Kubernetes {minor} is not offered {where}",
            f"`pulumi config set kubernetesVersion <minor>` with one of: {listed}",
        )
        return
    entry = offered[minor]
    patches = sorted(entry.get("patchVersions") or {}, key=_numeric)
    plans = (entry.get("capabilities") or {}).get("supportPlan") or []
    if patch and facts.kubernetes_version not in patches:
        report.add(
            "FAIL",
            VERSION,
            f"Kubernetes {facts.kubernetes_version} is not offered {where}",
            f"use {minor} (AKS picks the newest patch) or one of: {', '.join(patches)}",
        )
    elif plans and "KubernetesOfficial" not in plans and facts.sku_tier != "Premium":
        report.add(
            "FAIL",
            VERSION,
            f"Kubernetes {minor} is offered {where} only with long-term support",
            "set skuTier Premium (LTS), or pick a minor with community support: " + listed,
        )
    elif entry.get("isPreview") and facts.environment == "prod":
        report.add(
            "FAIL",
            VERSION,
            f"Kubernetes {minor} is a preview {where}: no support for production",
            f"pick a generally available minor: {listed}",
        )
    else:
        preview = ", a preview" if entry.get("isPreview") else ""
        report.add(
            "PASS",
            VERSION,
            f"{facts.kubernetes_version} offered {where}{preview} (patches: "
            f"{', '.join(patches) or 'none listed'})",
        )


def _numeric(version: str) -> tuple[int, ...]:
    """1.34.10 after 1.34.9."""
    return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))


def _providers(report: Report, az: Az) -> None:
    """`az provider show -n NS --query registrationState` for each namespace the stack needs."""
    states: dict[str, str] = {}
    for namespace in PROVIDER_NAMESPACES:
        try:
            states[namespace] = str(
                az("provider", "show", "--namespace", namespace, "--query", "registrationState")
            )
        except ToolFailed as error:
            report.add(
                "FAIL",
                PROVIDERS,
                f"cannot read the registration of {namespace}: {error}",
                f"`az provider show --namespace {namespace}` shows why",
            )
            return
    # Azure's docs advise not to block on "Registering": registration runs region by region and a
    # region is usable once its own is done (resource-providers-and-types.md, "Register resource
    # provider", as served on docs.azure.cn).
    missing = [ns for ns, state in states.items() if state not in ("Registered", "Registering")]
    if missing:
        listed = ", ".join(f"{ns} ({states[ns]})" for ns in missing)
        report.add(
            "FAIL",
            PROVIDERS,
            f"not registered on subscription {az.subscription}: {listed}; `pulumi up` would "
            "stop with MissingSubscriptionRegistration",
            "; ".join(f"`az provider register --namespace {ns}`" for ns in missing)
            + " (needs Contributor or Owner on the subscription; takes a few minutes)",
        )
        return
    registering = [ns for ns, state in states.items() if state == "Registering"]
    note = (
        f" ({', '.join(registering)} still registering: should `pulumi up` answer "
        "MissingSubscriptionRegistration, wait a few minutes)"
        if registering
        else ""
    )
    report.add("PASS", PROVIDERS, f"registered: {', '.join(PROVIDER_NAMESPACES)}{note}")
