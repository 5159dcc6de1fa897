"""A Canary as canaryctl reads it: live status, analysis settings and the timeline they imply."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from canaryctl.timefmt import parse_time
from stacks.services.analysis import CHECK_UNITS, REQUEST_VOLUME
from stacks.services.rollout_plan import (
    AB_TESTING,
    BLUE_GREEN,
    CANARY,
    Analysis,
    RolloutPlan,
    canary_weights,
    plan,
)

# Flagger's phases while a release is under way (Initializing: a new Canary's first deployment).
ACTIVE_PHASES = frozenset(
    {"Initializing", "Progressing", "Waiting", "WaitingPromotion", "Promoting", "Finalising"}
)
# Phases a release ends in (Initialized: a new Canary's first deployment, never analysed).
TERMINAL_PHASES = frozenset({"Initialized", "Succeeded", "Failed"})
# How Flagger's event begins when it notices a new pod template: "... Scaling up" when a release
# starts, "... Restarting analysis" when one under way restarts (scheduler.go:910, :329, v1.44.0).
NEW_REVISION = "New revision detected"
# The phases in which Flagger asks rollback and confirm-promotion webhooks (its scheduler).
GATED_PHASES = frozenset({"Progressing", "Waiting", "WaitingPromotion"})
ROLLBACK_HOOK = "rollback"
PROMOTION_HOOK = "confirm-promotion"
# What Flagger assumes when a Canary leaves these out.
DEFAULT_INTERVAL_SECONDS = 60
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_MAX_WEIGHT = 100
# Analysis intervals are Go durations ("1m", "30s", "1m30s").
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_HEY_DURATION = re.compile(r"\bhey\b.*?\s-z\s+(\S+)")


@dataclass(frozen=True)
class Webhook:
    name: str
    type: str
    url: str
    cmd: str = ""
    """metadata.cmd: what the load tester runs."""


@dataclass(frozen=True)
class Check:
    """One metric check of the analysis, in the Canary's order (Flagger runs them in it)."""

    name: str
    minimum: float | None
    maximum: float | None
    window_seconds: int
    """The query window (the metric's interval)."""
    unit: str = ""
    """The value's unit: a built-in check's own, or what a custom check declares (the platform
    passes it as the metric's templateVariables.unit, stacks/services/manifests.py)."""

    def passes(self, value: float) -> bool:
        """Flagger's comparison (scheduler_metrics.go:327-339): below min or above max fails."""
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)

    @property
    def bound(self) -> str:
        """The threshold as a person reads it: >= 99, <= 500, 95-100."""
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"{low:g}-{high:g}"
        return f">= {low:g}" if low is not None else f"<= {high:g}" if high is not None else "-"


