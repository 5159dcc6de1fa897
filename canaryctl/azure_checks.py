"""doctor's Azure checks (dev, prod): az login, the Kubernetes version in the region, ARM rights.

All of them go through the az CLI, which holds the login `pulumi up` and kubelogin use too.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from canaryctl.tools import Runner, ToolFailed

if TYPE_CHECKING:
    from canaryctl.doctor import Found, Report, StackFacts

LOGIN, VERSION, ROLE_ASSIGNMENTS, RESOURCES = (
    "azure login",
    "kubernetes version",
    "role assignments",
    "create resources",
)
CHECKS = (LOGIN, VERSION, ROLE_ASSIGNMENTS, RESOURCES)
AZ_TIMEOUT_SECONDS = 60
ARM = "https://management.azure.com"
# Permissions - List For Subscription / For Resource Group: the caller's effective actions, one
# entry per role assignment ({"value": [{"actions", "notActions", ...}], "nextLink"}), see
# learn.microsoft.com/rest/api/authorization/permissions/list-for-resource-group?view=rest-authorization-2022-04-01
PERMISSIONS_API = "providers/Microsoft.Authorization/permissions?api-version=2022-04-01"
ROLE_ASSIGNMENT_WRITE = "Microsoft.Authorization/roleAssignments/write"
# What `pulumi up` itself creates: the resource group, then the cluster and its user pool.
RESOURCE_WRITES = (
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Microsoft.ContainerService/managedClusters/write",
)
ASSIGNING_ROLES = "Owner, User Access Administrator or Role Based Access Control Administrator"
MAX_PAGES = 20


def run(report: Report, runner: Runner, az: Found | None, facts: StackFacts) -> None:
    if az is None:
        for name in CHECKS:
            report.add("SKIP", name, "needs az (see above)")
        return
    subscription = _login(report, runner, az.path, facts)
    if subscription is None:
        for name in CHECKS[1:]:
            report.add("SKIP", name, "needs `az login`")
        return
    _version(report, runner, az.path, facts, subscription)
    _permissions(report, runner, az.path, facts, subscription)


def _az(runner: Runner, az: str, *args: str) -> Any:
    """az's JSON answer; raises ToolFailed with az's own last error line."""
    result = runner.run([az, *args, "--output", "json"], AZ_TIMEOUT_SECONDS)
    if result.returncode != 0:
        raise ToolFailed(result.last_error())
    try:
        return json.loads(result.stdout or "null")
    except ValueError:
        raise ToolFailed(f"`az {' '.join(args[:2])}` printed no JSON") from None


def _login(report: Report, runner: Runner, az: str, facts: StackFacts) -> str | None:
    """Check az's login; return the subscription the stack will use, or None if not logged in."""
    try:
        account = _az(runner, az, "account", "show")
    except ToolFailed as error:
        report.add("FAIL", LOGIN, f"az is not logged in ({error})", _login_fix(facts))
        return None
    sub_id, name = str(account.get("id") or ""), str(account.get("name") or "")
    user = (account.get("user") or {}).get("name") or "(unknown user)"
    current = f"{name} ({sub_id})"
    if facts.subscription_secret:
        report.add(
            "PASS",
            LOGIN,
            f"{user}, subscription {current}; the stack's {facts.subscription_source} is not "
            "compared (`pulumi config get azure-native:subscriptionId` shows it)",
        )
        return sub_id
    if facts.subscription is None:
        report.add(
            "PASS",
            LOGIN,
            f"{user}; the stack will use az's default subscription {current} (pin it with "
            "`pulumi config set azure-native:subscriptionId <id>`)",
        )
        return sub_id
    if sub_id.lower() != facts.subscription.lower():
        report.add(
            "FAIL",
            LOGIN,
            f"{user} uses subscription {current}, but the stack deploys to "
            f"{facts.subscription} ({facts.subscription_source})",
            f"`az account set --subscription {facts.subscription}` (or change "
            f"{facts.subscription_source.split(' in ')[0]})",
        )
        return facts.subscription
    report.add("PASS", LOGIN, f"{user}, subscription {current} ({facts.subscription_source})")
    return sub_id


