"""What a stack holds of its vCPU quota at each stage of its life, from its pools and the sizes
Azure describes (`az vm list-skus`); doctor's vcpu quota check compares it with the quota.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from canaryctl.preflight import Pool

TOTAL = "cores"
"""The usage entry "Total Regional vCPUs": every family of the region counts against it."""
# AKS's surge when a pool sets none, as the program's pools do (stacks/cluster/pools.py): "If not
# specified, the default is 10%" (AgentPoolUpgradeSettings.maxSurge, the AKS API as
# pulumi-azure-native 3.29.0 documents it), rounded up; the AKS docs say "one extra node"
# (upgrade-aks-node-pools-rolling.md). Both give 1 up to 10 nodes; doctor takes the larger.
# "Node surges require subscription quota for the requested max surge count", summed over pools.
DEFAULT_MAX_SURGE_PERCENT = 10


@dataclass(frozen=True)
class Sku:
    """One VM size in one region, for this subscription."""

    name: str
    vcpus: int
    family: str
    """Its quota's name in `az vm list-usage`, e.g. standardDSv5Family."""
    zones: frozenset[str]
    """Zones of the region that offer it."""
    closed_zones: frozenset[str]
    """Zones restricted for this subscription."""
    closed: str
    """Why the whole region is closed to this subscription (a reasonCode), or ""."""


def sku_from(answer: Any, size: str, location: str) -> Sku | None:
    """The size's entry in `az vm list-skus` JSON; None if the region does not list it.

    Shape (Resource Skus - List, learn.microsoft.com/rest/api/compute/resource-skus/list):
    {"name", "family", "locations": [L], "locationInfo": [{"location", "zones": ["1"]}],
    "capabilities": [{"name": "vCPUs", "value": "4"}], "restrictions": [{"type": "Zone" |
    "Location", "reasonCode", "restrictionInfo": {"locations": [..], "zones": [..]}}]}.
    """
    here = location.lower()
    for sku in answer if isinstance(answer, list) else []:
        if str(sku.get("name", "")).lower() != size.lower():
            continue
        if here not in (str(loc).lower() for loc in sku.get("locations") or []):
            continue
        capabilities = {c.get("name"): c.get("value") for c in sku.get("capabilities") or []}
        zones = {
            str(zone)
            for info in sku.get("locationInfo") or []
            if str(info.get("location", "")).lower() == here
            for zone in info.get("zones") or []
        }
        closed, closed_zones = "", set()
        for restriction in sku.get("restrictions") or []:
            info = restriction.get("restrictionInfo") or {}
            if restriction.get("type") == "Location":
                closed = str(restriction.get("reasonCode") or "restricted")
            elif restriction.get("type") == "Zone":
                closed_zones |= {str(z) for z in info.get("zones") or []}
        return Sku(
            name=str(sku["name"]),
            vcpus=int(capabilities.get("vCPUs") or 0),
            family=str(sku.get("family") or ""),
            zones=frozenset(zones),
            closed_zones=frozenset(closed_zones),
            closed=closed,
        )
    return None


def surge(nodes: int) -> int:
    """Nodes AKS adds to a pool of `nodes` during an upgrade, at its default maxSurge."""
    return max(1, math.ceil(nodes * DEFAULT_MAX_SURGE_PERCENT / 100))


@dataclass(frozen=True)
class Stage:
    name: str
    vcpus: Counter[str]
    """Quota name (family, and TOTAL) -> vCPUs the stack holds at this stage."""
    must_fit: bool
    """False: a stage the next `pulumi up` does not reach (shown, never failed)."""


@dataclass(frozen=True)
class LivePool:
    """A pool of the cluster as it runs (`az aks show`)."""

    name: str
    mode: str
    vm_size: str
    count: int


def needs(
    pools: Sequence[Pool],
    skus: Mapping[str, Sku],
    live: Sequence[LivePool] = (),
    user_pool_name: str = "",
) -> list[Stage]:
    """What the stack holds, per quota, at each stage of its life:

    at creation        every pool at its count (system x its size + user nodeCount x its size);
                       not shown once the cluster runs
    at the maximum     the user pool at nodeMaxCount (the autoscaler may get there any time)
    during an upgrade  every pool at its maximum plus AKS's default surge (see surge())
    replacing the      a new nodeVmSize or zones make a new user pool before the old one goes
    user pool          (create-before-delete, stacks/cluster/pools.py): both at their maximum;
                       with the old pool running, it is counted as it is. Must fit only when
                       the running cluster's user pool differs from the config's.
    """
    system, user = pools

    def held(nodes: Iterable[tuple[str, int]]) -> Counter[str]:
        vcpus: Counter[str] = Counter()
        for size, count in nodes:
            sku = skus[size.lower()]
            vcpus[sku.family.lower()] += count * sku.vcpus
            vcpus[TOTAL] += count * sku.vcpus
        return vcpus

    old = [p for p in live if p.mode == "User" and p.name != user_pool_name]
    replacing = [(p.vm_size, p.count) for p in old] if old else [(user.vm_size, user.max_count)]
    stages = [
        Stage(
            "during an upgrade",
            held((p.vm_size, p.max_count + surge(p.max_count)) for p in pools),
            True,
        ),
        Stage(
            "replacing the user pool",
            held([(system.vm_size, system.max_count), (user.vm_size, user.max_count), *replacing]),
            bool(old),
        ),
    ]
    if user.max_count != user.count:
        stages.insert(
            0,
            Stage("at the autoscaler maximum", held((p.vm_size, p.max_count) for p in pools), True),
        )
    if not live:
        stages.insert(0, Stage("at creation", held((p.vm_size, p.count) for p in pools), True))
    return stages
