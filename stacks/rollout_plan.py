"""Rollout plan: what the analysis settings mean in time, for people and for `canary wait`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from stacks.settings import CanarySettings


@dataclass(frozen=True)
class RolloutPlan:
    weights: tuple[int, ...]
    """Canary traffic share after each healthy step, percent."""
    max_weight_seconds: int
    """A healthy release: from Flagger noticing it to passing its last step at max weight."""
    promotion_seconds: int
    """A healthy release: from Flagger noticing it to Succeeded (without a manual gate)."""
    rollback_seconds: int
    """A failing release: from its first failed check to rolled back."""
    fastest_rollback_seconds: int
    """A release failing from its first check: from Flagger noticing it to rolled back."""
    manual_promotion: bool

    def describe(self) -> str:
        steps = " -> ".join(f"{w}%" for w in self.weights)
        finishing = self.promotion_seconds - self.max_weight_seconds
        promoted = (
            f"at {self.weights[-1]}% after about {_minutes(self.max_weight_seconds)}, then waits "
            "at the promotion gate until an operator promotes it, and is done about "
            f"{_minutes(finishing)} later"
            if self.manual_promotion
            else f"promoted in about {_minutes(self.promotion_seconds)}"
        )
        return (
            f"Traffic to the canary: {steps}. A healthy release is {promoted}. "
            f"A failing one is rolled back {_minutes(self.rollback_seconds)} after its first failed "
            f"check (at the latest {_minutes(self.fastest_rollback_seconds)} after it starts, if it "
            "fails from the start)."
        )


def plan(c: CanarySettings) -> RolloutPlan:
    """Flagger's timeline for these settings, one analysis run per interval."""
    steps = math.ceil(c.max_weight / c.step_weight)
    weights = tuple(min(c.step_weight * n, c.max_weight) for n in range(1, steps + 1))
    # One interval to initialise the canary and run pre-rollout checks, one per weight step, then
    # promotion (copy to primary), finalising (route back) and success take one interval each.
    max_weight = (1 + steps) * c.interval_seconds
    promotion = max_weight + 3 * c.interval_seconds
    # `threshold` failed checks in a row, one per interval, then one interval to route back.
    rollback = (c.threshold + 1) * c.interval_seconds
    return RolloutPlan(
        weights=weights,
        max_weight_seconds=max_weight,
        promotion_seconds=promotion,
        rollback_seconds=rollback,
        fastest_rollback_seconds=c.interval_seconds + rollback,
        manual_promotion=c.manual_promotion,
    )


def _minutes(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds / 60:.0f} min" if seconds % 60 == 0 else f"{seconds / 60:.1f} min"