@dataclass(frozen=True)
class Canary:
    """One Canary's status and analysis settings, with Flagger's defaults filled in."""

    namespace: str
    name: str
    phase: str
    """Flagger's phase; "" until Flagger has seen the Canary."""
    weight: int
    failed_checks: int
    iterations: int
    last_transition: datetime | None
    last_applied_spec: str
    """Hash of the pod template Flagger last acted on; it changes when a release starts."""
    message: str
    """The Promoted condition's message, e.g. why the last release failed."""
    interval_seconds: int
    threshold: int
    max_weight: int
    step_weight: int
    step_weights: tuple[int, ...]
    planned_iterations: int
    """For iteration-based (A/B, blue/green) analysis, which moves no weight."""
    matches: bool
    """analysis.match is set: A/B testing when iterations are given."""
    promotion_step: int
    """analysis.stepWeightPromotion; 0 routes everything back at once."""
    progress_deadline_seconds: int
    webhooks: tuple[Webhook, ...]
    checks: tuple[Check, ...] = ()
    target: str = ""
    """targetRef.name: Flagger labels its metrics with it (recorder.go)."""
    last_promoted_spec: str = ""
    """Hash of the pod template the primary runs; lastAppliedSpec equal to it after a failure
    means the Deployment is back at the promoted version, which Flagger never analyses
    (pkg/canary/spec.go hasSpecChanged)."""

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> Canary:
        metadata = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        analysis = spec.get("analysis") or spec.get("canaryAnalysis") or {}
        status = obj.get("status") or {}
        step_weights = tuple(_int(w) for w in analysis.get("stepWeights") or ())
        # Flagger caps stepWeights' last entry at 100 (scheduler.go:41-45 maxWeight).
        max_weight = min(step_weights[-1], 100) if step_weights else _int(analysis.get("maxWeight"))
        conditions = [c for c in status.get("conditions") or () if c.get("type") == "Promoted"]
        return cls(
            namespace=metadata.get("namespace") or "",
            name=metadata.get("name") or "",
            phase=status.get("phase") or "",
            weight=_int(status.get("canaryWeight")),
            failed_checks=_int(status.get("failedChecks")),
            iterations=_int(status.get("iterations")),
            last_transition=parse_time(status.get("lastTransitionTime")),
            last_applied_spec=str(status.get("lastAppliedSpec") or ""),
            message=str(conditions[0].get("message") or "") if conditions else "",
            interval_seconds=go_seconds(analysis.get("interval"), DEFAULT_INTERVAL_SECONDS),
            threshold=_int(analysis.get("threshold")) or 1,
            max_weight=max_weight or DEFAULT_MAX_WEIGHT,
            step_weight=_int(analysis.get("stepWeight")),
            step_weights=step_weights,
            planned_iterations=_int(analysis.get("iterations")),
            matches=bool(analysis.get("match")),
            promotion_step=_int(analysis.get("stepWeightPromotion")),
            progress_deadline_seconds=_int(spec.get("progressDeadlineSeconds"))
            or DEFAULT_PROGRESS_DEADLINE_SECONDS,
            webhooks=tuple(
                Webhook(
                    str(h.get("name") or ""),
                    str(h.get("type") or ""),
                    str(h.get("url") or ""),
                    str((h.get("metadata") or {}).get("cmd") or ""),
                )
                for h in analysis.get("webhooks") or ()
            ),
            checks=tuple(_check(m) for m in analysis.get("metrics") or ()),
            target=str((spec.get("targetRef") or {}).get("name") or metadata.get("name") or ""),
            last_promoted_spec=str(status.get("lastPromotedSpec") or ""),
        )

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def webhook(self, hook_type: str) -> Webhook | None:
        return next((h for h in self.webhooks if h.type == hook_type), None)

    @property
    def by_iterations(self) -> bool:
        """A/B testing or blue/green: Flagger decides by iterations alone, whatever the weights
        (v1.44.0 pkg/apis/flagger/v1beta1/canary.go DeploymentStrategy)."""
        return self.planned_iterations > 0

    @property
    def never_advances(self) -> bool:
        """A canary strategy without stepWeight or stepWeights: nextStepWeight returns 0
        (scheduler.go:58-62), so Flagger never shifts traffic and the release never ends."""
        return not self.by_iterations and not self.step_weight and not self.step_weights

    def analysis(self) -> Analysis:
        """These live settings as the rollout plan models them, Flagger's defaults filled in."""
        if self.by_iterations:
            strategy = AB_TESTING if self.matches else BLUE_GREEN
            weights: tuple[int, ...] = ()
        else:
            strategy = CANARY
            # Without stepWeight(s) the release never advances (never_advances); modelled as one
            # step so the timeline still has a shape.
            weights = self.step_weights or canary_weights(
                self.step_weight or self.max_weight, self.max_weight
            )
        volume = next((c for c in self.checks if c.name == REQUEST_VOLUME), None)
        return Analysis(
            interval_seconds=self.interval_seconds,
            threshold=self.threshold,
            strategy=strategy,
            weights=weights,
            iterations=self.planned_iterations if self.by_iterations else 0,
            promotion_step=self.promotion_step,
            manual_promotion=self.webhook(PROMOTION_HOOK) is not None,
            window_seconds=self.checks[0].window_seconds if self.checks else 0,
            load_seconds=self.load_seconds,
            min_requests=int(volume.minimum or 0) if volume else 0,
        )

    @property
    def load_seconds(self) -> int:
        """How long a rollout load command runs (hey -z), 0 without one."""
        for hook in self.webhooks:
            found = _HEY_DURATION.search(hook.cmd)
            if hook.type == "rollout" and found:
                return go_seconds(found[1], 0)
        return 0

    def plan(self) -> RolloutPlan:
        """The timeline of these live settings, by the same model as `plan` and the stack export."""
        return plan(self.analysis())

    @property
    def awaiting_promotion(self) -> bool:
        """At the promotion gate: every analysis step passed, traffic held where it was."""
        return self.phase == "WaitingPromotion"

    @property
    def routed_weight(self) -> int:
        """The canary's share of routed traffic, percent, also where status.canaryWeight is 0.

        Entering WaitingPromotion, Flagger sets canaryWeight to 0 and iterations to
        analysis.iterations - 1 (pkg/canary/status.go setStatusPhase, v1.44.0), and Promoting
        keeps that 0, but the route still holds the step that reached the gate: runCanary asks the
        gate only once the route's weight is at maxWeight (scheduler.go:614-620), and nothing
        moves it until promotion shifts traffic back. Blue/green asks the gate before it routes
        anything to the canary (runBlueGreen); A/B routes matching requests only.
        """
        gate = self.awaiting_promotion or (self.phase == "Promoting" and self.weight == 0)
        if not gate:
            return self.weight
        if self.by_iterations:
            return 100 if self.matches and self.phase == "Promoting" else 0
        return self.plan().weights[-1]

    @property
    def traffic(self) -> str:
        """The canary's traffic as a person reads it: 50/50%, matching requests, ..."""
        if (
            self.by_iterations
            and self.matches
            and self.phase in ("WaitingPromotion", "Progressing")
        ):
            return "matching requests"
        return f"{self.routed_weight}/{self.max_weight}%"

    def progress(self) -> tuple[int, int]:
        """(analysis steps passed, steps planned) of the release under way."""
        if self.by_iterations:
            if self.awaiting_promotion:  # iterations reads analysis.iterations - 1 there
                return self.planned_iterations, self.planned_iterations
            return min(max(self.iterations, 0), self.planned_iterations), self.planned_iterations
        weights = self.plan().weights
        if self.awaiting_promotion:
            return len(weights), len(weights)
        return sum(1 for w in weights if w <= self.weight), len(weights)

    def default_timeout(self) -> int:
        """Seconds `wait` allows by default: the slowest way a release can end, plus slack.

        Flagger notices a new revision at its next run (up to one interval); the canary
        Deployment may take progressDeadlineSeconds to become ready; then comes the slowest
        promotion (threshold-1 failed checks on the way) or the slowest rollback (every step but
        the last passes, then threshold failures), see stacks/services/rollout_plan.py. A minute covers
        polling and API latency. Time at a manual promotion gate is not included: `wait` times
        out there and says to run `promote`.
        """
        planned = self.plan()
        return (
            self.interval_seconds
            + self.progress_deadline_seconds
            + max(planned.slowest_promotion_seconds, planned.slowest_rollback_seconds)
            + 60
        )


