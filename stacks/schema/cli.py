"""The Pulumi CLI's own config rules: the config the CLI hands the program for a stack, or its errors.

`pulumi up`, `preview` and `destroy` validate Pulumi.yaml and the stack's config before the program
runs; SDK mocks skip all of it. This module applies the same rules, from pulumi v3.259.0:
  - Pulumi.yaml, `Project.Validate` (sdk/go/common/workspace/project.go:837-889) and the schema's
    config declaration (project.json:378-398: type, items, description, secret, default, value);
  - the stack, `ValidateStackConfigAndApplyProjectConfig` with `mergeConfig` and
    `validateStackConfigValue` (pkg/workspace/config.go:66-157, 300-398);
  - values against types, `ValidateConfigValue` (project.go:771-831).
Error texts are the CLI's own. The result is what the language host passes to the program:
every key as "project:key", scalars as text, lists and maps as JSON text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stacks.schema.goyaml import go_json_number

TYPES = ("string", "integer", "boolean", "array", "object")  # project.go:49-55
ATTRIBUTES = {"type", "items", "description", "secret", "default", "value"}


class CliConfigError(Exception):
    """The CLI would refuse to run the program; the message lists the CLI's errors, as it prints
    them, and `errors` holds them one each."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("validating stack config:\n" + "\n".join(f"  {e}" for e in errors))
        self.errors = tuple(errors)


@dataclass(frozen=True)
class StackConfig:
    values: dict[str, str]
    """"project:key" -> the text the program reads with pulumi.Config.get."""
    secret_keys: frozenset[str]
    """Keys stored encrypted (`secure:`) in the stack file."""


def validate_project(name: str, config: dict[str, Any]) -> list[str]:
    """Pulumi.yaml's config block, checked as the CLI checks it when loading the project."""
    errors = []
    for key, declared in config.items():
        if not isinstance(declared, dict):
            continue  # shorthand `key: value`, rewritten to a default (project.go:486-517)
        ours = _is_project_key(name, key)
        unknown = set(declared) - ATTRIBUTES
        if unknown:
            errors.append(
                f"config key {key!r}: additional properties {sorted(unknown)} not allowed"
            )
        if "default" in declared and "value" in declared:
            errors.append(
                f"project config '{key}' cannot have both a 'default' and 'value' attribute"
            )
        kind = declared.get("type")
        if kind is not None and not ours:
            errors.append(
                f"Configuration key '{key}' is not namespaced by the project and should not define a type"
            )
        if kind is None:
            continue
        if kind not in TYPES:
            errors.append(f"config key {key!r}: type {kind!r} is not one of {', '.join(TYPES)}")
            continue
        if kind == "array" and not declared.get("items"):
            errors.append(
                f"The configuration key '{key}' declares an array but does not specify the "
                "underlying type via the 'items' attribute"
            )
            continue
        if "default" in declared and not value_matches(
            kind, declared.get("items"), declared["default"]
        ):
            errors.append(
                f"The default value specified for configuration key '{key}' is not of the "
                f"expected type '{full_type(kind, declared.get('items'))}'"
            )
    return errors


def merge(
    name: str, config: dict[str, Any], stack: str, stack_values: dict[str, Any]
) -> StackConfig:
    """The program's config for `stack`, or CliConfigError with every error the CLI would give."""
    errors = validate_project(name, config)
    values: dict[str, Any] = {}
    secure: set[str] = set()
    for key, value in stack_values.items():
        full = key if ":" in key else f"{name}:{key}"  # loaders.go:61-89
        # The CLI keeps a scalar from a stack file as text; lists and maps as JSON objects.
        values[full] = value if isinstance(value, dict | list) else _scalar_text(value)
        if _is_secure(value):
            secure.add(full)
    missing = []
    for key, declared in config.items():
        full = key if ":" in key else f"{name}:{key}"
        declared = declared if isinstance(declared, dict) else {"default": declared}
        if full in values:
            continue
        if "value" in declared or "default" in declared:
            values[full] = declared.get("value", declared.get("default"))
        elif _is_project_key(name, key):
            missing.append(key.rsplit(":", 1)[-1])
    if missing:
        listed = _listed(sorted(missing))
        errors.append(
            f"Stack '{stack}' is missing configuration value{'s' if len(missing) > 1 else ''} {listed}"
        )
    for key, declared in config.items():
        full = key if ":" in key else f"{name}:{key}"
        if not isinstance(declared, dict) or declared.get("type") is None or full not in values:
            continue  # untyped keys skip the type and secret checks (config.go:101)
        value = values[full]
        if declared.get("secret") and not _is_secure(value):
            errors.append(
                f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret"
            )
        elif not _is_secure(value) and not value_matches(
            declared["type"], declared.get("items"), value
        ):
            kind = full_type(declared["type"], declared.get("items"))
            errors.append(
                f"Stack '{stack}' with configuration key '{key}' must be of type '{kind}'"
            )
    if errors:
        raise CliConfigError(errors)
    return StackConfig(
        values={
            key: _as_text(_stand_ins(value))
            for key, value in values.items()
            if key not in secure or not _is_ciphertext(value)
        },
        secret_keys=frozenset(secure),
    )


# What an encrypted value inside a map or list reads as here: canaryctl cannot decrypt, but the
# map's other fields (a service's version, its release settings) are what `plan` needs. It is a
# well-formed https URL so a webhook field still passes the program's own checks.
ENCRYPTED = "https://encrypted.invalid/"


def _is_ciphertext(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _stand_ins(value: Any) -> Any:
    if _is_ciphertext(value):
        return ENCRYPTED
    if isinstance(value, dict):
        return {k: _stand_ins(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stand_ins(v) for v in value]
    return value


def value_matches(kind: str, items: dict[str, Any] | None, value: Any) -> bool:
    """ValidateConfigValue: text that parses counts for integer and boolean."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return True
        return isinstance(value, str) and _parses_as_int(value)
    if kind == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if kind == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or not items:
        return False
    return all(value_matches(items["type"], items.get("items"), element) for element in value)


def full_type(kind: str, items: dict[str, Any] | None) -> str:
    """InferFullTypeName: array<object>, array<array<string>>."""
    if kind == "array" and items:
        return f"array<{full_type(items['type'], items.get('items'))}>"
    return kind


def _parses_as_int(text: str) -> bool:
    """strconv.Atoi: an optional sign and ASCII digits within int64; no spaces or underscores,
    which Python's int() would accept."""
    if re.fullmatch(r"[+-]?[0-9]+", text) is None:
        return False
    return -(2**63) <= int(text) < 2**63


def _is_project_key(name: str, key: str) -> bool:
    return ":" not in key or key.startswith(f"{name}:")


def _is_secure(value: Any) -> bool:
    """A `secure:` ciphertext, or a map or list with one inside (object.go:50-71)."""
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_is_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_secure(v) for v in value)
    return False


def _scalar_text(value: Any) -> str:
    """MarshalString (object.go): text as is, true/false, numbers as Go's JSON writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_json_number(value)
    return "" if value is None else str(value)


def _as_text(value: Any) -> str:
    """What the program receives: text as is, true/false, numbers, JSON for lists and maps."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _listed(keys: list[str]) -> str:
    quoted = [f"'{k}'" for k in keys]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
