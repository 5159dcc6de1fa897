"""`plan`: the release timeline each of a stack's services implies, worked out without a cluster."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from canaryctl.errors import OK, CanaryctlError
from canaryctl.project import project_root, stack_settings
from canaryctl.timefmt import clock
from stacks.schema.delivery import flagger_duration
from stacks.schema.service import ServiceConfig
from stacks.services.rollout_plan import RolloutPlan, plan, release_analysis

STRATEGY_NAMES = {"canary": "canary", "abTesting": "A/B testing", "blueGreen": "blue/green"}


def run(stack: str, names: Sequence[str], out: TextIO) -> int:
    root = project_root()
    services = stack_services(root, stack)
    chosen = _choose(services, names, stack)
    stack_file = f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
    out.write(f"Release plans for stack {stack} (services/*.yaml + {stack_file})\n")
    for s in chosen:
        out.write("\n" + render(s, plan(release_analysis(s))))
    return OK


def stack_services(root: Path, stack: str) -> tuple[ServiceConfig, ...]:
    """The stack's services, checked with the whole stack exactly as `pulumi up` checks them."""
    return stack_settings(root, stack).services


def _choose(
    services: tuple[ServiceConfig, ...], names: Sequence[str], stack: str
) -> list[ServiceConfig]:
    by_name = {s.name: s for s in services}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise CanaryctlError(
            f"stack {stack} runs no service named {', '.join(unknown)}; "
            f"it runs: {', '.join(by_name) or 'none'}"
        )
    if not by_name:
        raise CanaryctlError(f"stack {stack} runs no services (its `services` config is empty)")
    return [by_name[n] for n in names] if names else list(services)


def render(s: ServiceConfig, p: RolloutPlan) -> str:
    """One service's plan as a timeline, one row per Flagger run, in rollout_plan's model."""
    r = s.release
    gate = (
        "; a healthy release then waits at the promotion gate for `canaryctl promote`"
        if r.manual_promotion
        else ""
    )
    if r.strategy == "canary":
        pacing = f"+{r.step_weight}% per passing step up to {r.max_weight}%"
    elif r.strategy == "abTesting" and r.match is not None:
        pacing = (
            f"{r.iterations} iterations for requests with {r.match.kind} "
            f"{r.match.name}={r.match.value}"
        )
    else:
        pacing = f"{r.iterations} iterations"
    waiting = " (plus the wait at the promotion gate)" if r.manual_promotion else ""
    lines = [
        f"{s.name} (namespace {s.namespace}, {STRATEGY_NAMES[r.strategy]}, {s.image_ref})",
        f"Analysis every {flagger_duration(r.interval_seconds)}: {pacing}; {r.threshold} failed "
        f"checks in total roll it back; the canary has {r.progress_deadline_seconds} s to become "
        f"ready{gate}.",
        "",
        f"  {'time':>7}  {'canary':>8}  what happens (one Flagger run each)",
        *(
            f"  {clock(step.at_seconds):>7}  {step.canary_traffic:>8}  {step.what}"
            for step in p.steps
        ),
        "",
        f"Promotion: {clock(p.promotion_seconds)} after Flagger notices the release{waiting}",
        f"Rollback:  {clock(p.rollback_seconds)} after the first failed check; "
        f"{clock(p.fastest_rollback_seconds)} after the start if it fails from its first check",
        "",
        textwrap.fill(p.describe(), width=100),
    ]
    return "\n".join(lines) + "\n"
