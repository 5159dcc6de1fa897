"""Recorded releases for the fake API: Flagger's phases and messages for Canary podinfo.podinfo."""

from __future__ import annotations

from tests.fake_kube_api import Frame

NEW = "New revision detected! Scaling up podinfo.podinfo"
NOT_READY = (
    "canary deployment podinfo.podinfo not ready: waiting for rollout to finish: "
    "0 of 2 (readyThreshold 100%) updated replicas are available"
)
HALT = "Warning: Halt podinfo.podinfo advancement success rate 71.43% < 99%"
SCALED_DOWN = "Warning: Canary failed! Scaling down podinfo.podinfo"
START = "Starting canary analysis for podinfo.podinfo"
APPROVAL = "Halt podinfo.podinfo advancement waiting for promotion approval promotion-gate"


def progressing(weights: range = range(10, 60, 10)) -> list[Frame]:
    """Flagger notices revision rev-2, starts the analysis and advances through `weights`."""
    start = [Frame("Progressing", events=(NEW,)), Frame("Progressing", events=(START,))]
    advance = "Advance podinfo.podinfo canary weight {}"
    return start + [Frame("Progressing", w, events=(advance.format(w),)) for w in weights]


def promoted() -> list[Frame]:
    return [
        Frame(
            "Promoting",
            50,
            events=("Copying podinfo.podinfo template spec to podinfo-primary.podinfo",),
        ),
        Frame("Finalising", events=("Routing all traffic to primary",)),
        Frame("Succeeded", events=("Promotion completed! Scaling down podinfo.podinfo",)),
    ]


def promotion() -> list[Frame]:
    """Succeeded (previous release) -> Progressing 10..50% -> Promoting -> Finalising -> Succeeded."""
    return [Frame("Succeeded", revision="rev-1"), *progressing(), *promoted()]


def rollback() -> list[Frame]:
    """Failed checks rise to the threshold of 5 at 20%, then Flagger rolls back."""
    halts = [Frame("Progressing", 20, n, events=(HALT,)) for n in range(1, 6)]
    threshold = "Warning: Rolling back podinfo.podinfo failed checks threshold reached 5"
    return [
        *progressing(range(10, 30, 10)),
        *halts,
        Frame("Failed", events=(threshold, SCALED_DOWN)),
    ]


def deadline() -> list[Frame]:
    """The canary Deployment never becomes ready: Flagger gives up at progressDeadlineSeconds."""
    exceeded = f"Warning: Rolling back podinfo.podinfo progress deadline exceeded {NOT_READY}"
    return [
        Frame("Progressing", events=(NEW,)),
        Frame("Progressing", events=(f"Warning: {NOT_READY}",)),
        Frame("Failed", events=(exceeded, SCALED_DOWN)),
    ]


def manual() -> list[Frame]:
    """At 50% the release waits at the promotion gate until it is opened."""
    waiting = Frame("WaitingPromotion", 50, events=(APPROVAL,), hold_until="gate")
    return [*progressing(), waiting, *promoted()]
