"""The Pulumi project canaryctl belongs to: where it is and what a stack's config holds."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from canaryctl.errors import CanaryctlError
from stacks.schema import ConfigError, Settings, files
from stacks.schema.cli import StackConfig

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


def read_stack(root: Path, stack: str) -> tuple[str, StackConfig]:
    """The project name and `stack`'s config with the CLI's checks; StackRefused when the CLI
    would refuse it, CanaryctlError when the file is missing."""
    try:
        name, merged, _ = files.read_stack(root, stack)
    except files.StackFileError as error:
        if error.problems:
            raise StackRefused(str(error), "the Pulumi CLI", error.problems) from None
        raise CanaryctlError(str(error)) from None
    return name, merged


def stack_settings(root: Path, stack: str, today: date | None = None) -> Settings:
    """`stack`'s validated settings, judged as `pulumi up` judges them: the Pulumi CLI's rules,
    then the program's; StackRefused lists every problem of a config either would refuse."""
    short = stack.rsplit("/", 1)[-1]
    read_stack(root, stack)  # the CLI's refusal, or a missing file, first
    try:
        return files.load_files(root, stack, today)
    except ConfigError as error:
        raise StackRefused(
            f"the program refuses stack {short}", "the program", error.problems
        ) from None


class StackRefused(CanaryctlError):
    """`pulumi up` would refuse the stack's config: the Pulumi CLI or the program, every problem."""

    def __init__(self, message: str, judge: str, problems: tuple[str, ...]) -> None:
        listed = "".join(f"\n  - {problem}" for problem in problems)
        super().__init__(f"{message} ({len(problems)} problem(s)):{listed}")
        self.judge = judge
        self.problems = problems


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
    """A stack file or Pulumi.yaml as the Pulumi CLI reads it (YAML 1.2, stacks/schema/goyaml.py)."""
    try:
        return files.read_yaml(path)
    except files.StackFileError as error:
        raise CanaryctlError(str(error)) from None
