"""Cluster layer, create-only settings: what AKS cannot change on a running cluster.

pulumi-azure-native plans a replacement when one of these differs (its forceNewMap for
Microsoft.ContainerService/managedClusters: location, dnsPrefix and the network profile's plugin,
plugin mode, dataplane and policy, provider/pkg/gen/replacement.go; location also for the
resource group). A replacement deletes the cluster and everything in it. So before anything is
registered the program compares each with the running cluster (live.py):

- prod refuses the change, naming the setting, what runs and what was asked (the cluster is
  protected, and the engine's own refusal names only the resource);
- dev carries it out as a replacement, announced in the preview: the cluster is deleted first
  (delete-before-replace: AKS names are unique, so a new cluster cannot be created beside the old
  one), then created anew, and every object in it with it (deleted_with, replaced by Pulumi CLI
  3.260+, README "What you need").

The cluster's own name and resource group are not compared: another name is another cluster
(`clusterName`, `resourceGroupName`), which the engine replaces (dev) or refuses (prod, protect).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from stacks.cluster.live import LiveCluster
from stacks.config import ConfigError
from stacks.schema.cluster import ClusterConfig

# Azure CNI overlay on the classic dataplane (see aks.py for why not Cilium): set by the program,
# not by config, yet just as create-only.
FIXED_NETWORK = {
    "networkPlugin": "azure",
    "networkPluginMode": "overlay",
    "networkDataplane": "azure",
}
WHERE = "docs/lifecycle.md, 'Change a create-only setting'"


@dataclass(frozen=True)
class CreateOnlyChange:
    """A create-only setting whose value differs from the running cluster's."""

    key: str
    """The config key, or the network field the program sets."""
    running: str
    wanted: str

    @property
    def configurable(self) -> bool:
        return self.key not in FIXED_NETWORK


def network_profile(s: ClusterConfig) -> dict[str, str]:
    """The network fields the cluster is created with (camelCase, as AKS names them)."""
    return {**FIXED_NETWORK, "networkPolicy": s.network_policy}


def changes(s: ClusterConfig, live: LiveCluster | None) -> list[CreateOnlyChange]:
    """Every create-only setting that differs from the running cluster (none without one)."""
    if live is None:
        return []
    wanted = {"location": s.location, "dnsPrefix": s.dns_prefix, **network_profile(s)}
    running = {"location": live.location, "dnsPrefix": live.dns_prefix, **live.network}
    return [
        CreateOnlyChange(key, running[key], value)
        for key, value in wanted.items()
        # AKS reports regions as their programmatic name and echoes the rest as given; an empty
        # value is a field this API version does not report, which cannot be compared.
        if running.get(key) and _normal(running[key]) != _normal(value)
    ]


def check(
    namespace: str, stack: str, s: ClusterConfig, live: LiveCluster | None, protect: bool
) -> bool:
    """Refuse a create-only change where the cluster is protected (prod); announce it where it
    is not (dev). Returns whether this `pulumi up` replaces the cluster."""
    found = changes(s, live)
    if not found:
        return False
    if protect:
        listed = "\n".join(f"  - {_refusal(namespace, change)}" for change in found)
        raise ConfigError(
            f"stack {stack} would replace its protected cluster {s.cluster_name} "
            f"({len(found)} create-only setting(s) changed); nothing was created:\n{listed}"
        )
    for change in found:
        pulumi.log.warn(
            f"{_name(namespace, change)}: the running cluster has {change.running!r}, the stack "
            f"asks for {change.wanted!r}. AKS cannot change it in place: this `pulumi up` deletes "
            f"cluster {s.cluster_name} and everything in it, then creates it again ({WHERE})."
        )
    return True


def _refusal(namespace: str, change: CreateOnlyChange) -> str:
    fix = (
        f"set it back to {change.running!r}"
        if change.configurable
        else "keep the program version that created the cluster"
    )
    return (
        f"{_name(namespace, change)}: got {change.wanted!r}; the running cluster has "
        f"{change.running!r} and AKS cannot change it in place; allowed: {change.running!r} "
        f"({fix}; a different value needs a new cluster, {WHERE})"
    )


def _name(namespace: str, change: CreateOnlyChange) -> str:
    if change.configurable:
        return f"{namespace}:{change.key}"
    return f"networkProfile.{change.key} (set by the program)"


def _normal(value: str) -> str:
    return value.replace(" ", "").casefold()
