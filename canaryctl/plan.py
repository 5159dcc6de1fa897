"""`plan`: the analysis timeline a stack's settings imply, worked out without a cluster."""

from __future__ import annotations

import textwrap
from typing import TextIO

import pulumi

from canaryctl.errors import OK, CanaryctlError
from canaryctl.project import project_root, stack_config
from canaryctl.timefmt import clock
from stacks import config
from stacks.config_reader import Reader
from stacks.rollout_plan import RolloutPlan, plan
from stacks.settings import CanarySettings
from stacks.validators import flagger_duration


def run(stack: str, out: TextIO) -> int:
    root = project_root()
    project, values = stack_config(root, stack)
    settings = canary_settings(project, values, stack)
    out.write(render(stack, settings, plan(settings)))
    return OK


def canary_settings(project: str, values: dict[str, str], stack: str) -> CanarySettings:
    """The stack's canary settings, checked by stacks.config exactly as `pulumi up` checks them."""
    # The program reads config through pulumi.Config; outside the engine it reads this table.
    pulumi.runtime.set_all_config(values)
    reader = Reader(pulumi.Config(project))
    settings = config.read_canary(reader)
    if reader.problems:
        listed = "\n".join(f"  - {problem}" for problem in reader.problems)
        raise CanaryctlError(
            f"invalid canary settings for stack {stack} ({len(reader.problems)} problem(s)); "
            f"fix them in Pulumi.{stack.rsplit('/', 1)[-1]}.yaml:\n{listed}"
        )
    return settings


def render(stack: str, c: CanarySettings, p: RolloutPlan) -> str:
    """The plan as a timeline, one row per analysis interval, in rollout_plan's model."""
    step = c.interval_seconds
    gate = (
        "; a healthy release then waits at the promotion gate for `canaryctl promote`"
        if c.manual_promotion
        else ""
    )
    stack_file = f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
    lines = [
        f"Rollout plan for stack {stack} (Pulumi.yaml defaults + {stack_file})",
        "",
        f"Analysis every {flagger_duration(c.interval_seconds)}: +{c.step_weight}% per passing "
        f"step up to {c.max_weight}%; {c.threshold} failed checks roll it back; the canary has "
        f"{c.progress_deadline_seconds} s to become ready{gate}.",
        "",
        f"  {'time':>7}  {'canary':>6}  what happens",
        _row(0, "0%", "Flagger notices the release: canary scaled up, pre-rollout checks"),
    ]
    for n, weight in enumerate(p.weights, start=1):
        lines.append(
            _row(n * step, f"{weight}%", f"step {n} of {len(p.weights)}: analysis at {weight}%")
        )
    after = len(p.weights) + 1
    promote = "promote: the primary takes the canary's spec"
    if c.manual_promotion:
        promote = "promotion gate (waits for `canaryctl promote`), then " + promote
    lines += [
        _row(after * step, f"{p.weights[-1]}%", promote),
        _row((after + 1) * step, "0%", "finalise: all traffic back on the primary"),
        _row((after + 2) * step, "0%", "canary scaled to zero"),
        _row(
            p.promotion_seconds,
            "",
            "Succeeded" + (" (plus the time at the gate)" if c.manual_promotion else ""),
        ),
        "",
        f"Promotion: {clock(p.promotion_seconds)} after Flagger notices the release"
        + (", plus the wait at the promotion gate" if c.manual_promotion else ""),
        f"Rollback:  {clock(p.rollback_seconds)} after the first failed check; at the latest "
        f"{clock(p.fastest_rollback_seconds)} after the start if it fails from the start",
        "",
        textwrap.fill(p.describe(), width=100),
    ]
    return "\n".join(lines) + "\n"


def _row(seconds: int, weight: str, what: str) -> str:
    return f"  {clock(seconds):>7}  {weight:>6}  {what}"
