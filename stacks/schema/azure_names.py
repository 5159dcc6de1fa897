"""Azure's naming rules for what the cluster layer creates, and the defaults derived from a stack.

Rules from Microsoft's "Naming rules and restrictions for Azure resources" (Microsoft.Resources
resourcegroups; Microsoft.ContainerService managedClusters) and the AKS API's dnsPrefix pattern.
Defaults are derived so that any Pulumi stack name (letters, digits, '-', '_', '.') gives valid
names: `feature_x.v2` becomes cluster `aks-feature_x-v2` with DNS prefix `aks-feature-x-v2`.
"""

from __future__ import annotations

import re

# Resource group: 1-90 letters or digits (Unicode), '_', '-', '.', '(' and ')'; not ending in '.'.
RESOURCE_GROUP = re.compile(r"^[\w.()-]{0,89}[\w()-]$")
# Managed cluster: 1-63 letters, digits, '_' and '-', starting and ending with a letter or digit.
CLUSTER_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$", re.ASCII)
# dnsPrefix: 1-54 letters, digits and '-', starting and ending with a letter or digit.
DNS_PREFIX = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,52}[A-Za-z0-9])?$", re.ASCII)

# Microsoft.ContainerRegistry/registries: 5-50 letters and digits; the login server is
# <name lower-cased>.azurecr.io.
CONTAINER_REGISTRY_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[\w.()-]{1,90}/providers/"
    r"Microsoft\.ContainerRegistry/registries/([A-Za-z0-9]{5,50})$"
)

RESOURCE_GROUP_RULE = "1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'"
CLUSTER_NAME_RULE = "1-63 letters, digits, '_' or '-', starting and ending with a letter or digit"
DNS_PREFIX_RULE = "1-54 letters, digits or '-', starting and ending with a letter or digit"


def default_resource_group(project: str, stack: str) -> str:
    return _fit(f"rg-{project}-{stack}", r"[^\w.()-]", 90).rstrip(".")


def default_cluster_name(stack: str) -> str:
    return _fit(f"aks-{stack}", r"[^A-Za-z0-9_-]", 63)


def dns_prefix_for(cluster_name: str) -> str:
    """The cluster's DNS prefix: its name with '_' (and anything else AKS refuses) as '-'."""
    return _fit(cluster_name, r"[^A-Za-z0-9-]", 54)


def _fit(name: str, refused: str, length: int) -> str:
    """`name` with refused characters as '-', shortened to `length`, trimmed to a letter or digit."""
    replaced = re.sub(r"-{2,}", "-", re.sub(refused, "-", name, flags=re.ASCII))
    return replaced[:length].strip("-_.")


def registry_login_server(registry_id: str) -> str:
    """The host images of the registry with this resource id are pulled from."""
    match = CONTAINER_REGISTRY_ID.match(registry_id)
    return f"{match[1].lower()}.azurecr.io" if match else ""
