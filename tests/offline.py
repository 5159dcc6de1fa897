"""The user's own stacks, run offline by scripts/validate.py and scripts/render.py: which stacks,
what the run fills in that the user must set before `pulumi up`, and the config problems that
stop it (printed as `make check` prints them, never as a traceback)."""

from __future__ import annotations

import os
from pathlib import Path

from canaryctl.project import project_root
from stacks import config as stacks_config
from stacks.schema import ConfigError, load_source
from stacks.schema.files import StackFileError, read_stack, stack_names
from stacks.schema.services import SERVICES_DIR_ENV
from tests.harness import (
    NAME,
    PROJECT_DIR_ENV,
    SECRETS_SET_BY_USER,
    project_dir,
    source,
    stand_ins,
)

STACK_HELP = (
    "a stack name or its file (dev, Pulumi.staging.yaml, ...); default: every Pulumi.<name>.yaml "
    "of the project"
)


def use_project() -> Path:
    """Run the stack files and services/ of the project the user stands in (as canaryctl and the
    pulumi CLI find it: the nearest Pulumi.yaml from the working directory up), not the suite's
    fixtures."""
    root = project_root()
    os.environ[PROJECT_DIR_ENV] = str(root)
    os.environ[SERVICES_DIR_ENV] = str(root / "services")
    # Where the program looks for a service's `secure:` values: this project's stack file.
    stacks_config.stack_file = lambda stack: root / f"Pulumi.{stack}.yaml"
    return root


def stacks(arguments: list[str]) -> list[str]:
    """Stack names from the arguments (`dev`, `Pulumi.dev.yaml`, a path to it); all by default."""
    names = []
    for argument in arguments:
        name = Path(argument).name
        if name.startswith("Pulumi.") and name.endswith(".yaml"):
            name = name[len("Pulumi.") : -len(".yaml")]
        names.append(name)
    return names or stack_names(project_dir())


def notes(stack: str) -> list[str]:
    """What this offline run supplies that the stack file does not hold: values the user must set
    before `pulumi up`, and secrets it cannot decrypt."""
    _, merged, written = read_stack(project_dir(), stack)
    found = [
        f"{key} is not set in Pulumi.{stack}.yaml; this offline run uses {value!r} (set yours "
        f"before `pulumi up`: docs/operations.md)"
        for key, value in stand_ins(stack, written).items()
    ]
    for key in SECRETS_SET_BY_USER.get(stack, {}):
        if f"{NAME}:{key}" in merged.secret_keys:
            found.append(
                f"{key} is encrypted in Pulumi.{stack}.yaml; this offline run uses a stand-in"
            )
        else:
            found.append(
                f"{key} is not set in Pulumi.{stack}.yaml; this offline run uses a stand-in "
                f"(`pulumi up` refuses the stack until you set it: pulumi config set --secret {key})"
            )
    return found


def ready(stack: str) -> bool:
    """Print why `pulumi up` would refuse `stack` and return False, or print what this run fills
    in for it and return True."""
    refused = problems(stack)
    if refused:
        print(f"stack {stack}: `pulumi up` would refuse it ({len(refused)} problem(s)):")
        print("".join(f"  - {line}\n" for line in refused), end="")
        return False
    for note in notes(stack):
        print(f"stack {stack}: note: {note}")
    return True


def problems(stack: str) -> list[str]:
    """Why `pulumi up` would refuse the stack as this run sees it (the CLI's rules, then the
    program's), one line each; empty when it would go ahead."""
    try:
        load_source(source(stack))
    except StackFileError as error:
        return [str(error), *error.problems]
    except ConfigError as error:
        return list(error.problems)
    return []
