"""`check`: judge a stack's config offline exactly as `pulumi up` would, and list every problem.

The Pulumi CLI's own rules first (stacks/schema/cli.py), then the program's schema
(stacks/schema/): every stack key, every service declaration and the rules across them. Nothing
is created and no cluster or Azure is needed. A value stored encrypted cannot be read without the
stack's passphrase: its presence is checked here, its content by `pulumi up`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from canaryctl.errors import OK
from canaryctl.project import StackRefused, project_root, read_stack, stack_settings

REFUSED = 1


def stack_of(argument: str) -> str:
    """A stack name from `dev`, `Pulumi.dev.yaml` or a path to it."""
    name = Path(argument).name
    if name.startswith("Pulumi.") and name.endswith(".yaml"):
        return name[len("Pulumi.") : -len(".yaml")]
    return argument


def run(stack: str, out: TextIO) -> int:
    root = project_root()
    stack = stack_of(stack)
    stack_file = f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
    try:
        settings = stack_settings(root, stack)
    except StackRefused as refused:
        out.write(
            f"{stack_file}: {refused.judge} refuses it ({len(refused.problems)} problem"
            f"{'s' if len(refused.problems) != 1 else ''}):\n"
        )
        out.writelines(f"  - {problem}\n" for problem in refused.problems)
        return REFUSED
    project, merged = read_stack(root, stack)
    names = ", ".join(s.name for s in settings.services) or "none"
    out.write(
        f"{stack_file}: accepted ({settings.environment}; services: {names}); `pulumi up` "
        "applies these same checks before it creates anything.\n"
    )
    for warning in settings.warnings:
        out.write(f"  warning: {project}:{warning}\n")
    hidden = sorted(k.split(":", 1)[1] for k in merged.secret_keys if k.startswith(f"{project}:"))
    if hidden:
        out.write(f"  encrypted, so checked by `pulumi up` only: {', '.join(hidden)}\n")
    return OK
