"""An AKS cluster as getManagedCluster reports it (AKS API 2025-09-01 field names), for runs of
the program against a cluster that already runs (tests/harness.py Existing)."""

from __future__ import annotations

from typing import Any

from tests.harness import Existing


def pool(name: str, vm_size: str, count: int, mode: str = "User", **fields: Any) -> dict[str, Any]:
    return {"name": name, "mode": mode, "vmSize": vm_size, "count": count, **fields}


def live_cluster(
    pools: list[dict[str, Any]] | None = None,
    network_policy: str = "calico",
    location: str = "westeurope",
    dns_prefix: str = "aks-dev",
) -> Existing:
    """The dev cluster as its first `pulumi up` made it, unless told otherwise."""
    return Existing(
        aks={
            "location": location,
            "dnsPrefix": dns_prefix,
            "networkProfile": {
                "networkPlugin": "azure",
                "networkPluginMode": "overlay",
                "networkDataplane": "azure",
                "networkPolicy": network_policy,
            },
            "agentPoolProfiles": pools
            if pools is not None
            else [
                pool("system", "Standard_D2s_v5", 1, mode="System"),
                pool("user32f4e8d4", "Standard_D4s_v5", 2),
            ],
        }
    )
