"""docs/runbook.md: every alert's runbook_url lands on a section that says what it means and what
to do; the trust anchor's lifecycle is set explicitly and warned about ahead of its end."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest

from stacks.mesh import identity
from tests.harness import ROOT, Run

RUNBOOK = ROOT / "docs" / "runbook.md"


def slug(heading: str) -> str:
    """A heading's anchor as Git hosts make it: lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def sections() -> dict[str, str]:
    """Anchor -> text of each `## ` section."""
    found: dict[str, str] = {}
    current = None
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("## "):
            current = slug(line[3:])
            found[current] = ""
        elif current is not None:
            found[current] += line + "\n"
    return found


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_runbook_link_lands_on_a_section_that_says_what_to_do(
    stack: str, runs: dict[str, Run]
) -> None:
    found = sections()
    groups = runs[stack].release("prometheus").inputs["values"]["serverFiles"]
    for group in groups["alerting_rules.yml"]["groups"]:
        for rule in group["rules"]:
            url = urlparse(rule["annotations"]["runbook_url"])
            assert url.path == "docs/runbook.md", rule["alert"]
            assert url.fragment in found, f"{rule['alert']}: no section #{url.fragment}"
            text = found[url.fragment]
            assert "**Means:**" in text, f"{rule['alert']}: the section says not what it means"
            assert "**Do:**" in text or "### Rotate" in text, f"{rule['alert']}: nor what to do"


def test_the_slug_is_what_git_hosts_make() -> None:
    assert slug("TrustAnchorExpiring") == "trustanchorexpiring"
    assert slug("Where alerts go") == "where-alerts-go"


def test_the_anchor_renewal_window_is_set_explicitly(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod", "local"):
        for anchor in runs[stack].of_type("tls:index/selfSignedCert:SelfSignedCert"):
            # pulumi-tls's default is 0: a re-sign only once the mesh is already down.
            assert anchor.inputs["earlyRenewalHours"] == 30 * 24, stack
            assert anchor.inputs["earlyRenewalHours"] < 60 * 24, "after the alert, not before"


def test_up_warns_from_the_day_the_alert_fires_and_says_when_it_expired() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert identity.anchor_warning(1, "2030-03-15T00:00:00Z", now) is None
    soon = identity.anchor_warning(2, "2030-02-01T00:00:00Z", now)
    assert soon is not None and "generation 2 expires on 2030-02-01 (in 31 days)" in soon
    assert "docs/runbook.md#trustanchorexpiring" in soon
    past = identity.anchor_warning(1, "2029-12-01T00:00:00Z", now)
    assert past is not None and "expired on 2029-12-01" in past
    assert "identity refuses every certificate request" in past
