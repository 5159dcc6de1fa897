"""Recorded releases for the fake API: Flagger's phases and event texts for Canary podinfo.podinfo.

Every message is one of Flagger v1.44.0's format strings (tests/flagger_events.py) formatted with
this Canary's values; "Warning: " marks the ones Flagger records as Warning events.
"""

from __future__ import annotations

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


def progressing(weights: range = range(10, 60, 10)) -> list[Frame]:
    """Flagger notices revision rev-2, starts the analysis and advances through `weights`."""
    start = [Frame("Progressing", events=(NEW,)), Frame("Progressing", events=(START,))]
    return start + [
        Frame("Progressing", w, events=(fe.sprintf(fe.ADVANCE, "podinfo", NS, w),)) for w in weights
    ]


def promoted() -> list[Frame]:
    copying = fe.sprintf(fe.COPYING, "podinfo", NS, "podinfo-primary", NS)
    return [
        Frame("Promoting", 50, events=(copying,)),
        Frame("Finalising", events=(fe.ROUTING_ALL,)),
        Frame("Succeeded", events=(fe.sprintf(fe.PROMOTED, "podinfo", NS),)),
    ]


def promotion() -> list[Frame]:
    """Succeeded (previous release) -> Progressing 10..50% -> Promoting -> Finalising -> Succeeded."""
    return [Frame("Succeeded", revision="rev-1"), *progressing(), *promoted()]


def rollback() -> list[Frame]:
    """Failed checks rise to the threshold of 5 at 20%, then Flagger rolls back."""
    halts = [Frame("Progressing", 20, n, events=(HALT,)) for n in range(1, 6)]
    threshold = "Warning: " + fe.sprintf(fe.THRESHOLD, "podinfo", NS, 5)
    return [
        *progressing(range(10, 30, 10)),
        *halts,
        Frame("Failed", events=(threshold, SCALED_DOWN)),
    ]


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
    """At 50% the release waits at the promotion gate until it is opened."""
    waiting = Frame("WaitingPromotion", 50, events=(APPROVAL,), hold_until="gate")
    return [*progressing(), waiting, *promoted()]
