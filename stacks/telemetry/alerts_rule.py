"""Telemetry layer, alerting: one Prometheus alerting rule, linked to its section of the runbook."""

from __future__ import annotations

from typing import Any


def runbook_anchor(alert: str) -> str:
    """The #fragment of the alert's section: its `## <alert>` heading in docs/runbook.md, as
    Git hosts slug headings (lower case; an alert name has no spaces or punctuation)."""
    return alert.lower()


def rule(
    alert: str,
    expr: str,
    for_: str,
    severity: str,
    description: str,
    runbook: str,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An alerting rule; `runbook` is where people open docs/runbook.md (config runbookUrl)."""
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, **(labels or {})},
        "annotations": {
            "description": description,
            "runbook_url": f"{runbook}#{runbook_anchor(alert)}",
        },
    }
