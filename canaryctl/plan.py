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
from stacks.rollout_plan import RolloutPlan, canary_analysis, plan
from stacks.settings import CanarySettings
from stacks.validators import flagger_duration


def run(stack: str, out: TextIO) -> int:
    root = project_root()
    project, values = stack_config(root, stack)
    settings = canary_settings(project, values, stack)
    out.write(render(stack, settings, plan(canary_analysis(settings))))
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
    """The plan as a timeline, one row per Flagger run, in rollout_plan's model."""
    gate = (
        "; a healthy release then waits at the promotion gate for `canaryctl promote`"
        if c.manual_promotion
        else ""
    )
    stack_file = f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
    waiting = " (plus the wait at the promotion gate)" if c.manual_promotion else ""
    lines = [
        f"Rollout plan for stack {stack} (Pulumi.yaml defaults + {stack_file})",
        "",
        f"Analysis every {flagger_duration(c.interval_seconds)}: +{c.step_weight}% per passing "
        f"step up to {c.max_weight}%; {c.threshold} failed checks in total roll it back; the "
        f"canary has {c.progress_deadline_seconds} s to become ready{gate}.",
        "",
        f"  {'time':>7}  {'canary':>8}  what happens (one Flagger run each)",
        *(f"  {clock(s.at_seconds):>7}  {s.canary_traffic:>8}  {s.what}" for s in p.steps),
        "",
        f"Promotion: {clock(p.promotion_seconds)} after Flagger notices the release{waiting}",
        f"Rollback:  {clock(p.rollback_seconds)} after the first failed check; "
        f"{clock(p.fastest_rollback_seconds)} after the start if it fails from its first check",
        "",
        textwrap.fill(p.describe(), width=100),
    ]
    return "\n".join(lines) + "\n"
