"""`wait`: follow one release until Flagger promotes it (exit 0), rolls it back (1) or time runs out (2).

Which release, and when is it over? `wait` usually starts right after `pulumi up` changed the
Deployment, and Flagger only notices at its next run, up to one analysis interval later; until
then the Canary still shows the previous release's phase, e.g. Succeeded. A release has started
once Flagger reports it, either
  - by a phase of a release under way (Initializing, Progressing, Waiting, WaitingPromotion,
    Promoting, Finalising), or
  - by its event "New revision detected! ..." newer than what `wait` saw when it began (a release
    that began, and perhaps ended, between two polls): Flagger records it with every start
    (pkg/controller/scheduler.go:910, :316).
status.lastAppliedSpec alone is no sign: while a Canary is Failed, Flagger re-syncs it at every run
(scheduler.go shouldAdvance:862-866, pkg/canary/status.go syncCanaryStatus), so reverting the
version after a failure changes it although no release runs, and a new version shows it for a
moment before Progressing. When it equals status.lastPromotedSpec in the Failed phase, the
Deployment is back at the version the primary runs, which Flagger never analyses
(pkg/canary/spec.go hasSpecChanged): `wait` says so and exits 0.
A started release is over when the phase is Succeeded (or Initialized: a new Canary's first
deployment, which Flagger does not analyse), exit 0, or Failed, exit 1, and that phase is this
release's: `wait` saw an active phase after the release's new-revision event, or the status was
written after that event (a release that ran between two polls). The run that notices a revision
records its event before it writes Progressing (scheduler.go:910-925): a poll in between sees the
event next to the previous release's Succeeded or Failed, which is no outcome (canary.py
written_after). Started while a release is
under way, `wait` follows that release; if a newer revision restarts the analysis meanwhile, it
follows the newer one to its end. At the end it prints the release report: each step with its
traffic and each check's value against its threshold (from Prometheus, canaryctl/report.py);
`--output json` prints it as JSON on stdout and the progress on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from canaryctl.canary import ACTIVE_PHASES, NEW_REVISION, TERMINAL_PHASES, Canary, written_after
from canaryctl.checks import Reading, judge, no_data_check, values_by_canary
from canaryctl.diagnosis import Known, diagnose
from canaryctl.display import Display, progress_bar
from canaryctl.errors import OK, ROLLED_BACK, TIMED_OUT, CanaryctlError, Unavailable
from canaryctl.kube import Cluster, Event
from canaryctl.prometheus import Prometheus
from canaryctl.report import Point, Report, analyse, render_json, render_text
from canaryctl.timefmt import clock

NO_RELEASE = 4
"""Internal outcome: the Deployment is back at the promoted version; exits 0."""
OUTCOMES = {OK: "promoted", ROLLED_BACK: "rolled back", TIMED_OUT: "timed out"}
# Phases in which Flagger analyses the release: points of the report.
ANALYSING = frozenset({"Progressing", "WaitingPromotion"})


@dataclass
class Release:
    """What `wait` knows about the release it follows."""

    started: bool
    started_at: datetime | None = None
    active_seen: bool = False
    """An active phase was seen since the release's new-revision event: the next terminal phase
    is its end."""
    revision_at: datetime | None = None
    """When Flagger recorded the release's "New revision detected" event (None: not seen)."""

    def revision(self, at: datetime | None, now: datetime) -> None:
        """A "New revision detected" event newer than the start of `wait`: a release starts, or
        the one under way restarts on a newer revision. Phases seen before it were another's."""
        self.started = True
        self.started_at = self.started_at or at or now
        self.revision_at = at
        self.active_seen = False

    def observe(self, canary: Canary, now: datetime) -> None:
        if canary.phase in ACTIVE_PHASES:
            self.started = True
            self.started_at = self.started_at or now
            self.active_seen = True

    def outcome(self, canary: Canary) -> int | None:
        if not self.started:
            if back_at_promoted(canary):
                return NO_RELEASE
            return None
        if canary.phase in ("Terminating", "Terminated"):
            raise CanaryctlError(f"{canary.key} is being deleted (phase {canary.phase})")
        if canary.phase not in TERMINAL_PHASES:
            return None
        if not (self.active_seen or written_after(canary, self.revision_at)):
            # The previous release's end, still shown while Flagger scales the new one up.
            return None
        return ROLLED_BACK if canary.phase == "Failed" else OK


def back_at_promoted(canary: Canary) -> bool:
    """Failed, with the Deployment's pod template the one the primary runs: Flagger re-synced
    lastAppliedSpec to it (scheduler.go shouldAdvance) and starts no release for it (spec.go
    hasSpecChanged: "do not trigger a canary deployment on manual rollback")."""
    return (
        canary.phase == "Failed"
        and bool(canary.last_promoted_spec)
        and canary.last_applied_spec == canary.last_promoted_spec
    )


