"""Rollout plan: a release's timeline computed run by run as Flagger v1.44.0's scheduler does it.

Flagger analyses a Canary once per `interval` (one "run" of advanceCanary). Counting from the run
that notices a new revision (event "New revision detected! Scaling up ..."), the source at tag
v1.44.0 gives, with pkg/controller/scheduler.go line numbers:
  - run 1 only scales the canary up and sets Progressing (checkCanaryStatus, :886-933);
  - run 2 runs the pre-rollout webhooks and sets the first weight (or iteration), with no metric
    check (:449-457, :601-612; A/B :655; blue/green :701);
  - every later run analyses (rollout webhooks, then metrics, :461) and, when all pass, takes the
    next step; the run that analyses the last step promotes in the same run (copy the spec,
    phase Promoting, :619-632; A/B :661-678); blue/green first routes all traffic to the canary
    and analyses once more (:706-748);
  - promotion shifts traffic back in one run ("Routing all traffic to primary", :519-529) or, with
    stepWeightPromotion, in ceil(weight/step) runs ("Advance ... primary weight", :533-557);
  - the next run scales the canary to zero and sets Succeeded (:393-427).
A failed check adds one to failedChecks and ends the run without advancing (:455-465); the total
(never reset by a passing check) is compared `>= threshold` at the start of the next run, which
rolls back (:430-440). Pod start-up, the primary's rolling update and webhook run time come on top.
The load that feeds the checks starts in run 2 (pre-rollout) and restarts each run; how much of
each query window it fills is stacks/services/analysis.py's load_coverage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stacks.schema.service import ServiceConfig
from stacks.services.analysis import load_coverage, load_seconds

CANARY, AB_TESTING, BLUE_GREEN = "canary", "ab", "bluegreen"


@dataclass(frozen=True)
class Analysis:
    """What a release's timeline depends on: the analysis settings of one Canary."""

    interval_seconds: int
    threshold: int
    strategy: str = CANARY
    weights: tuple[int, ...] = ()
    """canary: the canary's traffic share at each step, percent, as Flagger sets them."""
    iterations: int = 0
    """A/B testing and blue/green: analysis runs before promotion."""
    promotion_step: int = 0
    """stepWeightPromotion, percent; 0 routes all traffic back to the primary in one run."""
    manual_promotion: bool = False
    acceptance_test: bool = False
    """A pre-rollout webhook: run 2 runs it, and each failure counts (scheduler.go:449-458)."""
    window_seconds: int = 0
    """The checks' query window (metric interval); 0 when unknown."""
    load_seconds: int = 0
    """How long each load command runs once started (hey -z); 0 when there is none."""
    min_requests: int = 0
    """The request-volume check's minimum per window; 0 when there is none."""


@dataclass(frozen=True)
class Step:
    """One row of the timeline: when, the canary's share of routed traffic, what happens."""

    at_seconds: int
    canary_traffic: str
    what: str


