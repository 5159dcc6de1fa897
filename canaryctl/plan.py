"""`plan`: the release timeline each of a stack's services implies, worked out without a cluster."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import TextIO

import pulumi

from canaryctl.errors import OK, CanaryctlError
from canaryctl.project import project_root, read_stack
from canaryctl.timefmt import clock
from stacks import config
from stacks.config_reader import Reader
from stacks.rollout_plan import RolloutPlan, plan, release_analysis
from stacks.settings import ServiceSettings
from stacks.validators import flagger_duration

STRATEGY_NAMES = {"canary": "canary", "abTesting": "A/B testing", "blueGreen": "blue/green"}


def run(stack: str, names: Sequence[str], out: TextIO) -> int:
    root = project_root()
    project, merged = read_stack(root, stack)
    services = stack_services(project, merged.values, stack, merged.secret_keys)
    chosen = _choose(services, names, stack)
    stack_file = f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
    out.write(f"Release plans for stack {stack} (services/*.yaml + {stack_file})\n")
    for s in chosen:
        out.write("\n" + render(s, plan(release_analysis(s))))
    return OK


def stack_services(
    project: str, values: dict[str, str], stack: str, secret_keys: Iterable[str] = ()
) -> tuple[ServiceSettings, ...]:
    """The stack's services, checked by stacks.config exactly as `pulumi up` checks them."""
    # The program reads config through pulumi.Config; outside the engine it reads this table.
    pulumi.runtime.set_all_config(values, list(secret_keys))
    reader = Reader(pulumi.Config(project))
    services = config.read_services(reader)
    if reader.problems:
        listed = "\n".join(f"  - {problem}" for problem in reader.problems)
        raise CanaryctlError(
            f"invalid service settings for stack {stack} ({len(reader.problems)} problem(s)); "
            f"fix them in Pulumi.{stack.rsplit('/', 1)[-1]}.yaml or services/:\n{listed}"
        )
    return services


def _choose(
    services: tuple[ServiceSettings, ...], names: Sequence[str], stack: str
) -> list[ServiceSettings]:
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


def render(s: ServiceSettings, p: RolloutPlan) -> str:
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
