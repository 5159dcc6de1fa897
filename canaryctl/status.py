"""`status`: every Canary in one table, then the last few Flagger events of each.

The run in which Flagger notices a new revision records "New revision detected! Scaling up" before
it writes Progressing (scheduler.go:910-925, v1.44.0): in between, the status still shows the
previous release's Succeeded or Failed. `status` says so rather than show that end as the new
version's (canary.py starting), and explains only Warnings of the release under way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from canaryctl.canary import NEW_REVISION, Canary, starting
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
    by_canary = {
        (c.namespace, c.name): [e for e in events if (e.namespace, e.name) == (c.namespace, c.name)]
        for c in canaries
    }
    revisions = {key: _newest_revision(mine) for key, mine in by_canary.items()}
    rows = [
        (
            c.key,
            _phase(c, revisions[(c.namespace, c.name)]),
            c.traffic,
            f"{c.failed_checks}/{c.threshold}",
            f"{age(c.last_transition, now)} ago" if c.last_transition else "-",
        )
        for c in canaries
    ]
    lines = _table(COLUMNS, rows)
    for c in canaries:
        lines.append("")
        mine = by_canary[(c.namespace, c.name)]
        revision = revisions[(c.namespace, c.name)]
        if starting(c, revision.time if revision else None):
            lines.append(
                f"{c.key}: new revision detected, Flagger is scaling it up; phase and message are "
                f"still the previous release's{': ' + c.message if c.message else ''}"
            )
        else:
            lines.append(f"{c.key}: {c.message}" if c.message else f"{c.key}:")
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
        # Warnings before the newest new-revision event were about an earlier release.
        current = mine[mine.index(revision) :] if revision else mine
        known = next(
            (k for e in reversed(current) if e.type == "Warning" and (k := diagnose(e.message))),
            None,
        )
        if known is not None:
            lines.append(f"  means  {known.advice(c.namespace, c.name)}")
    return "\n".join(lines) + "\n"


def _newest_revision(events: Sequence[Event]) -> Event | None:
    """The newest "New revision detected" event (events come oldest first)."""
    return next((e for e in reversed(events) if e.message.startswith(NEW_REVISION)), None)


def _phase(c: Canary, revision: Event | None) -> str:
    if not c.phase:
        return "(not seen by Flagger)"
    if starting(c, revision.time if revision else None):
        return f"{c.phase} (previous release; new revision starting)"
    return c.phase + (" (awaiting promotion)" if c.awaiting_promotion else "")


def _checks(c: Canary, values: dict[str, float], events: Sequence[Event]) -> list[str]:
    """Each check: what Flagger last measured, its threshold, pass or fail."""
    if not values:
        return ["  checks: nothing measured yet (Flagger records a value at each analysis run)"]
    readings = judge(c.checks, values, no_data_check(events))
    rows = [
        (
            f"    {r.check.name}",
            "-" if r.value is None else number(r.check, r.value),
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