def written_after(canary: Canary, revision_at: datetime | None) -> bool:
    """Whether Flagger wrote the Canary's status after the "New revision detected" event it
    recorded at `revision_at`: only then is a terminal phase that revision's outcome.

    The run that notices a revision (scheduler.go checkCanaryStatus, v1.44.0) records the event
    (:910), posts the alert synchronously (:911), resumes the HPA and scales the canary up
    (:914-924) and only then writes Progressing (:925); until then the status is the previous
    release's. A Failed one was even re-written at the start of that run (shouldAdvance :861-866,
    status.go syncCanaryStatus sets lastTransitionTime), so it can carry the event's very second:
    equal is not after. Both times come from Flagger's clock at whole seconds (metav1.Time), and
    a release takes at least two runs, so its own end is always strictly later than its event.
    Unknown times prove nothing: False.
    """
    return (
        revision_at is not None
        and canary.last_transition is not None
        and canary.last_transition > revision_at
    )


def starting(canary: Canary, revision_at: datetime | None) -> bool:
    """Flagger noticed a new revision (its event at `revision_at`) but the status still shows the
    previous release's end: the new release is starting, not over."""
    return (
        canary.phase in TERMINAL_PHASES
        and revision_at is not None
        and not written_after(canary, revision_at)
    )


def _check(metric: dict[str, Any]) -> Check:
    bounds = metric.get("thresholdRange") or {}
    low, high = bounds.get("min"), bounds.get("max")
    if not bounds and metric.get("threshold") is not None:
        high = metric.get("threshold")  # the deprecated `threshold` is a maximum
    name = str(metric.get("name") or "")
    variables = metric.get("templateVariables") or {}
    return Check(
        name=name,
        minimum=_float(low),
        maximum=_float(high),
        window_seconds=go_seconds(metric.get("interval"), DEFAULT_INTERVAL_SECONDS),
        unit=CHECK_UNITS.get(name) or str(variables.get("unit") or ""),
    )


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def go_seconds(value: object, default: int) -> int:
    """Whole seconds of a Go duration such as 1m, 30s or 1m30s; `default` if absent or invalid."""
    text = str(value or "")
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return default
    return max(1, round(sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)))


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
