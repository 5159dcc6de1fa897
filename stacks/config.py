"""Config: the one place that reads `pulumi.Config()`, turning the stack's config into Settings.

The rules live in the schema (stacks/schema/); this module only hands it what the engine passes
the program: every key of the project as text (Pulumi.yaml's defaults included), which of them are
secret, and the stack file for where a secret inside a map is written.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pulumi
import yaml

from stacks import schema
from stacks.manifests import ROOT
from stacks.schema import Settings, Source, declared, goyaml, load_source

__all__ = ["ConfigError", "Settings", "load", "pulumi_source"]


class ConfigError(schema.ConfigError, pulumi.RunError):
    """The stack cannot be deployed as configured: `pulumi up` prints why, without a traceback,
    before anything is created (config values, or what the cluster already runs)."""


def load(today: date | None = None) -> Settings:
    """Validated settings for the running stack; warnings go to the engine's log, where
    `pulumi preview` shows them."""
    try:
        settings = load_source(pulumi_source(today))
    except schema.ConfigError as error:
        raise ConfigError(str(error), error.problems) from None
    for warning in settings.warnings:
        pulumi.log.warn(f"{pulumi.get_project()}:{warning}")
    return settings


def pulumi_source(today: date | None = None) -> Source:
    """What the engine passes the program: the project's keys as text, and which are secret."""
    from pulumi.runtime.config import CONFIG, get_config_env

    project, stack = pulumi.get_project(), pulumi.get_stack()
    config = pulumi.Config(project)
    prefix = f"{project}:"
    keys = {k[len(prefix) :] for k in {*CONFIG.get(), *get_config_env()} if k.startswith(prefix)}
    values = {}
    for key in sorted(keys | set(declared())):
        value = config.get(key)
        if value is not None:
            values[f"{prefix}{key}"] = value
    return Source(
        project=project,
        stack=stack,
        values=values,
        is_secret=pulumi.runtime.is_config_secret,
        encrypted=lambda path: _encrypted(project, stack, path),
        today=today or date.today(),
    )


def stack_file(stack: str) -> Path:
    """The stack's own file, Pulumi.<stack>.yaml, next to Pulumi.yaml."""
    return ROOT / f"Pulumi.{stack}.yaml"


def _encrypted(project: str, stack: str, path: list[str]) -> bool:
    """Whether the value at services.<path> is a secret. The engine marks the whole `services`
    key secret once any value inside is (sdk/go/common/resource/config/object.go:51-65), so where
    the stack file holds the value, its own `secure:` is what counts."""
    try:  # read as the CLI read it, so the keys are the ones the engine handed over
        document = goyaml.as_the_cli_holds(goyaml.load(stack_file(stack).read_text()))
    except (OSError, ValueError, yaml.YAMLError):
        document = {}
    node: Any = ((document or {}).get("config") or {}).get(f"{project}:services")
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return pulumi.runtime.is_config_secret(f"{project}:services")
        node = node[part]
    return isinstance(node, dict) and set(node) == {"secure"}
