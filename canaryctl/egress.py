"""doctor's egress check: is this machine's public address inside apiServerAuthorizedIpRanges?

AKS "blocks requests from IP addresses that aren't included in the authorized ranges" (AKS docs,
api-server-authorized-ip-ranges.md): a `pulumi up` from outside them creates the cluster, then
cannot reach its API server (the access wait reports only connection errors). The address the
API server sees is the one the internet sees, which only a service outside can tell: by default
https://api.ipify.org, a plain-text "what is my IP" endpoint (IPv4 only, as the ranges are).
The lookup goes through the Egress seam, so tests never need the network.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from canaryctl.preflight import Report, StackFacts

EGRESS = "api server access"
LOOKUP_TIMEOUT_SECONDS = 10


class EgressUnknown(Exception):
    """This machine's public address could not be learnt (offline, blocked, odd answer)."""


class Egress(Protocol):
    source: str
    """Where the address comes from, for messages."""

    def address(self) -> ipaddress.IPv4Address:
        """This machine's public IPv4 address; EgressUnknown when it cannot be learnt."""
        ...


class Ipify:
    """https://api.ipify.org answers with the caller's public IPv4 address as plain text.

    urllib honours HTTPS_PROXY like the Pulumi providers do, so the address is the one their
    requests leave from too.
    """

    def __init__(self, source: str = "https://api.ipify.org") -> None:
        self.source = source

    def address(self) -> ipaddress.IPv4Address:
        try:
            with urllib.request.urlopen(self.source, timeout=LOOKUP_TIMEOUT_SECONDS) as answer:
                text = answer.read(64).decode("ascii", "replace").strip()
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise EgressUnknown(f"{self.source} did not answer ({reason})") from None
        try:
            return ipaddress.IPv4Address(text)
        except ValueError:
            raise EgressUnknown(f"{self.source} answered {text[:40]!r}, not an address") from None


def check(report: Report, facts: StackFacts, egress: Egress) -> None:
    ranges = facts.authorized_ip_ranges
    if not ranges:
        report.add(
            "SKIP",
            EGRESS,
            "apiServerAuthorizedIpRanges is empty: the API server accepts any address",
        )
        return
    try:
        address = egress.address()
    except EgressUnknown as error:
        report.add(
            "SKIP",
            EGRESS,
            f"cannot learn this machine's public address: {error}; compare `curl -s "
            f"https://api.ipify.org` with apiServerAuthorizedIpRanges ({', '.join(ranges)}) by hand",
        )
        return
    inside = [r for r in ranges if address in ipaddress.IPv4Network(r)]
    if inside:
        report.add(
            "PASS",
            EGRESS,
            f"this machine's address {address} (from {egress.source}) is in "
            f"apiServerAuthorizedIpRanges ({', '.join(inside)})",
        )
        return
    report.add(
        "FAIL",
        EGRESS,
        f"this machine's address {address} (from {egress.source}) is outside "
        f"apiServerAuthorizedIpRanges ({', '.join(ranges)}): `pulumi up` and kubectl from here "
        "would get no answer from the API server",
        f"`pulumi config set --stack {facts.stack} --path "
        f"'apiServerAuthorizedIpRanges[{len(ranges)}]' {address}/32`, or run from a listed network",
    )