@dataclass(frozen=True)
class RolloutPlan:
    analysis: Analysis
    steps: tuple[Step, ...]
    gate_seconds: int
    """From detection to the run that analyses the last step (and asks the promotion gate)."""
    promotion_seconds: int
    """A healthy release, without a manual gate: from detection to Succeeded."""
    rollback_seconds: int
    """A failing release: from its first failed check to rolled back."""
    fastest_rollback_seconds: int
    """A release failing from its first metric check: from detection to rolled back."""
    rejected_seconds: int
    """A release whose acceptance test keeps failing: from detection to rolled back."""
    slowest_promotion_seconds: int
    """A release with threshold-1 failed checks on the way: from detection to Succeeded."""
    slowest_rollback_seconds: int
    """Every step passes but the last, then threshold failures: from detection to rolled back."""

    @property
    def weights(self) -> tuple[int, ...]:
        return self.analysis.weights

    @property
    def analysis_runs(self) -> int:
        """How many runs analyse before promotion (each a step of the progress bar)."""
        a = self.analysis
        return len(a.weights) if a.strategy == CANARY else a.iterations

    def describe(self) -> str:
        a = self.analysis
        if a.strategy == CANARY:
            moves = "Traffic to the canary: " + " -> ".join(f"{w}%" for w in a.weights) + "."
        elif a.strategy == AB_TESTING:
            moves = f"Matching requests go to the canary for {a.iterations} analysis runs."
        else:
            moves = (
                f"The canary is analysed {a.iterations} times without routed traffic, then once "
                "with all traffic."
            )
        if a.manual_promotion:
            promoted = (
                f"reaches the promotion gate {duration(self.gate_seconds)} after Flagger notices it, "
                "waits there until an operator promotes it, and is done "
                f"{duration(self.promotion_seconds - self.gate_seconds)} after the approval is seen"
            )
        else:
            promoted = f"is promoted {duration(self.promotion_seconds)} after Flagger notices it"
        return (
            f"{moves} A healthy release {promoted}. A failing one is rolled back "
            f"{duration(self.rollback_seconds)} after its first failed check ({a.threshold} failed "
            f"checks in total, not in a row); one failing from its first check "
            f"{duration(self.fastest_rollback_seconds)} after Flagger notices it"
            + (
                f", one whose acceptance test fails {duration(self.rejected_seconds)} after"
                if a.acceptance_test
                else ""
            )
            + ". Pod start-up and webhook run time come on top."
            + self.describe_load()
        )

    def describe_load(self) -> str:
        """How much load each check's window holds (" " + a sentence), or "" when unknown."""
        a = self.analysis
        if not a.load_seconds or not a.window_seconds:
            return ""
        coverage = load_coverage(a.interval_seconds, a.window_seconds, a.load_seconds)
        first, steady = round(coverage.first_seconds), round(coverage.steady_seconds)
        held = (
            f"each {a.window_seconds} s window holds {steady} s of it"
            if first == steady
            else f"the first {a.window_seconds} s window holds {first} s of it, later ones {steady} s"
        )
        volume = (
            f"; the request-volume check needs {a.min_requests} requests per window"
            if a.min_requests
            else ""
        )
        return (
            f" Load starts with the pre-rollout checks, one run before the first analysis, and "
            f"runs {a.load_seconds} s of every {a.interval_seconds} s run (the load tester skips "
            f"a command that still runs): {held}{volume}."
        )


def canary_weights(step_weight: int, max_weight: int) -> tuple[int, ...]:
    """The weights Flagger sets for stepWeight/maxWeight: it steps while below maxWeight and caps
    at 100, not at maxWeight (scheduler.go:570-599), so 20 up to 50 goes 20, 40, 60."""
    weights = [min(step_weight, 100)]
    while weights[-1] < max_weight:
        weights.append(min(weights[-1] + step_weight, 100))
    return tuple(weights)


def plan(a: Analysis) -> RolloutPlan:
    """The timeline of a release under `a`, counted in Flagger runs of `a.interval_seconds`."""
    at = a.interval_seconds
    steps = [Step(0, "0%", "Flagger notices the release: canary scaled up")]
    if a.strategy == CANARY:
        steps += _canary_steps(a)
        last_share = a.weights[-1]
    else:
        steps += _iteration_steps(a)
        last_share = 100  # A/B and blue/green promote from the canary's full share
    gate_run = len(steps) - 1 if a.strategy != BLUE_GREEN else len(steps) - 2
    promotion_runs = math.ceil(last_share / a.promotion_step) if a.promotion_step else 1
    run = len(steps)
    for index in range(1, promotion_runs + 1):
        # Each run moves promotion_step from the canary to the primary (scheduler.go:533-557).
        primary = min(100, 100 - last_share + index * a.promotion_step) if a.promotion_step else 100
        what = (
            "all traffic back on the primary (after its rolling update)"
            if primary == 100
            else f"primary's share up to {primary}%"
        )
        steps.append(Step(run * at, f"{100 - primary}%" if a.promotion_step else "0%", what))
        run += 1
    steps.append(Step(run * at, "0%", "canary scaled to zero: Succeeded"))
    analysis_runs = len(a.weights) if a.strategy == CANARY else a.iterations
    promotion = run * at
    return RolloutPlan(
        analysis=a,
        steps=tuple(steps),
        gate_seconds=gate_run * at,
        promotion_seconds=promotion,
        # The threshold is checked at the start of the run after the one that reached it.
        rollback_seconds=a.threshold * at,
        # Run 3 is the first analysis (run 2 only sets the first step).
        fastest_rollback_seconds=(a.threshold + 2) * at,
        # A failing pre-rollout webhook counts from run 2 (scheduler.go:449-458).
        rejected_seconds=(a.threshold + 1) * at,
        slowest_promotion_seconds=promotion + (a.threshold - 1) * at,
        # analysis_runs - 1 passes and threshold failures from run 3 on, then the rollback run;
        # blue/green analyses once more with all traffic before it promotes (:706-748).
        slowest_rollback_seconds=(
            analysis_runs + (1 if a.strategy == BLUE_GREEN else 0) + a.threshold + 1
        )
        * at,
    )


