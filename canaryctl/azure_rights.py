"""doctor's rights checks: may the deployer create the resource group, the cluster, and the role
assignment that makes it cluster admin? Only through endpoints the ARM REST reference documents.

Once the stack's resource group exists: "Permissions - List For Resource Group" (GET
{group}/providers/Microsoft.Authorization/permissions, api-version 2022-04-01), the caller's own
effective actions there, one entry per role assignment. The reference documents that operation
for resource groups and resources only, not for a subscription.

Before it exists (a first `pulumi up`), every right must come from a role assignment at the
subscription or above (a management group, the root), as a new group inherits only those:
`az role assignment list --all --assignee <you> --include-groups` (Role Assignments - List For
Subscription; --include-groups adds the groups you are in), then each such assignment's role
through "Role Definitions - Get By Id" (GET {roleDefinitionId}?api-version=2022-04-01).

Neither sees deny assignments or conditions on an assignment (as Role Based Access Control
Administrator may carry): ARM still enforces those.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from canaryctl.az import ARM
from canaryctl.tools import ToolFailed

if TYPE_CHECKING:
    from canaryctl.az import Az
    from canaryctl.preflight import Report, StackFacts

ROLE_ASSIGNMENTS, RESOURCES = "role assignments", "create resources"
API_VERSION = "api-version=2022-04-01"
PERMISSIONS_API = f"providers/Microsoft.Authorization/permissions?{API_VERSION}"
ROLE_ASSIGNMENT_WRITE = "Microsoft.Authorization/roleAssignments/write"
# What `pulumi up` itself creates: the resource group, then the cluster and its user pool.
RESOURCE_WRITES = (
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Microsoft.ContainerService/managedClusters/write",
)
ASSIGNING_ROLES = "Owner, User Access Administrator or Role Based Access Control Administrator"
MAX_PAGES = 20
# `az account show` names a managed identity this way; az cannot look it up in Entra ID.
MANAGED_IDENTITY_NAMES = ("systemAssignedIdentity", "userAssignedIdentity")


class Unknown(Exception):
    """The rights cannot be read; the message says why and what is not checked."""


def run(report: Report, az: Az, facts: StackFacts, group_exists: bool | None) -> None:
    group = f"/subscriptions/{az.subscription}/resourceGroups/{facts.resource_group}"
    note = (
        f"; resource group {facts.resource_group} does not exist yet, so only assignments on the "
        "subscription or above count"
        if group_exists is False
        else ""
    )
    try:
        if group_exists:
            scope = f"resource group {facts.resource_group}"
            permissions = _list(az, f"{ARM}{group}/{PERMISSIONS_API}")
        else:
            scope = f"subscription {az.subscription}"
            permissions = _subscription_permissions(az, facts.resource_group)
    except Unknown as error:
        for name in (ROLE_ASSIGNMENTS, RESOURCES):
            report.add("SKIP", name, f"cannot read your rights: {error}")
        return
    except ToolFailed as error:
        for name in (ROLE_ASSIGNMENTS, RESOURCES):
            report.add(
                "FAIL",
                name,
                f"cannot read your rights on {scope}: {error}",
                "you need at least Reader there; ask a subscription Owner",
            )
        return
    if allowed(permissions, ROLE_ASSIGNMENT_WRITE):
        report.add("PASS", ROLE_ASSIGNMENTS, f"you may create role assignments on {scope}{note}")
    else:
        report.add(
            "FAIL",
            ROLE_ASSIGNMENTS,
            f"you may not create role assignments on {scope} ({ROLE_ASSIGNMENT_WRITE}), "
            f"which `pulumi up` needs to make you cluster admin{note}",
            f"ask for {ASSIGNING_ROLES} on subscription {az.subscription}"
            + (f" or resource group {facts.resource_group}" if group_exists else ""),
        )
    missing = [action for action in RESOURCE_WRITES if not allowed(permissions, action)]
    if missing:
        report.add(
            "FAIL",
            RESOURCES,
            f"you may not {', '.join(missing)} on {scope}{note}",
            f"ask for Contributor (or Owner) on subscription {az.subscription}",
        )
    else:
        report.add("PASS", RESOURCES, f"you may create the resource group and AKS on {scope}{note}")


def _subscription_permissions(az: Az, group_name: str) -> list[dict[str, Any]]:
    """The actions of every role assigned to you, or a group of yours, at the subscription or
    above, in the shape of the permissions API ({"actions", "notActions"} per assignment)."""
    user = az.user
    name, kind = str(user.get("name") or ""), str(user.get("type") or "")
    if name in MANAGED_IDENTITY_NAMES or not name:
        raise Unknown(
            f"az is logged in as a managed identity ({name or 'unnamed'}), which az cannot look up "
            "in Entra ID; check its role assignments on the subscription by hand"
        )
    try:
        # A person's object id from Microsoft Graph (/me); a service principal is found by app id.
        assignee = (
            str(az.plain("ad", "signed-in-user", "show", "--query", "id"))
            if kind == "user"
            else name
        )
    except ToolFailed as error:
        raise Unknown(
            f"Microsoft Graph does not tell who you are (`az ad signed-in-user show`: {error}); "
            f"resource group {group_name} does not exist yet and the ARM permissions API is "
            "documented for resource groups and resources only"
        ) from None
    # --all with --include-groups asks ARM for every assignment that applies to the subscription
    # for you or a group of yours ($filter=assignedTo('<id>'), role/custom.py
    # _search_role_assignments); --scope would make az keep only scopes that are a text prefix
    # of the subscription's, dropping management groups. Which of them reach a new group is
    # decided below.
    assignments = az(
        "role", "assignment", "list", "--all", "--assignee", assignee, "--include-groups"
    )
    entries: list[dict[str, Any]] = []
    roles: dict[str, list[dict[str, Any]]] = {}
    for assignment in assignments if isinstance(assignments, list) else []:
        if not _covers_subscription(str(assignment.get("scope") or ""), az.subscription):
            continue
        role = str(assignment.get("roleDefinitionId") or "")
        if role and role not in roles:
            definition = az.rest(f"{ARM}{role}?{API_VERSION}") or {}
            roles[role] = list((definition.get("properties") or {}).get("permissions") or [])
        entries += [p for p in roles.get(role, []) if isinstance(p, dict)]
    return entries


def _covers_subscription(scope: str, subscription: str) -> bool:
    """An assignment at the subscription, a management group above it, or the root ("/")."""
    scope = scope.rstrip("/").lower()
    return scope in ("", f"/subscriptions/{subscription.lower()}") or scope.startswith(
        "/providers/microsoft.management/managementgroups/"
    )


def _list(az: Az, url: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        page = az.rest(url)
        entries += [e for e in (page or {}).get("value") or [] if isinstance(e, dict)]
        url = (page or {}).get("nextLink") or ""
        if not url:
            break
    return entries


def allowed(permissions: list[dict[str, Any]], action: str) -> bool:
    """Whether one role's permissions grant `action`: an action matches and no notAction does.

    Azure evaluates NotActions per role, not across roles ("NotActions is not a deny"), and
    actions are case-insensitive with `*` wildcards.
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
