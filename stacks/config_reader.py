"""Config reader: raw stack config values to Python values, collecting every problem on the way."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pulumi


class ConfigError(pulumi.RunError):
    """Stack configuration is invalid; the message lists every problem found."""


class Reader:
    """Reads raw config values, recording every problem instead of stopping at the first."""

    def __init__(self, config: pulumi.Config) -> None:
        self._config = config
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.read: set[str] = set()
        """Every key the program asked for: what Pulumi.yaml must declare."""

    @property
    def namespace(self) -> str:
        return self._config.name

    def problem(self, key: str, given: Any, allowed: str) -> None:
        self.problems.append(f"{self._config.name}:{key}: got {given!r}; allowed: {allowed}")

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(f"{self._config.name}:{key}: {message}")

    def unknown(self, key: str, known: Iterable[str]) -> None:
        """A key nobody reads: most likely a typo of one that is read."""
        self.problems.append(
            f"{self._config.name}:{key}: not a setting of this project{did_you_mean(key, known)}"
        )

    def has_problem(self, *keys: str) -> bool:
        return any(
            p.startswith(f"{self._config.name}:{key}:") for p in self.problems for key in keys
        )

    def raise_if_invalid(self) -> None:
        if self.problems:
            listed = "\n".join(f"  - {p}" for p in self.problems)
            raise ConfigError(
                f"invalid stack configuration ({len(self.problems)} problem(s)); "
                f"nothing was created:\n{listed}"
            )

    def _raw(self, key: str) -> str | None:
        self.read.add(key)
        value = self._config.get(key)
        if value is None:
            self.problem(key, None, "a value; its default is declared in Pulumi.yaml")
        return value

    def text(
        self,
        key: str,
        *,
        allowed: str,
        pattern: re.Pattern[str] | None = None,
        empty_ok: bool = False,
    ) -> str:
        value = self._raw(key)
        if value is None:
            return ""
        value = value.strip()
        if value == "" and empty_ok:
            return ""
        if value == "" or (pattern is not None and not pattern.match(value)):
            self.problem(key, value, allowed)
        return value

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        value = self._raw(key)
        if value is not None and value not in allowed:
            self.problem(key, value, " | ".join(allowed))
        return value or ""

    def check(self, key: str, rule: Callable[[str], str | None]) -> str:
        value = self._raw(key)
        if value is None:
            return ""
        error = rule(value)
        if error:
            self.problem(key, value, error)
        return value

    def integer(self, key: str, *, minimum: int, maximum: int | None = None) -> int:
        raw = self._raw(key)
        if raw is None:
            return minimum
        try:
            # The engine passes numbers as text; YAML may have turned 3 into 3.0.
            number = float(raw)
            if not number.is_integer():
                raise ValueError
            value = int(number)
        except ValueError:
            self.problem(key, raw, "a whole number")
            return minimum
        bounds = f"{minimum}-{maximum}" if maximum is not None else f">= {minimum}"
        if value < minimum or (maximum is not None and value > maximum):
            self.problem(key, value, f"a whole number {bounds}")
        return value

    def flag(self, key: str) -> bool:
        raw = self._raw(key)
        if raw is None:
            return False
        if raw.lower() not in ("true", "false"):
            self.problem(key, raw, "true | false")
        return raw.lower() == "true"

    def secret(self, key: str, *, check: Callable[[str], str | None]) -> pulumi.Output[str] | None:
        """A secret value, checked without echoing it; None when unset."""
        self.read.add(key)
        value = self._config.get(key)
        if value is None or value == "":
            return None
        full_key = f"{self._config.name}:{key}"
        if not pulumi.runtime.is_config_secret(full_key):
            self.problems.append(
                f"{full_key}: got a plain-text value; allowed: a secret, set with "
                f"`pulumi config set --secret {key} <value>`"
            )
        error = check(value)
        if error:
            self.problems.append(
                f"{full_key}: got a value that is not valid (not shown); allowed: {error}"
            )
        return pulumi.Output.secret(value)

    def texts(self, key: str, *, each: Callable[[str], str | None]) -> tuple[str, ...]:
        raw = self._raw(key)
        if raw is None:
            return ()
        try:
            values = json.loads(raw)
        except json.JSONDecodeError:
            values = None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            self.problem(key, raw, 'a list of strings, e.g. ["a", "b"]')
            return ()
        for value in values:
            error = each(value)
            if error:
                self.problem(key, value, error)
        return tuple(values)

    def integers(self, key: str, *, minimum: int, maximum: int) -> tuple[int, ...]:
        """A list of whole numbers (the engine passes it as JSON text)."""
        values = self.structured(key, list)
        if values is None:
            return ()
        whole = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(whole) != len(values) or any(v != int(v) for v in whole):
            self.problem(key, values, "a list of whole numbers, e.g. [1, 2]")
            return ()
        if not values or any(not minimum <= v <= maximum for v in values):
            self.problem(key, values, f"a non-empty list of whole numbers {minimum}-{maximum}")
        return tuple(int(v) for v in values)

    def structured(self, key: str, kind: type[list[Any]] | type[dict[str, Any]]) -> Any:
        """A list or map value (the engine passes it as JSON text); None when it is not one."""
        raw = self._raw(key)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, kind):
            shape = "a list" if kind is list else "a map of fields"
            self.problem(key, raw, f"{shape} (set it in the stack file or with `--path`)")
            return None
        return value


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """'; did you mean nodeCount?' for the closest known name, or '' when none is close."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[close[0]]}?" if close else ""


def configured_keys(project: str) -> set[str]:
    """The keys under `project:` that the stack's config sets (the engine adds Pulumi.yaml's
    defaults, so undeclared keys are the stack file's own)."""
    from pulumi.runtime.config import CONFIG, get_config_env

    prefix = f"{project}:"
    return {k[len(prefix) :] for k in {*CONFIG.get(), *get_config_env()} if k.startswith(prefix)}
