"""Value checks for stack config: each returns what is allowed when a value is wrong, else None."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlparse

from stacks.versions import MIN_KUBERNETES

KUBERNETES_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
VM_SIZE = re.compile(r"^Standard_[A-Za-z0-9_]+$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
UTC_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):(00|30|45)$")
EDGE_CHART_VERSION = re.compile(r"^(\d{4})\.(\d{1,2})\.(\d+)$")
GATEWAY_API_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
PROMETHEUS_DURATION = re.compile(r"^[1-9]\d*(h|d|w|y)$")
QUANTITY = re.compile(r"^[1-9]\d*(Mi|Gi|Ti)$")
# Linkerd 2.20 (edge 2026.6.3) is the oldest release whose chart values this program sets.
MIN_LINKERD_CHART = (2026, 6, 3)
# Linkerd 2.20 works with Gateway API v1.2.1 up to v1.5.1.
GATEWAY_API_RANGE = ((1, 2, 1), (1, 5, 1))


def kubernetes_version(value: str) -> str | None:
    match = KUBERNETES_VERSION.match(value)
    if match is None:
        return "MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 1.35 or 1.35.2"
    if (int(match[1]), int(match[2])) < MIN_KUBERNETES:
        floor = ".".join(map(str, MIN_KUBERNETES))
        return f"{floor} or newer (the oldest Kubernetes the pinned Linkerd supports)"
    return None


def linkerd_version(value: str) -> str | None:
    match = EDGE_CHART_VERSION.match(value)
    if match is None:
        return "an edge chart version YYYY.M.N, e.g. 2026.8.3 (not a stable-2.x tag)"
    if tuple(int(part) for part in match.groups()) < MIN_LINKERD_CHART:
        return "2026.6.3 (Linkerd 2.20) or newer"
    return None


def gateway_api_version(value: str) -> str | None:
    from stacks.pins import GATEWAY_API_CRDS

    match = GATEWAY_API_VERSION.match(value)
    low, high = GATEWAY_API_RANGE
    if match is None or not low <= tuple(int(part) for part in match.groups()) <= high:
        return "v1.2.1 to v1.5.1 (what Linkerd 2.20 accepts), e.g. v1.2.1"
    if value not in GATEWAY_API_CRDS:
        pinned = ", ".join(sorted(GATEWAY_API_CRDS))
        return f"a version whose CRD files are pinned in stacks/pins.py ({pinned}); add its sha256s first"
    return None


def ipv4_cidr(value: str) -> str | None:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return "IPv4 CIDRs like 203.0.113.0/24, with no host bits set"
    return None if network.version == 4 and "/" in value else "IPv4 CIDRs like 203.0.113.0/24"


def zone(value: str) -> str | None:
    return None if value in ("1", "2", "3") else 'zone numbers "1", "2" or "3"'


def guid(value: str) -> str | None:
    return None if GUID.match(value) else "Entra ID object ids (GUIDs)"


# Flagger's CRD accepts durations of seconds or minutes only (pattern ^[0-9]+(m|s)).
FLAGGER_DURATION = re.compile(r"^([1-9]\d*)(s|m)$")
# An OCI tag; "latest" and friends are refused below because a canary needs a new, fixed tag.
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Namespaces the platform itself owns; the workload must live elsewhere.
RESERVED_NAMESPACES = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "linkerd",
        "linkerd-viz",
        "monitoring",
        "cert-manager",
        "flagger-system",
    }
)


def flagger_seconds(value: str) -> int:
    """Seconds in a Flagger duration such as 30s or 2m (value must match FLAGGER_DURATION)."""
    match = FLAGGER_DURATION.match(value)
    if match is None:
        raise ValueError(f"not a Flagger duration: {value!r}")
    return int(match[1]) * (60 if match[2] == "m" else 1)


def duration_between(
    low_seconds: int, high_seconds: int, example: str
) -> Callable[[str], str | None]:
    """A check for a Flagger duration within [low, high] seconds."""

    def check(value: str) -> str | None:
        allowed = f"seconds or minutes like {example}, from {flagger_duration(low_seconds)} to {flagger_duration(high_seconds)}"
        if FLAGGER_DURATION.match(value) is None:
            return allowed
        return None if low_seconds <= flagger_seconds(value) <= high_seconds else allowed

    return check


def image_tag(value: str, podinfo: bool = False) -> str | None:
    """A fixed image tag; `podinfo`: its tags have no leading v (6.14.1, not v6.14.1)."""
    if IMAGE_TAG.match(value) is None:
        return "an image tag like 6.14.1 (letters, digits, '.', '_', '-')"
    if value in ("latest", "main", "master", "stable"):
        return (
            "a fixed version tag like 6.14.1: a moving tag gives Flagger no new revision to analyse"
        )
    if podinfo and value.startswith("v") and value[1:2].isdigit():
        return "the tag without a leading v (podinfo tags look like 6.14.1)"
    return None


def workload_namespace(value: str) -> str | None:
    if DNS_LABEL.match(value) is None:
        return "a DNS label: lower-case letters, digits and '-', at most 63 characters"
    if value in RESERVED_NAMESPACES:
        return f"a namespace the platform does not already own (not {', '.join(sorted(RESERVED_NAMESPACES))})"
    return None


def https_url(value: str) -> str | None:
    """Checks a webhook URL without ever echoing it (it is a credential)."""
    parsed = urlparse(value)
    return None if parsed.scheme == "https" and parsed.netloc else "an https:// webhook URL"


def flagger_duration(seconds: int) -> str:
    """30 -> "30s", 120 -> "2m": the shortest Flagger duration for `seconds`."""
    return f"{seconds // 60}m" if seconds % 60 == 0 and seconds >= 60 else f"{seconds}s"