def _canary_steps(a: Analysis) -> list[Step]:
    at, weights = a.interval_seconds, a.weights
    steps = [Step(at, f"{weights[0]}%", f"{_prerollout(a)}; canary at {weights[0]}%")]
    for index, weight in enumerate(weights):
        run = index + 2
        if index + 1 < len(weights):
            what = f"analysis at {weight}%, then {weights[index + 1]}%"
        else:
            what = f"analysis at {weight}%, then {_gate(a)}promotion: the primary takes the spec"
        steps.append(Step(run * at, f"{weight}%", what))
    return steps


def _iteration_steps(a: Analysis) -> list[Step]:
    at = a.interval_seconds
    share = "matching" if a.strategy == AB_TESTING else "0%"
    steps = [Step(at, share, f"{_prerollout(a)}; iteration 1")]
    for iteration in range(1, a.iterations + 1):
        if iteration < a.iterations:
            what = f"analysis of iteration {iteration}, then iteration {iteration + 1}"
        elif a.strategy == AB_TESTING:
            what = f"analysis of iteration {iteration}, then {_gate(a)}promotion"
        else:
            what = f"analysis of iteration {iteration}, then {_gate(a)}all traffic to the canary"
        steps.append(Step((iteration + 1) * at, share, what))
    if a.strategy == BLUE_GREEN:
        steps.append(
            Step(
                (a.iterations + 2) * at,
                "100%",
                "analysis with all traffic, then promotion: the primary takes the spec",
            )
        )
    return steps


def _prerollout(a: Analysis) -> str:
    return "load starts, pre-rollout checks" if a.load_seconds else "pre-rollout checks"


def _gate(a: Analysis) -> str:
    return "the promotion gate (waits for `canaryctl promote`), then " if a.manual_promotion else ""


def duration(seconds: int) -> str:
    """40 s, 2 min, 2 min 40 s."""
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")


def release_analysis(s: ServiceConfig) -> Analysis:
    """The Analysis of a service's release: its release settings, its pre-rollout acceptance
    test, its volume check, and how long its load runs (which depends on its load generator and
    its latency check)."""
    r = s.release
    strategy = {"canary": CANARY, "abTesting": AB_TESTING, "blueGreen": BLUE_GREEN}[r.strategy]
    return Analysis(
        interval_seconds=r.interval_seconds,
        threshold=r.threshold,
        strategy=strategy,
        weights=canary_weights(r.step_weight, r.max_weight) if strategy == CANARY else (),
        iterations=r.iterations,
        promotion_step=r.step_weight_promotion,
        manual_promotion=r.manual_promotion,
        acceptance_test=bool(s.acceptance_test.path),
        window_seconds=r.metric_interval_seconds,
        load_seconds=load_seconds(
            r.interval_seconds, s.load_test.rate, s.load_concurrency, s.latency_ms
        ),
        min_requests=s.min_requests,
    )
