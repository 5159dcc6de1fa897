"""Config schema, from files: a stack's config read from Pulumi.yaml and Pulumi.<stack>.yaml as the
Pulumi CLI would hand it to the program, for checks without the engine (canaryctl check, plan,
doctor; the tests).

The files are read as the CLI reads them (YAML 1.2 scalars, stacks/schema/goyaml.py), then the
CLI's own rules come first (stacks/schema/cli.py); a value stored encrypted cannot be read
without the stack's passphrase, so it stands in as a well-formed value (`cli.ENCRYPTED`) and only
its presence is judged: `pulumi up`, which can read it, judges its content.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from stacks.schema import Settings, Source, goyaml, load_source
from stacks.schema.cli import ENCRYPTED, StackConfig, merge

PROJECT_FILE = "Pulumi.yaml"


class StackFileError(Exception):
    """A stack file is missing or unreadable, or the Pulumi CLI would refuse it."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


def stack_names(root: Path) -> list[str]:
    """Every stack with a file in `root`: Pulumi.<name>.yaml."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def read_yaml(path: Path) -> dict[str, Any]:
    """Pulumi.yaml or a stack file as the Pulumi CLI reads it (stacks/schema/goyaml.py): YAML 1.2's
    scalars as go-yaml v3 resolves them, each value as the CLI stores it."""
    try:
        data = goyaml.as_the_cli_holds(goyaml.load(path.read_text()))
    except OSError as error:
        raise StackFileError(f"cannot read {path}: {error}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"cannot read {path}: {goyaml.one_line(error)}") from None
    except ValueError as error:  # NaN or an infinity, which Go's JSON cannot store
        raise StackFileError(
            f"the Pulumi CLI cannot read {path.name}: {error} (.nan and .inf are not config values)"
        ) from None
    return data if isinstance(data, dict) else {}


def read_stack(root: Path, stack: str) -> tuple[str, StackConfig, dict[str, Any]]:
    """The project's name, `stack`'s config after the CLI's checks, and the stack file's config
    block; StackFileError when the file is missing or the CLI would refuse it."""
    from stacks.schema.cli import CliConfigError

    project = read_yaml(root / PROJECT_FILE)
    name = str(project.get("name") or "")
    short = stack.rsplit("/", 1)[-1]  # org/project/dev names the same stack file as dev
    stack_file = root / f"Pulumi.{short}.yaml"
    if not stack_file.is_file():
        known = ", ".join(stack_names(root)) or "(none)"
        raise StackFileError(f"no stack file {stack_file.name} in {root}: pick one of {known}")
    config = read_yaml(stack_file).get("config") or {}
    try:
        merged = merge(name, project.get("config") or {}, short, config)
    except CliConfigError as error:
        raise StackFileError(f"the Pulumi CLI would refuse stack {short}", error.errors) from None
    return name, merged, config


def file_source(root: Path, stack: str, today: date | None = None) -> Source:
    """What `pulumi up` would hand the program for `stack`, read from the files in `root`."""
    name, merged, config = read_stack(root, stack)
    values = dict(merged.values)
    for key in merged.secret_keys:
        if key.startswith(f"{name}:") and key not in values:
            values[key] = ENCRYPTED

    def encrypted(path: list[str]) -> bool:
        node: Any = config.get(f"{name}:services")
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return f"{name}:services" in merged.secret_keys
            node = node[part]
        return isinstance(node, dict) and set(node) == {"secure"}

    return Source(
        project=name,
        stack=stack.rsplit("/", 1)[-1],
        values=values,
        is_secret=lambda key: key in merged.secret_keys,
        encrypted=encrypted,
        today=today or date.today(),
        services_dir=_services_dir(root),
    )


def _services_dir(root: Path) -> Path | None:
    """The project's services/ (the environment's override first, as the program reads it)."""
    import os

    from stacks.schema.services import SERVICES_DIR_ENV

    if os.environ.get(SERVICES_DIR_ENV):
        return None
    return root / "services"


def load_files(root: Path, stack: str, today: date | None = None) -> Settings:
    """Validated settings for `stack` from its files; StackFileError or ConfigError otherwise."""
    return load_source(file_source(root, stack, today))
