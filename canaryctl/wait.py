"""`wait`: follow one release until Flagger promotes it (exit 0), rolls it back (1) or time runs out (2).

Which release, and when is it over? `wait` usually starts right after `pulumi up` changed the
Deployment, and Flagger only notices at its next run, up to one analysis interval later; until
then the Canary still shows the previous release's phase, e.g. Succeeded. So `wait` records
status.lastAppliedSpec (the hash of the pod template Flagger last acted on) at the start, and a
release has started once either
  - the phase is one of a release under way (Initializing, Progressing, Waiting,
    WaitingPromotion, Promoting, Finalising), or
  - lastAppliedSpec differs from the recorded hash (a release that began, and perhaps ended,
    between two polls).
A started release is over when the phase is Succeeded (or Initialized: a new Canary's first
deployment, which Flagger does not analyse), exit 0, or Failed, exit 1. Succeeded or Failed
before the start belongs to the previous release and is ignored. Started while a release is under
way, `wait` follows that release; if a newer revision restarts the analysis meanwhile, it follows
the newer one to its end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from canaryctl.canary import ACTIVE_PHASES, Canary
from canaryctl.diagnosis import Known, diagnose
from canaryctl.display import Display, progress_bar
from canaryctl.errors import OK, ROLLED_BACK, TIMED_OUT, CanaryctlError, Unavailable
from canaryctl.kube import Cluster, Event
from canaryctl.timefmt import clock

NEW_REVISION = "New revision detected"


@dataclass
class Release:
    """What `wait` knows about the release it follows."""

    baseline_spec: str
    started: bool
    started_at: datetime | None = None

    def observe(self, canary: Canary, now: datetime) -> None:
        if not self.started and (
            canary.phase in ACTIVE_PHASES or canary.last_applied_spec != self.baseline_spec
        ):
            self.started = True
            self.started_at = self.started_at or now

    def outcome(self, canary: Canary) -> int | None:
        if not self.started:
            return None
        if canary.phase in ("Succeeded", "Initialized"):
            return OK
        if canary.phase == "Failed":
            return ROLLED_BACK
        if canary.phase in ("Terminating", "Terminated"):
            raise CanaryctlError(f"{canary.key} is being deleted (phase {canary.phase})")
        return None


def run(
    cluster: Cluster, namespace: str, name: str, timeout: float | None, poll: float, out: TextIO
) -> int:
    canary = Canary.from_object(cluster.get_canary(namespace, name))
    limit = canary.default_timeout() if timeout is None else timeout
    display = Display(out)
    display.line(_intro(canary, limit))
    display.line(
        "Progress: phase, canary traffic, analysis steps passed, failed checks (rolled back at "
        f"{canary.threshold}), time since the release started of the planned time."
    )
    release = Release(
        canary.last_applied_spec, started=canary.phase in ACTIVE_PHASES or not canary.phase
    )
    events = cluster.canary_events(namespace, name)
    follower = _Follower(cluster, canary, release, display, events)
    if release.started:
        # Joining a release under way: show its story so far and date it from its first event.
        story = _since_new_revision(events)
        for event in story:
            follower.show(event)
        release.started_at = (story[0].time if story else None) or datetime.now(UTC)
    else:
        display.line(
            f"Waiting for Flagger to notice a new revision; {canary.key} still shows the "
            f"previous release ({canary.phase})."
        )
        # A stall Flagger reports every run (e.g. the route's parent not ready) is already in
        # the events: show what it said in the last two runs.
        now = datetime.now(UTC)
        for event in events:
            recent = (
                event.time and (now - event.time).total_seconds() <= 2 * canary.interval_seconds
            )
            if recent and event.type == "Warning" and diagnose(event.message):
                follower.show(event)
    return follower.follow(limit, poll)


class _Follower:
    """The polling loop of `wait`, with what it has printed so far."""

    def __init__(
        self,
        cluster: Cluster,
        canary: Canary,
        release: Release,
        display: Display,
        events: list[Event],
    ) -> None:
        self.cluster = cluster
        self.canary = canary
        self.release = release
        self.display = display
        self.seen = {_key(e) for e in events}
        # Flagger resets failedChecks to 0 when it marks the release Failed; keep the peak.
        self.peak_failed_checks = 0
        self.warnings: list[str] = []
        """Warning events of this release; Flagger explains a rollback in one of them."""
        self.advised: set[str] = set()
        """Known events whose meaning was printed (once each)."""
        self.last_known: tuple[Known, str] | None = None
        """The newest recognised Warning event and its text: the likely cause of a stall."""
        self.revision_time: datetime | None = None
        self.gate_hint_shown = False

    def show(self, event: Event) -> None:
        """Print an event, and once per kind what a known one means and what to do."""
        c = self.canary
        self.display.event(event)
        known = diagnose(event.message)
        if event.type == "Warning":
            self.warnings.append(event.message)
            if known is not None:
                self.last_known = (known, event.message)
        if known is not None and known.key not in self.advised:
            self.advised.add(known.key)
            self.display.line(f"  means  {known.advice(c.namespace, c.name)}")

    def follow(self, limit: float, poll: float) -> int:
        deadline = time.monotonic() + limit if limit > 0 else None
        unavailable = False
        while True:
            canary, release = self.canary, self.release
            release.observe(canary, self.revision_time or datetime.now(UTC))
            if release.started:
                self.peak_failed_checks = max(self.peak_failed_checks, canary.failed_checks)
            self.display.progress(
                self._state(),
                key=(
                    release.started,
                    canary.phase,
                    canary.weight,
                    canary.failed_checks,
                    canary.iterations,
                ),
            )
            if release.started and canary.phase == "WaitingPromotion" and not self.gate_hint_shown:
                self.gate_hint_shown = True
                self.display.line(
                    f"  {canary.key} waits at the promotion gate: {_promote_hint(canary)}"
                )
            result = release.outcome(canary)
            if result is not None:
                self.display.finish(self._verdict(result))
                return result
            remaining = deadline - time.monotonic() if deadline is not None else poll
            if remaining <= 0:
                self.display.finish(self._timed_out(limit))
                return TIMED_OUT
            time.sleep(min(poll, remaining))
            try:
                fetched = Canary.from_object(self.cluster.get_canary(canary.namespace, canary.name))
                fresh = [
                    e
                    for e in self.cluster.canary_events(canary.namespace, canary.name)
                    if _key(e) not in self.seen
                ]
            except Unavailable as error:
                # A blip (API server upgrade, network) must not end a long wait; `wait` gives up
                # only at its timeout.
                if not unavailable:
                    self.display.line(f"  warning: {error}; retrying every {poll:g} s")
                unavailable = True
                continue
            if unavailable:
                self.display.line("  the Kubernetes API answers again")
                unavailable = False
            self.canary = fetched
            for event in fresh:
                self.seen.add(_key(event))
                self.show(event)
                if event.message.startswith(NEW_REVISION):
                    self.revision_time = event.time

    def _state(self) -> str:
        c, release = self.canary, self.release
        if not release.started:
            return (
                f"{c.phase or '-':<16} previous release; waiting for Flagger to start the new one"
            )
        done, total = c.progress()
        if c.phase in ("Promoting", "Finalising", "Succeeded"):
            done = total
        bar = progress_bar(done, total)
        moved = (
            f"iteration {c.iterations}/{c.planned_iterations}"
            if c.by_iterations
            else f"{c.weight}/{c.max_weight}%"
        )
        elapsed = clock(
            (datetime.now(UTC) - (release.started_at or datetime.now(UTC))).total_seconds()
        )
        planned = clock(c.plan().promotion_seconds)
        # Fits 80 columns: passed analysis steps, failed checks (of the threshold), time.
        return (
            f"{c.phase:<16} {bar} {moved:>7}  passed {done}/{total}  "
            f"failed {c.failed_checks}/{c.threshold}  {elapsed} of ~{planned}"
        )

    def _verdict(self, result: int) -> str:
        c = self.canary
        started = self.release.started_at or datetime.now(UTC)
        took = clock((datetime.now(UTC) - started).total_seconds())
        if result == OK and c.phase == "Initialized":
            return f"INITIALIZED {c.key}: first deployment, not analysed; the primary serves all traffic."
        if result == OK:
            return f"PROMOTED {c.key} after {took} (planned ~{clock(c.plan().promotion_seconds)})."
        lines = [f"ROLLED BACK {c.key} after {took}: {c.message or 'Flagger gave no reason'}"]
        # A final event ("Rolling back ... failed checks threshold reached 5", "canary deployment
        # ... exceeded its progress deadline") says why; "Canary failed! Scaling down" does not.
        final = [
            (known, w) for w in self.warnings if (known := diagnose(w)) is not None and known.final
        ]
        if not final:
            # Unavailable past the deadline, Flagger rolls back with the same "waiting for
            # rollout to finish" text it reports while it waits (deployment_ready.go:82-86).
            final = [
                (known, w)
                for w in self.warnings
                if (known := diagnose(w)) is not None and known.key == "canary-starting"
            ][-1:]
        if final:
            known, why = final[-1]
            lines.append(f"  why: {why}")
            lines.append(f"  means  {known.advice(c.namespace, c.name)}")
        elif self.warnings:
            lines.append(f"  why: {self.warnings[-1]}")
        if not final:
            # client-go's spam filter lets 25 events per Canary through, then one per 5 minutes
            # (tools/record/events_cache.go defaultSpamBurst, defaultSpamQPS): a long release may
            # lose its last events, never Flagger's log.
            lines.append(
                "  Flagger's final event is missing (events are rate-limited per Canary): "
                "`kubectl -n flagger-system logs deploy/flagger` has every one"
            )
        if not final or final[-1][0].key == "threshold":
            lines.append(
                f"  failed checks reached {self.peak_failed_checks}/{c.threshold}; events: "
                f"`python -m canaryctl status -n {c.namespace}`"
            )
        return "\n".join(lines)

    def _timed_out(self, limit: float) -> str:
        c = self.canary
        where = f"phase {c.phase or '-'}, weight {c.weight}/{c.max_weight}%, failed checks {c.failed_checks}/{c.threshold}"
        if self.last_known is not None:
            # Flagger said why it is stuck: that, not a guess, is the hint.
            known, message = self.last_known
            hint = f"Flagger reports: {message}\n  means  {known.advice(c.namespace, c.name)}"
        elif not self.release.started:
            hint = (
                "Flagger never started a release: did the Deployment's pod template change? "
                "Is Flagger running (`kubectl -n flagger-system logs deploy/flagger`)?"
            )
        elif c.phase == "WaitingPromotion":
            hint = f"the release waits at the promotion gate: {_promote_hint(c)}"
        else:
            hint = (
                f"slower than planned: see `python -m canaryctl status -n {c.namespace}`, "
                "or give it longer with --timeout"
            )
        return f"TIMED OUT after {clock(limit)} following {c.key} ({where})\n  {hint}"


def _intro(canary: Canary, limit: float) -> str:
    planned = canary.plan()
    steps = (
        f"{canary.planned_iterations} iterations"
        if canary.by_iterations
        else f"{len(planned.weights)} steps to {canary.max_weight}%"
    )
    gate = ", then a manual promotion gate" if planned.analysis.manual_promotion else ""
    until = f"timeout {clock(limit)}" if limit > 0 else "no timeout"
    text = (
        f"Following {canary.key}: {steps} every {clock(canary.interval_seconds)}{gate}; "
        f"promotion planned ~{clock(planned.promotion_seconds)} after Flagger notices; {until}."
    )
    if canary.never_advances:
        text += (
            "\n  warning: this Canary sets neither stepWeight nor stepWeights, so Flagger never "
            "shifts traffic to the canary and the release cannot end: set analysis.stepWeight"
        )
    return text


def _since_new_revision(events: list[Event]) -> list[Event]:
    starts = [i for i, e in enumerate(events) if e.message.startswith(NEW_REVISION)]
    return events[starts[-1] :] if starts else []


def _promote_hint(canary: Canary) -> str:
    return f"approve it with `python -m canaryctl promote {canary.name} -n {canary.namespace}`"


def _key(event: Event) -> tuple[object, ...]:
    return (event.namespace, event.name, event.message, event.count, event.time)
