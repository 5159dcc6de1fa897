"""doctor's vocabulary, shared by its checks: the report, each check's line, the stack's facts.

Kept apart from doctor.py (which runs the checks) so the check modules (azure_checks,
cluster_checks, azure_capacity, azure_rights, egress) depend on it and never on doctor itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from canaryctl.errors import FAILED, OK
from canaryctl.tools import Version

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
CONFIG = "stack config"
NO_AZURE = "local stack uses no Azure"
NEEDS_CONFIG = "needs a stack config `pulumi up` accepts (see stack config)"


@dataclass(frozen=True)
class Check:
    status: str
    name: str
    result: str
    fix: str = ""
    details: tuple[str, ...] = ()


class Report:
    """Prints each check as it completes (az calls take seconds) and counts them."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.checks: list[Check] = []

    def add(
        self, status: str, name: str, result: str, fix: str = "", details: tuple[str, ...] = ()
    ) -> Check:
        check = Check(status, name, result, fix, details)
        self.checks.append(check)
        self.out.write(f"{status}  {name}: {result}\n")
        for detail in details:
            self.out.write(f"        - {detail}\n")
        if status == FAIL and fix:
            self.out.write(f"      fix: {fix}\n")
        self.out.flush()
        return check

    def finish(self) -> int:
        count = {s: sum(1 for c in self.checks if c.status == s) for s in (PASS, FAIL, SKIP)}
        tally = f"{count[PASS]} passed, {count[FAIL]} failed, {count[SKIP]} skipped"
        if count[FAIL]:
            self.out.write(f"\n{tally}: fix the FAIL lines above, then run doctor again.\n")
            return FAILED
        self.out.write(f"\n{tally}: ready for `pulumi up`.\n")
        return OK


@dataclass(frozen=True)
class Pool:
    """A node pool as the stack's validated config declares it."""

    name: str
    """system or user (the program's pools, stacks/cluster/pools.py)."""
    vm_size: str
    count: int
    """Nodes when the pool is created."""
    max_count: int
    """The autoscaler's upper bound; `count` for a pool that does not scale."""


@dataclass(frozen=True)
class StackFacts:
    """What the checks need from the stack: plain values taken from the program's validated
    Settings (stacks/config.py), so any validated source can fill them in."""

    stack: str
    environment: str
    location: str
    kubernetes_version: str
    sku_tier: str
    cluster_name: str
    resource_group: str
    kube_context: str
    kubeconfig_path: str | None
    subscription: str | None
    """The subscription the stack will deploy to, when pinned; None means az's default one."""
    subscription_source: str
    subscription_secret: bool = False
    """azure-native:subscriptionId is set as a secret: doctor cannot read it to compare."""
    pools: tuple[Pool, ...] = ()
    """AKS: the system pool, then the user pool."""
    user_pool_name: str = ""
    """The AKS name of the user pool this config makes; another name live means a rotation."""
    availability_zones: tuple[str, ...] = ()
    authorized_ip_ranges: tuple[str, ...] = ()

    @property
    def local(self) -> bool:
        return self.environment == "local"


@dataclass(frozen=True)
class Found:
    path: str
    version: Version | None
