"""The Pulumi project canaryctl belongs to: where it is and what a stack's config holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from canaryctl.errors import CanaryctlError
from stacks.schema.cli import CliConfigError, StackConfig, merge

PROJECT_FILE = "Pulumi.yaml"
# canaryctl ships inside the project's checkout (canaryctl/ next to Pulumi.yaml).
CHECKOUT = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    """The nearest directory with a Pulumi.yaml, from the working directory up; else this checkout.

    Like the pulumi CLI, so `plan` and `--stack` read the project the user is standing in.
    """
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        if (directory / PROJECT_FILE).is_file():
            return directory
    if (CHECKOUT / PROJECT_FILE).is_file():
        return CHECKOUT
    raise CanaryctlError(
        f"no {PROJECT_FILE} in {here} or above: run canaryctl from the project's checkout"
    )


def stack_config(root: Path, stack: str) -> tuple[str, dict[str, str]]:
    """The project name and the config the engine would pass for `stack`.

    Pulumi.yaml's defaults, overridden by Pulumi.<stack>.yaml, keyed "project:key" with values as
    text (lists and maps as JSON), after the Pulumi CLI's own checks (stacks/schema/cli.py),
    exactly how `pulumi up` hands them to the program. Encrypted values are left out.
    """
    name, merged = read_stack(root, stack)
    return name, merged.values


def read_stack(root: Path, stack: str) -> tuple[str, StackConfig]:
    """The project name and `stack`'s config with the CLI's checks; CanaryctlError when it refuses."""
    project = _yaml(root / PROJECT_FILE)
    name = str(project.get("name") or "")
    short = stack.rsplit("/", 1)[-1]  # org/project/dev names the same stack file as dev
    stack_file = root / f"Pulumi.{short}.yaml"
    if not stack_file.is_file():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise CanaryctlError(
            f"no stack file {stack_file.name} in {root}: pick one of {', '.join(known) or '(none)'}"
        )
    try:
        merged = merge(
            name, project.get("config") or {}, short, _yaml(stack_file).get("config") or {}
        )
    except CliConfigError as error:
        raise StackRefused(short, str(error)) from None
    return name, merged


class StackRefused(CanaryctlError):
    """The Pulumi CLI would refuse the stack's config before the program runs."""

    def __init__(self, stack: str, error: str) -> None:
        super().__init__(f"the Pulumi CLI would refuse stack {stack}: {error}")
        self.problems = tuple(line.strip() for line in error.splitlines()[1:] if line.strip())
        """The CLI's own error lines, one per problem."""


def provider_setting(root: Path, stack: str, key: str) -> tuple[Any, str] | None:
    """A provider's raw setting such as "azure-native:subscriptionId", and the file it is in.

    The stack file wins over Pulumi.yaml, as in `pulumi config`. A secret comes back as
    {"secure": ...}: its value is only readable through the pulumi CLI.
    """
    stack_file = f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
    for name in (stack_file, PROJECT_FILE):
        path = root / name
        config = (_yaml(path).get("config") or {}) if path.is_file() else {}
        value = config.get(key)
        if isinstance(value, dict) and "secure" not in value:  # Pulumi.yaml: {value: ...}
            value = value.get("value", value.get("default"))
        if value not in (None, ""):
            return value, name
    return None


def _yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise CanaryctlError(f"cannot read {path}: {error}") from None
    return data if isinstance(data, dict) else {}
