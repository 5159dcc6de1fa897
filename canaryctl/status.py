"""`status`: every Canary in one table, then the last few Flagger events of each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from canaryctl.canary import Canary
from canaryctl.checks import bound, judge, no_data_check, number, values_by_canary
from canaryctl.diagnosis import diagnose
from canaryctl.errors import OK, CanaryctlError
from canaryctl.kube import Cluster, Event
from canaryctl.prometheus import Prometheus
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
    # Events are read for the checks too (a query that found nothing is only in an event).
    try:
        # One call for the events of every Canary in scope, rather than one per Canary.
        recent = cluster.canary_events(namespace)
    except CanaryctlError as error:
        # The table is still worth having when events cannot be read (e.g. RBAC).
        missing = f"\n(events not shown: {error})\n"
    values: dict[tuple[str, str], dict[str, float]] | None = None
    unmeasured = ""
    try:
        values = values_by_canary(Prometheus(cluster), namespace)
    except CanaryctlError as error:
        unmeasured = f"\n(check values not shown: {error})\n"
    text = render(canaries, recent, datetime.now(UTC), 0 if missing else events, values)
    out.write(text + missing + unmeasured)
    return OK


def render(
    canaries: Sequence[Canary],
    events: Sequence[Event],
    now: datetime,
    per_canary: int,
    values: dict[tuple[str, str], dict[str, float]] | None = None,
) -> str:
    """The table, then per Canary its condition message, its checks as Flagger last measured
    them (`values`, from Prometheus) and last events (newest last)."""
    rows = [
        (
            c.key,
            c.phase + (" (awaiting promotion)" if c.awaiting_promotion else "")
            if c.phase
            else "(not seen by Flagger)",
            c.traffic,
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
        if values is not None and c.checks:
            lines += _checks(c, values.get((c.namespace, c.target), {}), mine)
        if per_canary <= 0:
            continue
        if not mine:
            lines.append("  no recent events (Kubernetes keeps events for about an hour)")
        elif values is not None and c.checks:
            lines.append("  events (newest last):")
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


def _checks(c: Canary, values: dict[str, float], events: Sequence[Event]) -> list[str]:
    """Each check: what Flagger last measured, its threshold, pass or fail."""
    if not values:
        return ["  checks: nothing measured yet (Flagger records a value at each analysis run)"]
    readings = judge(c.checks, values, no_data_check(events))
    rows = [
        (
            f"    {r.check.name}",
            "-" if r.value is None else number(r.check.name, r.value),
            bound(r.check),
            r.state,
        )
        for r in readings
    ]
    return ["  checks (last measured by Flagger):", *_table(("", "", "", ""), rows)[1:]]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
