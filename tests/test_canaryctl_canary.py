"""canaryctl's model of a live Canary, including ones the platform did not create, judged by
Flagger v1.44.0's own rules."""

from __future__ import annotations

from typing import Any

from canaryctl.canary import Canary
from stacks.services.rollout_plan import AB_TESTING, BLUE_GREEN, CANARY


def live(**analysis: Any) -> Canary:
    return Canary.from_object(
        {
            "metadata": {"name": "app", "namespace": "team"},
            "spec": {"analysis": {"interval": "1m", "threshold": 2, **analysis}},
        }
    )


def test_iterations_decide_the_strategy_whatever_the_weights() -> None:
    # pkg/apis/flagger/v1beta1/canary.go DeploymentStrategy: iterations > 0 is A/B (with match)
    # or blue/green, even when a stepWeight is also set.
    assert live(iterations=4, stepWeight=10).analysis().strategy == BLUE_GREEN
    ab = live(iterations=4, stepWeight=10, match=[{"headers": {"x": {"exact": "y"}}}])
    assert ab.analysis().strategy == AB_TESTING
    assert ab.progress() == (0, 4)
    assert live(stepWeight=10, maxWeight=30).analysis().strategy == CANARY


def test_step_weights_past_100_are_capped_like_flagger() -> None:
    # scheduler.go:41-45: maxWeight is min(100, the last stepWeights entry).
    assert live(stepWeights=[10, 50, 150]).max_weight == 100


def test_a_canary_without_step_weights_never_advances() -> None:
    # scheduler.go:58-62: nextStepWeight returns stepWeight (0), so runCanary never runs.
    assert live(maxWeight=50).never_advances
    assert not live(stepWeight=10, maxWeight=50).never_advances
    assert not live(iterations=3).never_advances
