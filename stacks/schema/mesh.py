"""Config schema, mesh section: Linkerd's version, availability and trust anchors."""

from __future__ import annotations

import re

from pydantic import StrictBool, ValidationInfo, field_validator, model_validator

from stacks import pins
from stacks.schema.base import Section, setting
from stacks.schema.problems import Rules

EDGE_CHART_VERSION = re.compile(r"^(\d{4})\.(\d{1,2})\.(\d+)$")
GATEWAY_API_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
# The oldest Linkerd chart and the Gateway API range it accepts, as the pins name them.
MIN_LINKERD = f"{pins.version_text(pins.MIN_LINKERD_CHART)} (Linkerd 2.20)"
GATEWAY_API_RANGE = " to ".join(pins.version_text(v, "v") for v in pins.GATEWAY_API_RANGE)


def _linkerd_version(value: str) -> str | None:
    match = EDGE_CHART_VERSION.match(value)
    if match is None:
        return "an edge chart version YYYY.M.N, e.g. 2026.8.3 (not a stable-2.x tag)"
    if tuple(int(part) for part in match.groups()) < pins.MIN_LINKERD_CHART:
        return f"{MIN_LINKERD} or newer"
    return None


def _gateway_api_version(value: str) -> str | None:
    match = GATEWAY_API_VERSION.match(value)
    low, high = pins.GATEWAY_API_RANGE
    if match is None or not low <= tuple(int(part) for part in match.groups()) <= high:
        return f"{GATEWAY_API_RANGE} (what Linkerd 2.20 accepts), e.g. {pins.GATEWAY_API_VERSION}"
    if value not in pins.GATEWAY_API_CRDS:
        pinned = ", ".join(sorted(pins.GATEWAY_API_CRDS))
        return f"a version whose CRD files are pinned in stacks/pins.py ({pinned}); add its sha256s first"
    return None


class MeshConfig(Section):
    """Linkerd: version, availability and its trust anchors."""

    linkerd_version: str = setting(
        pins.LINKERD_VERSION,
        "Linkerd edge Helm chart version (YYYY.M.N); the platform was checked against "
        f"{pins.LINKERD_VERSION} and refuses releases before {MIN_LINKERD}.",
        check=_linkerd_version,
        allowed=f"an edge chart version YYYY.M.N, {pins.version_text(pins.MIN_LINKERD_CHART)} or newer",
    )
    gateway_api_version: str = setting(
        pins.GATEWAY_API_VERSION,
        "Gateway API CRDs (standard channel) to install before Linkerd; Linkerd 2.20 accepts "
        f"{GATEWAY_API_RANGE} and recommends {pins.GATEWAY_API_VERSION}.",
        check=_gateway_api_version,
        allowed=f"{GATEWAY_API_RANGE}, with its CRD files pinned in stacks/pins.py",
    )
    high_availability: StrictBool = setting(
        False,
        "Linkerd's HA settings (3 replicas, PDBs, anti-affinity, webhook failure policy Fail); "
        "needs at least 3 user nodes.",
        alias="meshHighAvailability",
    )
    trust_anchor_validity_days: int = setting(
        3650,
        "Lifetime of each Linkerd trust anchor (root CA). The trustAnchorExpiry output says when; "
        "an alert fires 60 days before.",
        on_change="applies to new anchor generations only; a running anchor is never swapped",
        unit="days",
        ge=365,
        le=7300,
    )
    trust_anchor_generations: tuple[int, ...] = setting(
        (1,),
        "Generations of the trust anchor that proxies trust, 1 or 2 entries (two only while "
        "rotating), e.g. [1] or [1, 2]; a rotation is a sequence of `pulumi up` runs "
        '(docs/operations.md, "Rotate the trust anchor").',
        allowed="a non-empty list of whole numbers 1-1000: one generation, or two different "
        "ones while rotating, e.g. [1] or [1, 2]",
    )
    issuer_anchor_generation: int = setting(
        1,
        "Which trusted anchor generation signs the identity issuer (cert-manager, 48h, renewed "
        "25h ahead); one of trustAnchorGenerations.",
        ge=1,
        le=1000,
    )

    @field_validator("trust_anchor_generations")
    @classmethod
    def _each_once(cls, generations: tuple[int, ...]) -> tuple[int, ...]:
        """The trusted generations, each once, in order ([2, 1, 2] trusts 1 and 2)."""
        return tuple(sorted(set(generations)))

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> MeshConfig:
        rules = Rules(info)
        generations = self.trust_anchor_generations
        key = "trustAnchorGenerations"
        if rules.valid(key):
            if not generations or any(not 1 <= g <= 1000 for g in generations):
                rules.refuse(key, list(generations), "a non-empty list of whole numbers 1-1000")
            elif not 1 <= len(set(generations)) <= 2:
                rules.refuse(
                    key,
                    list(generations),
                    "one generation, or two different ones while rotating, e.g. [1] or [1, 2]",
                )
        if rules.valid(key, "issuerAnchorGeneration") and (
            self.issuer_anchor_generation not in generations
        ):
            rules.refuse(
                "issuerAnchorGeneration",
                self.issuer_anchor_generation,
                f"one of trustAnchorGenerations {list(generations)}: proxies must trust the "
                "anchor that signs their certificates",
            )
        rules.done(self)
        return self
