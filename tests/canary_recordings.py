"""Recorded releases for the fake API: Flagger's phases and event texts for Canary podinfo.podinfo.

Every message is one of Flagger v1.44.0's format strings (tests/flagger_events.py) formatted with
this Canary's values; "Warning: " marks the ones Flagger records as Warning events. Status fields
follow Flagger's writes (pkg/canary/status.go at v1.44.0): entering WaitingPromotion sets
canaryWeight 0 and iterations to analysis.iterations - 1 (-1 for the canary strategy, which sets
no iterations), Promoting keeps them, Finalising zeroes them; Succeeded copies lastAppliedSpec to
lastPromotedSpec; while Failed, every run re-syncs lastAppliedSpec to the Deployment's template
(scheduler.go shouldAdvance). Check values are what Flagger records in that run, in order,
stopping at the first failure (scheduler_metrics.go runMetricChecks).
"""

from __future__ import annotations

import dataclasses

from tests import flagger_events as fe
from tests.fake_kube_api import Frame

NS = "podinfo"
NEW = fe.sprintf(fe.NEW_REVISION, "podinfo", NS)
NOT_READY = fe.sprintf(
    fe.CANARY_NOT_READY, "podinfo", NS, fe.sprintf(fe.WAITING_REPLICAS, 0, 2, 100)
)
HALT = "Warning: " + fe.sprintf(fe.BELOW_MIN, "podinfo", NS, "success-rate", 71.4285, 99)
SCALED_DOWN = "Warning: " + fe.sprintf(fe.SCALED_DOWN, "podinfo", NS)
START = fe.sprintf(fe.STARTING, "podinfo", NS)
APPROVAL = "Warning: " + fe.sprintf(fe.WAITING_PROMOTION, "podinfo", NS, "promotion-gate")


FAILED = "Canary analysis failed, Deployment scaled to zero."


def ran_before(frames: list[Frame], interval: int = 60) -> list[Frame]:
    """`frames` as a release that ended one interval ago: each run's events dated an interval
    apart, as Flagger's ticker records them."""
    return [
        dataclasses.replace(frame, events_age=interval * (len(frames) - i))
        for i, frame in enumerate(frames)
    ]


def healthy(run: int) -> dict[str, float]:
    """What the three checks measure in a healthy run (podinfo under the load tester's load)."""
    return {
        "request-volume": 180.0 + run,
        "success-rate": 100.0,
        "latency": round(8.2 + run / 10, 1),
    }


def progressing(weights: range = range(10, 60, 10), revision: str = "rev-2") -> list[Frame]:
    """Flagger notices revision rev-2, starts the analysis and advances through `weights`; each
    advance after the first follows a passing analysis."""
    start = [
        Frame("Progressing", revision=revision, events=(NEW,)),
        Frame("Progressing", revision=revision, events=(START,)),
    ]
    return start + [
        Frame(
            "Progressing",
            w,
            revision=revision,
            events=(fe.sprintf(fe.ADVANCE, "podinfo", NS, w),),
            checks=healthy(i) if i else None,
        )
        for i, w in enumerate(weights)
    ]


def promoted(revision: str = "rev-2") -> list[Frame]:
    copying = fe.sprintf(fe.COPYING, "podinfo", NS, "podinfo-primary", NS)
    return [
        # The analysis at 50% passes and promotes in the same run (scheduler.go:619-632).
        Frame("Promoting", 50, revision=revision, events=(copying,), checks=healthy(9)),
        Frame("Finalising", revision=revision, events=(fe.ROUTING_ALL,)),
        Frame(
            "Succeeded",
            revision=revision,
            promoted=revision,
            events=(fe.sprintf(fe.PROMOTED, "podinfo", NS),),
        ),
    ]


def promotion() -> list[Frame]:
    """Succeeded (previous release) -> Progressing 10..50% -> Promoting -> Finalising -> Succeeded."""
    return [Frame("Succeeded", revision="rev-1"), *progressing(), *promoted()]


def quick_release() -> list[Frame]:
    """A whole release between two polls (e.g. while the API server was out of reach): only its
    events tell that it ran, and its Succeeded was written after them: Flagger's runs are an
    interval (60 s) apart, so the events are dated one interval per run before that write."""
    frames = progressing() + promoted()
    story = tuple(event for frame in frames for event in frame.events)
    return [
        Frame("Succeeded", revision="rev-1"),
        Frame(
            "Succeeded",
            revision="rev-2",
            promoted="rev-2",
            events=story,
            events_age=60 * len(frames),
        ),
    ]


def new_version_after_success() -> list[Frame]:
    """rev-2 after rev-1 was promoted, as the run that notices it writes it: Succeeded is not
    re-synced (scheduler.go shouldAdvance only re-syncs Failed), so between the event
    "New revision detected! Scaling up" (:910) and Progressing (:925) a poll sees the event next
    to rev-1's Succeeded, which is not rev-2's outcome."""
    done = Frame("Succeeded", revision="rev-1", promoted="rev-1")
    noticed = Frame("Succeeded", revision="rev-1", promoted="rev-1", events=(NEW,))
    return [done, noticed, Frame("Progressing"), *progressing()[1:], *promoted()]