def run(
    cluster: Cluster,
    namespace: str,
    name: str,
    timeout: float | None,
    poll: float,
    out: TextIO,
    output: str = "text",
) -> int:
    canary = Canary.from_object(cluster.get_canary(namespace, name))
    limit = canary.default_timeout() if timeout is None else timeout
    # With --output json the report alone goes to stdout, for CI to parse; progress to stderr.
    display = Display(out if output == "text" else sys.stderr)
    display.line(_intro(canary, limit))
    display.line(
        "Progress: phase, canary traffic, analysis steps passed, failed checks (rolled back at "
        f"{canary.threshold}), time since the release started of the planned time."
    )
    # Under way, or a Canary Flagger has not seen yet (no earlier release to mistake for it).
    under_way = canary.phase in ACTIVE_PHASES or not canary.phase
    release = Release(started=under_way, active_seen=under_way)
    events = cluster.canary_events(namespace, name)
    follower = _Follower(cluster, canary, release, display, events)
    if release.started:
        # Joining a release under way: show its story so far and date it from its first event.
        story = _since_new_revision(events)
        for event in story:
            follower.show(event)
        release.started_at = (story[0].time if story else None) or datetime.now(UTC)
        release.revision_at = story[0].time if story else None
        follower.joined = True
        follower.failed_seen = canary.failed_checks
    elif not back_at_promoted(canary):
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
    result = follower.follow(limit, poll)
    report = follower.report(result)
    # The report, then the verdict as the last line (what a CI log is read for).
    if report.steps or report.worst:
        display.line(render_text(report))
    display.finish(follower.verdict_text)
    if output == "json":
        out.write(json.dumps(render_json(report), indent=2) + "\n")
    return OK if result == NO_RELEASE else result


