"""The rollout plan counts Flagger runs exactly as Flagger v1.44.0's scheduler takes them.

Each test cites the lines of fluxcd/flagger v1.44.0 pkg/controller/scheduler.go it follows (read at
tag v1.44.0, commit 15bd6ad5); a change in Flagger's arithmetic means re-reading them.
"""

from __future__ import annotations

from stacks.services.rollout_plan import (
    AB_TESTING,
    BLUE_GREEN,
    Analysis,
    canary_weights,
    duration,
    plan,
)

I = 20  # noqa: E741 (the issue and Flagger call the interval I) seconds per run


def test_weights_step_while_below_max_weight_and_cap_at_100() -> None:
    # runCanary/nextStepWeight, scheduler.go:570-599: "canaryWeight < maxWeight" then +stepWeight,
    # capped at 100 (not at maxWeight).
    assert canary_weights(10, 50) == (10, 20, 30, 40, 50)
    assert canary_weights(20, 50) == (20, 40, 60)
    assert canary_weights(30, 100) == (30, 60, 90, 100)
    assert canary_weights(50, 50) == (50,)


def test_canary_is_succeeded_n_plus_3_intervals_after_detection() -> None:
    # Run 1 detection (checkCanaryStatus :886-933, "New revision detected! Scaling up"), run 2
    # pre-rollout + first weight without analysis (:449-457, :601-612), runs 3..n+2 analyse, the
    # last one promotes in the same run (:619-632), run n+3 routes all traffic to the primary
    # (:519-529), run n+4 scales the canary to zero and sets Succeeded (:393-427).
    p = plan(Analysis(interval_seconds=I, threshold=3, weights=canary_weights(10, 50)))
    n = 5
    assert p.promotion_seconds == (n + 3) * I
    assert p.gate_seconds == (n + 1) * I
    assert [s.at_seconds for s in p.steps] == [k * I for k in range(n + 4)]
    assert p.steps[1].what.startswith("pre-rollout")
    assert p.steps[-1].what.endswith("Succeeded")


def test_rollback_comes_threshold_intervals_after_the_first_failed_check() -> None:
    # A failed check is FailedChecks+1 and return, no advance (:455-465); `FailedChecks >=
    # threshold` is checked at the start of the next run and rolls back (:430-440). The first
    # analysis is run 3, so failing from it rolls back in run T+3.
    p = plan(Analysis(interval_seconds=I, threshold=3, weights=(10, 20)))
    assert p.rollback_seconds == 3 * I
    assert p.fastest_rollback_seconds == (3 + 2) * I


def test_step_weight_promotion_takes_one_run_per_step() -> None:
    # Promoting: primary weight += stepWeightPromotion per run until 100, then Finalising
    # (:533-557); Succeeded one run later.
    p = plan(Analysis(interval_seconds=I, threshold=1, weights=(25, 50), promotion_step=20))
    n, runs = 2, 3  # ceil(50 / 20) promotion runs
    assert p.promotion_seconds == (n + 2 + runs) * I
    # From 50/50: the primary takes 70%, 90%, then all of it.
    assert [s.canary_traffic for s in p.steps[-4:-1]] == ["30%", "10%", "0%"]


def test_ab_testing_is_succeeded_n_plus_3_intervals_after_detection() -> None:
    # runAB (:639-680): run 2 sets the routes and iteration 1 (:655-656), runs 3..N+2 analyse,
    # the last promotes (:661-678); then route back and Succeeded as for canary.
    p = plan(Analysis(interval_seconds=I, threshold=2, strategy=AB_TESTING, iterations=10))
    assert p.promotion_seconds == (10 + 3) * I
    assert p.analysis_runs == 10


def test_blue_green_analyses_once_more_with_all_traffic() -> None:
    # runBlueGreen (:682-750): after N iterations "Routing all traffic to canary" (:712-731),
    # analyse once more, then promote (:735-748): (N+4) intervals to Succeeded.
    p = plan(Analysis(interval_seconds=I, threshold=2, strategy=BLUE_GREEN, iterations=5))
    assert p.promotion_seconds == (5 + 4) * I
    assert p.gate_seconds == (5 + 1) * I
    assert "all traffic to the canary" in p.steps[-4].what
    # The all-traffic analysis may fail too: one run more than the iterations alone.
    assert p.slowest_rollback_seconds == (5 + 1 + 2 + 1) * I


def test_a_failing_acceptance_test_counts_from_run_two() -> None:
    # Run 2 runs the pre-rollout webhooks; each failure adds a failed check (:449-458), one run
    # before the first metric check could.
    a = Analysis(interval_seconds=I, threshold=3, weights=(10,), acceptance_test=True)
    p = plan(a)
    assert p.rejected_seconds == (3 + 1) * I < p.fastest_rollback_seconds
    assert f"one whose acceptance test fails {duration((3 + 1) * I)} after" in p.describe()


def test_slowest_outcomes_bound_the_wait() -> None:
    p = plan(Analysis(interval_seconds=I, threshold=3, weights=canary_weights(10, 50)))
    # Failed checks never reset, so a release may fail threshold-1 times on the way and still
    # promote, each failure one run later; or pass all but the last step and then fail.
    assert p.slowest_promotion_seconds == p.promotion_seconds + 2 * I
    assert p.slowest_rollback_seconds == (5 + 3 + 1) * I


def test_describe_says_both_timelines_in_words() -> None:
    text = plan(Analysis(interval_seconds=I, threshold=3, weights=(10, 20))).describe()
    assert "10% -> 20%" in text
    assert "is promoted 1 min 40 s after Flagger notices it" in text
    assert "rolled back 1 min after its first failed check (3 failed checks in total" in text
    gated = plan(
        Analysis(interval_seconds=60, threshold=5, weights=(50,), manual_promotion=True)
    ).describe()
    assert "reaches the promotion gate 2 min after Flagger notices it" in gated


def test_the_plan_says_how_much_load_each_window_holds() -> None:
    # Load starts in run 2 (pre-rollout) and each start runs load_seconds: stacks/services/analysis.py.
    a = Analysis(
        interval_seconds=I,
        threshold=3,
        weights=(10, 20),
        window_seconds=30,
        load_seconds=18,
        min_requests=65,
    )
    p = plan(a)
    assert p.steps[1].what == "load starts, pre-rollout checks; canary at 10%"
    assert p.describe().endswith(
        "runs 18 s of every 20 s run (the load tester skips a command that still runs): the "
        "first 30 s window holds 18 s of it, later ones 26 s; the request-volume check needs 65 "
        "requests per window."
    )
    without = plan(Analysis(interval_seconds=I, threshold=3, weights=(10, 20)))
    assert "Load" not in without.describe()
    assert without.steps[1].what == "pre-rollout checks; canary at 10%"
