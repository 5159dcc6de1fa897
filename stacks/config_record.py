"""Config records: one map inside structured stack config, read field by field like a top-level key.

Structured values (`type: object`, or `array` of objects) arrive as JSON; each field is checked
with the same rules as a top-level key, and every problem names its path ("clusterAdmins[0].objectId"),
what was given and what is allowed. A field nobody reads is a problem with a "did you mean".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from stacks.config_reader import Reader, did_you_mean

Locator = Callable[[str], str]
"""A field's path ("release.stepWeight") -> where a person finds it, as problems name it."""


class Record:
    """The fields of one config map at `path`; call `done()` after reading them all."""

    def __init__(
        self,
        reader: Reader,
        path: str,
        value: dict[str, Any],
        *,
        reported: bool = False,
        locate: Locator | None = None,
    ) -> None:
        self.reader = reader
        self.path = path
        self.value = value
        self._read: set[str] = set()
        self._reported = reported
        """The value was no map and that is reported already: fields fall back quietly."""
        self.locate: Locator = locate or (lambda p: f"{reader.namespace}:{p}")

    def _field(self, name: str) -> Any:
        self._read.add(name)
        return self.value.get(name)

    def _text_field(self, name: str) -> Any:
        """A field read as text: whole numbers count as their digits (see as_text)."""
        value = self._field(name)
        if isinstance(value, list):
            return [as_text(v) for v in value]
        if isinstance(value, dict):
            return {k: as_text(v) for k, v in value.items()}
        return as_text(value)

    def _path(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def problem(self, name: str, given: Any, allowed: str) -> None:
        if not self._reported:
            self.reader.problems.append(
                f"{self.locate(self._path(name))}: got {given!r}; allowed: {allowed}"
            )

    def has_problem(self, *names: str) -> bool:
        where = tuple(f"{self.locate(self._path(name))}:" for name in names)
        return any(p.startswith(where) for p in self.reader.problems)

    def child(self, name: str) -> Record:
        """A nested map (empty when absent; a problem when it is not a map)."""
        value = self._field(name)
        if value is None:
            return Record(self.reader, self._path(name), {}, locate=self.locate)
        if not isinstance(value, dict):
            self.problem(name, value, "a map of fields")
            return Record(self.reader, self._path(name), {}, reported=True, locate=self.locate)
        return Record(self.reader, self._path(name), value, locate=self.locate)

    def present(self, name: str) -> bool:
        return self.value.get(name) is not None

    def raw(self, name: str) -> Any:
        """A field's value as given (read, so `done` does not report it)."""
        return self._field(name)

    def strings(self, name: str, *, allowed: str) -> tuple[str, ...]:
        value = self._text_field(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(name, value, allowed)
            return ()
        return tuple(value)

    def string_map(self, name: str, *, allowed: str) -> tuple[tuple[str, str], ...]:
        value = self._text_field(name)
        if value is None:
            return ()
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.problem(name, value, allowed)
            return ()
        return tuple(sorted(value.items()))

    def text(
        self,
        name: str,
        *,
        allowed: str,
        default: str | None = None,
        pattern: re.Pattern[str] | None = None,
        check: Callable[[str], str | None] | None = None,
    ) -> str:
        value = self._text_field(name)
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or value == "":
            self.problem(name, value, allowed)
            return default or ""
        if pattern is not None and not pattern.match(value):
            self.problem(name, value, allowed)
        elif check is not None and (error := check(value)):
            self.problem(name, value, error)
        return value

    def choice(self, name: str, allowed: Sequence[str], default: str | None = None) -> str:
        value = self._field(name)
        if value is None and default is not None:
            return default
        if value not in allowed:
            self.problem(name, value, " | ".join(allowed))
            return default or allowed[0]
        return str(value)

    def integer(self, name: str, *, minimum: int, maximum: int, default: int | None = None) -> int:
        value = self._field(name)
        if value is None and default is not None:
            return default
        # YAML and JSON may give 4 as 4.0; text is not a number here.
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            self.problem(name, value, f"a whole number {minimum}-{maximum}")
            return default if default is not None else minimum
        if not minimum <= value <= maximum:
            self.problem(name, value, f"a whole number {minimum}-{maximum}")
        return int(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self._field(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(name, value, "true | false")
            return default
        return value

    def done(self, known: Sequence[str] = ()) -> None:
        """Report every field that was given but never read (a typo, or a field of another kind);
        `known` are fields read elsewhere (they count for "did you mean")."""
        for name in sorted(set(self.value) - self._read - set(known)):
            self.reader.problems.append(
                f"{self.locate(self._path(name))}: not a field here"
                f"{did_you_mean(name, [*self._read, *known])}"
            )


def as_text(value: Any) -> Any:
    """A whole number as its digits, anything else as is. `pulumi config set --path` stores
    digits as a number ("integers are treated as numbers", pkg/cmd/pulumi/config/config.go), and
    YAML reads `8080` as one; where a field is text (a tag, a header value) they mean the text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def records(reader: Reader, key: str) -> list[Record]:
    """A config list of maps as Records (an empty list when the key is not a list of maps)."""
    values = reader.structured(key, list)
    found = []
    for index, value in enumerate(values or []):
        path = f"{key}[{index}]"
        if isinstance(value, dict):
            found.append(Record(reader, path, value))
        else:
            reader.problem(path, value, "a map of fields")
    return found


def record(reader: Reader, key: str) -> Record:
    """A config map as a Record (with no fields when the key is not a map)."""
    value = reader.structured(key, dict)
    if isinstance(value, dict):
        return Record(reader, key, value)
    return Record(reader, key, {}, reported=True)