def _login_fix(facts: StackFacts) -> str:
    pin = f", then `az account set --subscription {facts.subscription}`"
    return "`az login`" + (pin if facts.subscription else "")


def _version(report: Report, runner: Runner, az: str, facts: StackFacts, subscription: str) -> None:
    wanted = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", facts.kubernetes_version)
    if wanted is None:
        report.add(
            "FAIL",
            VERSION,
            f"kubernetesVersion {facts.kubernetes_version!r} is not MAJOR.MINOR[.PATCH]",
            "`pulumi config set kubernetesVersion 1.34` (a minor AKS offers)",
        )
        return
    minor = f"{wanted[1]}.{wanted[2]}"
    try:
        # Shape (az 2.5x and later, the AKS List Kubernetes Versions API): {"values": [{"version":
        # "1.34", "isPreview": true?, "capabilities": {"supportPlan": ["KubernetesOfficial",
        # "AKSLongTermSupport"]}, "patchVersions": {"1.34.2": {"upgrades": [...]}}}]}, see
        # learn.microsoft.com/rest/api/aks/managed-clusters/list-kubernetes-versions
        answer = _az(
            runner,
            az,
            "aks",
            "get-versions",
            "--location",
            facts.location,
            "--subscription",
            subscription,
        )
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
    if wanted[3] is not None and facts.kubernetes_version not in patches:
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


def _permissions(
    report: Report, runner: Runner, az: str, facts: StackFacts, subscription: str
) -> None:
    scope, scope_name = f"/subscriptions/{subscription}", f"subscription {subscription}"
    try:
        if _az(
            runner,
            az,
            "group",
            "exists",
            "--name",
            facts.resource_group,
            "--subscription",
            subscription,
        ):
            scope += f"/resourceGroups/{facts.resource_group}"
            scope_name = f"resource group {facts.resource_group}"
        permissions = _list_permissions(runner, az, f"{ARM}{scope}/{PERMISSIONS_API}")
    except ToolFailed as error:
        for name in (ROLE_ASSIGNMENTS, RESOURCES):
            report.add(
                "FAIL",
                name,
                f"cannot read your permissions on {scope_name}: {error}",
                "you need at least Reader there; ask a subscription Owner",
            )
        return
    if allowed(permissions, ROLE_ASSIGNMENT_WRITE):
        report.add("PASS", ROLE_ASSIGNMENTS, f"you may create role assignments on {scope_name}")
    else:
        report.add(
            "FAIL",
            ROLE_ASSIGNMENTS,
            f"you may not create role assignments on {scope_name} ({ROLE_ASSIGNMENT_WRITE}), "
            "which `pulumi up` needs to make you cluster admin",
            f"ask for {ASSIGNING_ROLES} on subscription {subscription} "
            f"or resource group {facts.resource_group}",
        )
    missing = [action for action in RESOURCE_WRITES if not allowed(permissions, action)]
    if missing:
        report.add(
            "FAIL",
            RESOURCES,
            f"you may not {', '.join(missing)} on {scope_name}",
            f"ask for Contributor (or Owner) on subscription {subscription}",
        )
    else:
        report.add("PASS", RESOURCES, f"you may create the resource group and AKS on {scope_name}")


def _list_permissions(runner: Runner, az: str, url: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        page = _az(runner, az, "rest", "--method", "get", "--url", url)
        entries += [e for e in (page or {}).get("value") or [] if isinstance(e, dict)]
        url = (page or {}).get("nextLink") or ""
        if not url:
            break
    return entries


def allowed(permissions: list[dict[str, Any]], action: str) -> bool:
    """Whether one role's permissions grant `action`: an action matches and no notAction does.

    Azure evaluates NotActions per role, not across roles ("NotActions is not a deny"), and
    actions are case-insensitive with `*` wildcards. Deny assignments and conditions (as on
    Role Based Access Control Administrator) are not in this API; ARM still enforces them.
    """
    return any(
        _matches(entry.get("actions"), action) and not _matches(entry.get("notActions"), action)
        for entry in permissions
    )


def _matches(patterns: object, action: str) -> bool:
    if not isinstance(patterns, list):
        return False
    return any(
        re.fullmatch(".*".join(re.escape(part) for part in str(p).split("*")), action, re.I)
        for p in patterns
    )
