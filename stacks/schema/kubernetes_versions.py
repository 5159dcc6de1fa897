"""Kubernetes versions: AKS's support calendar (the oldest minor the pinned Linkerd supports and
the default minor are pins: stacks/pins.py MIN_KUBERNETES, KUBERNETES_VERSION)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class AksSupport:
    """When AKS serves a Kubernetes minor with standard (non-LTS) support."""

    minor: str
    aks_ga: date
    end_of_standard_support: date


# AKS's calendar (learn.microsoft.com/azure/aks/supported-kubernetes-versions, "AKS Kubernetes
# release calendar", as of AKS_TABLE_DATE). A month without a day means its last day. Past its end,
# AKS upgrades a cluster by itself (only Premium tier + LTS keeps it longer).
AKS_TABLE_DATE = "2026-08-05"
AKS_KUBERNETES = (
    AksSupport("1.31", date(2024, 11, 1), date(2025, 11, 1)),
    AksSupport("1.32", date(2025, 4, 1), date(2026, 3, 31)),
    AksSupport("1.33", date(2025, 6, 1), date(2026, 7, 31)),
    AksSupport("1.34", date(2025, 11, 1), date(2026, 11, 30)),
    AksSupport("1.35", date(2026, 3, 1), date(2027, 3, 31)),
    AksSupport("1.36", date(2026, 6, 1), date(2027, 6, 30)),
    AksSupport("1.37", date(2026, 10, 1), date(2027, 10, 31)),
)


def aks_support(version: str) -> AksSupport | None:
    """The calendar entry of `version`'s minor (1.35 or 1.35.2), None when the table lacks it."""
    minor = ".".join(version.split(".")[:2])
    return next((entry for entry in AKS_KUBERNETES if entry.minor == minor), None)


def newest_supported(today: date) -> str:
    """The newest minor in standard support on `today`, by the table."""
    live = [e.minor for e in AKS_KUBERNETES if e.aks_ga <= today <= e.end_of_standard_support]
    return live[-1] if live else AKS_KUBERNETES[-1].minor