class _Follower:
    """The polling loop of `wait`, with what it has printed and measured so far."""

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
        self.gate_hint_shown = False
        self.joined = False
        """`wait` began during the release: every value Flagger recorded is this release's."""
        self.prometheus = Prometheus(cluster)
        self.values: dict[str, float] = {}
        self.baseline: dict[str, float] | None = None
        self.measured = False
        """Flagger has recorded a value in this release (a value differs from the baseline)."""
        self.unmeasured: str | None = None
        self.shown_checks = ""
        self.release_events: list[Event] = []
        self.points: list[Point] = []
        self.step_seen: str | None = None
        """The step of the previous poll: the traffic the next analysis judges."""
        self.measured_at = ""
        self.failures: dict[str, int] = {}
        """Failed checks Flagger counted at each step (status.failedChecks rising)."""
        self.failed_seen = 0
        self.reached = 0
        self.verdict_text = ""

    def show(self, event: Event) -> None:
        """Print an event, and once per kind what a known one means and what to do."""
        c = self.canary
        self.display.event(event)
        self.release_events.append(event)
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
        was_started = self.release.started
        while True:
            canary, release = self.canary, self.release
            release.observe(canary, datetime.now(UTC))
            self._measure(started_now=release.started and not was_started)
            was_started = release.started
            if release.started:
                self.peak_failed_checks = max(self.peak_failed_checks, canary.failed_checks)
            self.display.progress(
                self._state(),
                key=(
                    release.started,
                    canary.phase,
                    canary.routed_weight,
                    canary.failed_checks,
                    canary.iterations,
                ),
            )
            self._show_checks()
            if release.started and canary.awaiting_promotion and not self.gate_hint_shown:
                self.gate_hint_shown = True
                self.display.line(
                    f"  {canary.key} waits at the promotion gate: {_promote_hint(canary)}"
                )
            result = release.outcome(canary)
            if result is not None:
                self.verdict_text = self._verdict(result)
                return result
            remaining = deadline - time.monotonic() if deadline is not None else poll
            if remaining <= 0:
                self.verdict_text = self._timed_out(limit)
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
                if event.message.startswith(NEW_REVISION):
                    if self.release.started:
                        # A newer revision restarts the analysis: its report starts afresh.
                        self.points, self.release_events = [], []
                        self.baseline, self.measured = dict(self.values), False
                        self.step_seen, self.reached = None, 0
                        self.failures, self.failed_seen = {}, 0
                    self.release.revision(event.time, datetime.now(UTC))
                self.show(event)

    def _measure(self, started_now: bool) -> None:
        """The checks' values as Flagger recorded them; a report point for each new analysis.

        Flagger queries a window, then moves the traffic in the same run (scheduler.go
        runAnalysis, then runCanary): values that changed since the last poll judge the traffic
        the previous poll saw, so they belong to that step.
        """
        c = self.canary
        if not c.checks:
            return
        try:
            values = values_by_canary(self.prometheus, c.namespace).get((c.namespace, c.target), {})
        except CanaryctlError as error:
            if self.unmeasured is None:
                self.display.line(f"  checks not shown: {error}")
            self.unmeasured = str(error)
            return
        if self.unmeasured is not None:
            self.display.line("  Prometheus answers again: checks shown")
            self.unmeasured = None
        new = values != self.values
        self.values = values
        if started_now and not self.joined:
            # Recorded before this release's first analysis: the previous release's values.
            self.baseline = dict(values)
        if new and self.release.started and self.baseline != values:
            self.measured = True
            if self.step_seen is not None:
                self.measured_at = self.step_seen
                self.points.append(
                    Point(
                        time.time(),
                        self.step_seen,
                        dict(values),
                        no_data_check(self.release_events),
                    )
                )
        self.step_seen = self._step() if self.release.started and c.phase in ANALYSING else None
        if self.step_seen is not None and c.failed_checks > self.failed_seen:
            # A failed check moves no traffic: it judged the step the release is still at.
            self.failures[self.step_seen] = (
                self.failures.get(self.step_seen, 0) + c.failed_checks - self.failed_seen
            )
        if self.release.started:
            self.failed_seen = c.failed_checks

    def _step(self) -> str | None:
        c = self.canary
        done, _ = c.progress()
        if c.by_iterations:
            return f"iteration {done}" if done else None
        self.reached = max(self.reached, c.routed_weight)
        return f"{c.routed_weight}%" if c.routed_weight else None

    def _readings(self) -> list[Reading]:
        return judge(self.canary.checks, self.values, no_data_check(self.release_events))

    def _show_checks(self) -> None:
        """One line with every check whenever Flagger records new values in this release."""
        if not (self.release.started and self.measured and self.values) or self.unmeasured:
            return
        at = f" at {self.measured_at}" if self.measured_at else ""
        text = f"  checks{at}  " + " · ".join(r.text() for r in self._readings())
        if text != self.shown_checks:
            self.shown_checks = text
            self.display.line(text)

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
            f"iteration {done}/{c.planned_iterations}"
            if c.by_iterations
            else f"{c.routed_weight}/{c.max_weight}%"
        )
        elapsed = clock(
            (datetime.now(UTC) - (release.started_at or datetime.now(UTC))).total_seconds()
        )
        planned = clock(c.plan().promotion_seconds)
        phase = "awaiting promotion" if c.awaiting_promotion else c.phase
        if c.phase in TERMINAL_PHASES and release.outcome(c) is None:
            phase = "starting"  # the previous release's end, until Flagger writes Progressing
        # Fits 80 columns: passed analysis steps, failed checks (of the threshold), time.
        return (
            f"{phase:<16} {bar} {moved:>7}  passed {done}/{total}  "
            f"failed {c.failed_checks}/{c.threshold}  {elapsed} of ~{planned}"
        )

    def report(self, result: int) -> Report:
        """The release as `wait` saw it: steps, checks, outcome."""
        c = self.canary
        # Points are recorded only for values this release measured (see _measure).
        steps, worst = analyse(c.checks, self.points, None, self.failures)
        started = self.release.started_at.timestamp() if self.release.started_at else None
        done, total = c.progress()
        if c.by_iterations:
            reached = f"{done} of {total} iterations"
        else:
            planned = c.plan().weights
            passed = sum(1 for w in planned if w <= self.reached)
            reached = f"{self.reached}% ({passed} of {len(planned)} steps)"
        outcome = {**OUTCOMES, NO_RELEASE: "no release"}.get(result, "unknown")
        if result == OK and c.phase == "Initialized":
            outcome = "initialized"
        lines = self.verdict_text.splitlines()
        why = next((line.split("why: ", 1)[1] for line in lines if "why: " in line), "")
        return Report(
            canary=c.key,
            outcome=outcome,
            checks=c.checks,
            started_at=started,
            ended_at=time.time() if self.release.started else None,
            planned_seconds=c.plan().promotion_seconds,
            failed_checks=self.peak_failed_checks if self.release.started else None,
            threshold=c.threshold,
            reason=why or (c.message if result == ROLLED_BACK else ""),
            steps=steps,
            worst=worst if self.points else (),
            reached=reached if self.release.started and self.points else "",
        )

    def _verdict(self, result: int) -> str:
        c = self.canary
        started = self.release.started_at or datetime.now(UTC)
        took = clock((datetime.now(UTC) - started).total_seconds())
        if result == NO_RELEASE:
            return (
                f"NO RELEASE for {c.key}: its Deployment is back at the version the primary runs "
                "(lastAppliedSpec equals lastPromotedSpec after the failed release), which Flagger "
                "does not analyse; the primary keeps serving it. The Canary stays Failed until the "
                "next new version."
            )
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
                f"`canaryctl status -n {c.namespace}`"
            )
        return "\n".join(lines)

    def _timed_out(self, limit: float) -> str:
        c = self.canary
        where = f"phase {c.phase or '-'}, weight {c.routed_weight}/{c.max_weight}%, failed checks {c.failed_checks}/{c.threshold}"
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
                f"slower than planned: see `canaryctl status -n {c.namespace}`, "
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
    return f"approve it with `canaryctl promote {canary.name} -n {canary.namespace}`"


def _key(event: Event) -> tuple[object, ...]:
    return (event.namespace, event.name, event.message, event.count, event.time)
