"""`status`: every Canary in one table, then the last few Flagger events of each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from canaryctl.canary import Canary
from canaryctl.diagnosis import diagnose
from canaryctl.errors import OK, CanaryctlError
from canaryctl.kube import Cluster, Event
from canaryctl.timefmt import age

COLUMNS = ("CANARY", "PHASE", "WEIGHT", "FAILED CHECKS", "LAST TRANSITION")


def run(cluster: Cluster, namespace: str | None, events: int, out: TextIO) -> int:
    canaries = sorted(
        (Canary.from_object(obj) for obj in cluster.list_canaries(namespace)),
        key=lambda c: (c.namespace, c.name),
    )
    if not canaries:
        where = f"namespace {namespace}" if namespace else "any namespace"
        out.write(f"No canaries in {where}.\n")
        return OK
    recent: list[Event] = []
    missing = ""
    if events > 0:
        try:
            # One call for the events of every Canary in scope, rather than one per Canary.
            recent = cluster.canary_events(namespace)
        except CanaryctlError as error:
            # The table is still worth having when events cannot be read (e.g. RBAC).
            missing = f"\n(events not shown: {error})\n"
    out.write(render(canaries, recent, datetime.now(UTC), 0 if missing else events) + missing)
    return OK


def render(
    canaries: Sequence[Canary], events: Sequence[Event], now: datetime, per_canary: int
) -> str:
    """The table, then per Canary its condition message and last events (newest last)."""
    rows = [
        (
            c.key,
            c.phase or "(not seen by Flagger)",
            f"{c.weight}/{c.max_weight}%",
            f"{c.failed_checks}/{c.threshold}",
            f"{age(c.last_transition, now)} ago" if c.last_transition else "-",
        )
        for c in canaries
    ]
    lines = _table(COLUMNS, rows)
    for c in canaries:
        lines.append("")
        lines.append(f"{c.key}: {c.message}" if c.message else f"{c.key}:")
        mine = [e for e in events if (e.namespace, e.name) == (c.namespace, c.name)]
        if per_canary <= 0:
            continue
        if not mine:
            lines.append("  no recent events (Kubernetes keeps events for about an hour)")
        for event in mine[-per_canary:]:
            repeated = f" (x{event.count})" if event.count > 1 else ""
            lines.append(
                f"  {age(event.time, now):>4} ago  {event.type:<7}  {event.message}{repeated}"
            )
        # The newest event Flagger explains a stall or failure with: what it means, what to do.
        known = next(
            (k for e in reversed(mine) if e.type == "Warning" and (k := diagnose(e.message))),
            None,
        )
        if known is not None:
            lines.append(f"  means  {known.advice(c.namespace, c.name)}")
    return "\n".join(lines) + "\n"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