def rollback() -> list[Frame]:
    """Failed checks rise to the threshold of 5 at 20%, then Flagger rolls back. The volume
    passes and the success rate fails, so latency is not evaluated (it keeps its last value)."""
    failing = {"request-volume": 176.0, "success-rate": 71.4285}
    halts = [Frame("Progressing", 20, n, events=(HALT,), checks=failing) for n in range(1, 6)]
    threshold = "Warning: " + fe.sprintf(fe.THRESHOLD, "podinfo", NS, 5)
    return [
        *progressing(range(10, 30, 10)),
        *halts,
        Frame("Failed", events=(threshold, SCALED_DOWN)),
    ]


def failed_between_polls() -> list[Frame]:
    """rollback() of rev-2 between two polls, after an earlier version had failed too: the
    Canary stays Failed, but Flagger wrote this Failed after rev-2's events (one run per frame,
    an interval apart)."""
    frames = rollback()
    story = tuple(event for frame in frames for event in frame.events)
    return [
        Frame("Failed", revision="rev-earlier", message=FAILED),
        Frame("Failed", message=FAILED, events=story, events_age=60 * len(frames)),
    ]


def reverted_after_failure() -> list[Frame]:
    """After rolling back rev-2 the version is set back to what the primary runs (rev-1): the
    Canary stays Failed and Flagger re-syncs lastAppliedSpec to rev-1 at its next run, but starts
    no release (spec.go hasSpecChanged: lastPromotedSpec equals the template's hash)."""
    failed = Frame("Failed", revision="rev-2", message=FAILED)
    return [failed, failed, Frame("Failed", revision="rev-1", message=FAILED)]


def new_version_after_failure() -> list[Frame]:
    """After rolling back rev-2, rev-3, as one run of Flagger's scheduler writes it
    (pkg/controller/scheduler.go at v1.44.0): shouldAdvance re-syncs lastAppliedSpec while the
    phase is still Failed (:861-866, which also sets lastTransitionTime); checkCanaryStatus then
    records "New revision detected! Scaling up" (:910), posts the alert synchronously (:911),
    resumes the HPA and scales the canary up (:914-924), and only then writes Progressing
    (:925). A poll in that span sees the Failed phase of rev-2's rollback and rev-3's new-revision
    event together: the release has started, and the Failed phase is not its outcome."""
    failed = Frame("Failed", revision="rev-2", message=FAILED)
    resynced = Frame("Failed", revision="rev-3", message=FAILED)
    noticed = Frame("Failed", revision="rev-3", message=FAILED, events=(NEW,))
    # The next poll sees that run's Progressing; its event was already recorded in `noticed`.
    scaled_up = Frame("Progressing", revision="rev-3")
    rest = progressing(revision="rev-3")[1:]
    return [failed, resynced, noticed, scaled_up, *rest, *promoted("rev-3")]


def deadline() -> list[Frame]:
    """The canary Deployment never becomes ready: Kubernetes marks it ProgressDeadlineExceeded,
    which Flagger treats as final (deployment_ready.go:92-93) and rolls back at once."""
    exceeded = fe.sprintf(
        fe.CANARY_NOT_READY, "podinfo", NS, fe.sprintf(fe.DEADLINE_EXCEEDED, "podinfo")
    )
    return [
        Frame("Progressing", events=(NEW,)),
        Frame("Progressing", events=(f"Warning: {NOT_READY}",)),
        Frame("Failed", events=(f"Warning: {exceeded}", SCALED_DOWN)),
    ]


def route_stall(generation: int = 3) -> list[Frame]:
    """Flagger's gatewayapi:v1 router on Linkerd: the route's Accepted condition has no
    observedGeneration, so every run ends before the release starts (the phase stays)."""
    stalled = fe.sprintf(fe.ROUTE_NOT_READY, "podinfo", NS, "podinfo", "True", 0, generation)
    return [Frame("Succeeded", revision="rev-1", events=(f"Warning: {stalled}",))]


def manual() -> list[Frame]:
    """At 50% the release passes its last analysis and waits at the promotion gate until it is
    opened. status.go setStatusPhase(WaitingPromotion): canaryWeight 0, iterations
    analysis.iterations - 1 = -1; the route stays at 50%. Promoting keeps both."""
    gate = {"weight": 0, "iterations": -1}
    waiting = Frame(
        "WaitingPromotion", events=(APPROVAL,), hold_until="gate", checks=healthy(9), **gate
    )
    copying = fe.sprintf(fe.COPYING, "podinfo", NS, "podinfo-primary", NS)
    return [
        *progressing(),
        waiting,
        Frame("Promoting", events=(copying,), **gate),
        *promoted()[1:],
    ]
