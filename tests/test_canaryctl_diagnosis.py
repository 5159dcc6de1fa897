"""canaryctl recognises Flagger's stall and failure events by their text at Flagger v1.44.0."""

from __future__ import annotations

import pytest

from canaryctl.diagnosis import KNOWN, diagnose
from tests import flagger_events as fe

NS, NAME = "podinfo", "podinfo"
# Event messages as Flagger formats them (tests/flagger_events.py), and the kind each one is.
EVENTS = [
    (fe.sprintf(fe.ROUTE_NOT_READY, NAME, NS, NAME, "True", 0, 4), "route-not-ready"),
    (fe.sprintf(fe.NO_VALUES_CUSTOM, "success-rate", fe.NO_VALUES_FOUND), "no-values"),
    (fe.sprintf(fe.NO_VALUES_QUERY, "latency"), "no-values-query"),
    (
        fe.sprintf(fe.QUERY_FAILED, "latency", 'Post "http://prometheus-server...": EOF'),
        "query-failed",
    ),
    (fe.sprintf(fe.BELOW_MIN, NAME, NS, "success-rate", 93.75, 99), "below-slo"),
    # The platform's request-volume check, failing on its minimum (0 when nothing came).
    (fe.sprintf(fe.BELOW_MIN, NAME, NS, "request-volume", 0.0, 65), "low-volume"),
    (fe.sprintf(fe.ABOVE_MAX, NAME, NS, "latency", 731.4, 500), "above-slo"),
    (
        fe.sprintf(fe.CANARY_NOT_READY, NAME, NS, fe.sprintf(fe.DEADLINE_EXCEEDED, NAME)),
        "deadline",
    ),
    (
        fe.sprintf(fe.CANARY_NOT_READY, NAME, NS, fe.sprintf(fe.WAITING_REPLICAS, 1, 3, 100)),
        "canary-starting",
    ),
    (
        fe.sprintf(
            fe.PRIMARY_NOT_READY, "podinfo-primary", NS, fe.sprintf(fe.WAITING_REPLICAS, 2, 3, 100)
        ),
        "primary-starting",
    ),
    (
        fe.sprintf(fe.PRE_ROLLOUT, NAME, NS, "acceptance-test", "error response from load tester"),
        "pre-rollout-failed",
    ),
    (
        fe.sprintf(
            fe.EXTERNAL_CHECK,
            NAME,
            NS,
            "load-test",
            'Post "http://flagger-loadtester.podinfo/": dial tcp: i/o timeout',
        ),
        "webhook-failed",
    ),
    (fe.sprintf(fe.WAITING_PROMOTION, NAME, NS, "promotion-gate"), "waiting-promotion"),
    (fe.sprintf(fe.WAITING_ROLLOUT, NAME, NS, "rollout-gate"), "waiting-rollout"),
    (fe.sprintf(fe.THRESHOLD, NAME, NS, 3), "threshold"),
    (fe.sprintf(fe.MANUAL_ROLLBACK, NAME, NS), "aborted"),
    (
        fe.sprintf(
            fe.PROMOTION_FAILED,
            NAME,
            NS,
            'deployment "podinfo-primary" exceeded its progress deadline',
        ),
        "promotion-failed",
    ),
    (fe.sprintf(fe.PROVIDERS, "prometheus not available"), "providers"),
]


@pytest.mark.parametrize(("message", "kind"), EVENTS, ids=[kind for _, kind in EVENTS])
def test_each_known_event_is_recognised_by_flaggers_own_text(message: str, kind: str) -> None:
    known = diagnose(message)
    assert known is not None, f"not recognised: {message}"
    assert known.key == kind
    advice = known.advice(NS, NAME)
    assert "; " in advice and "\n" not in advice


def test_every_known_kind_is_covered_by_a_flagger_string() -> None:
    assert {k.key for k in KNOWN} == {kind for _, kind in EVENTS}


@pytest.mark.parametrize(
    "message",
    [
        fe.sprintf(fe.ADVANCE, NAME, NS, 20),
        fe.sprintf(fe.NEW_REVISION, NAME, NS),
        fe.sprintf(fe.SCALED_DOWN, NAME, NS),
        fe.ROUTING_ALL,
        "Halt podinfo.podinfo advancement success rate 71.43% < 99%",  # a paraphrase
    ],
)
def test_ordinary_and_paraphrased_messages_are_not_diagnosed(message: str) -> None:
    assert diagnose(message) is None


def test_advice_names_the_canary_and_the_command_to_run() -> None:
    known = diagnose(fe.sprintf(fe.WAITING_PROMOTION, "cart", "shop", "promotion-gate"))
    assert known is not None
    assert "canaryctl promote cart -n shop" in known.advice("shop", "cart")
