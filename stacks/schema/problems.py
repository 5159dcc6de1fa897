"""Config schema, errors: every problem as one line naming where, what was given and what is allowed.

`validate` runs a section's model and turns pydantic's errors into lines a person can act on:
`progressive-delivery:nodeCount: got 0; allowed: a whole number 1-1000`. Rules across fields
(`Rules`) run on whatever fields are valid, so one run reports every problem at once.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import annotated_types
from pydantic import BaseModel, ValidationError, ValidationInfo
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from stacks.schema.base import meta
from stacks.schema.types import unwrap as _unwrap

M = TypeVar("M", bound=BaseModel)
Locate = Callable[[str], str]
"""A field's path ("release.stepWeight") -> where a person finds it, as problems name it."""

FAILED = "failed"
"""Context key: the top-level keys whose own values failed, so rules reading them stay quiet."""


class Rules:
    """Problems found across fields in a model validator, raised together at the end.

    `rules = Rules(info)`; `if rules.valid("nodeMinCount", "nodeMaxCount") and ...:
    rules.refuse("nodeMinCount", given, "at most nodeMaxCount (3)")`; `rules.done()`.
    """

    def __init__(self, info: ValidationInfo) -> None:
        context = info.context or {}
        self.context: dict[str, Any] = context
        self._failed: set[str] = set(context.get(FAILED, ()))
        self._found: list[InitErrorDetails] = []

    def valid(self, *keys: str) -> bool:
        """Whether every key the rule reads holds the user's own, valid value."""
        return not self._failed.intersection(keys) and not any(
            e["loc"][0] in keys for e in self._found
        )

    def refuse(self, key: str | tuple[str | int, ...], given: Any, allowed: str) -> None:
        loc = (key,) if isinstance(key, str) else key
        self._found.append(
            InitErrorDetails(
                type=PydanticCustomError("allowed", "{allowed}", {"allowed": allowed}),
                loc=loc,
                input=given,
            )
        )

    def done(self, model: BaseModel) -> None:
        if self._found:
            raise ValidationError.from_exception_data(type(model).__name__, self._found)


def validate(
    model: type[M],
    data: dict[str, Any],
    context: dict[str, Any],
    locate: Locate,
    unknown: str = "not a setting of this project",
) -> tuple[M | None, list[str]]:
    """The validated section, or None and every problem, each as one line. `unknown` says what
    a key the model does not have is not."""
    try:
        return model.model_validate(data, context=context), []
    except ValidationError as error:
        errors = list(error.errors())
    # Again without what failed: rules across fields judge the rest. An unknown field is dropped
    # where it is (the values around it stay valid); a key whose value failed is dropped whole,
    # its default takes its place (a required one's placeholder, or pydantic would stop at
    # "missing" before any rule runs), and Rules.valid keeps rules from reading it.
    rest = _without(data, [e["loc"] for e in errors if e["type"] == "extra_forbidden"])
    failed = {e["loc"][0] for e in errors if e["loc"] and e["type"] != "extra_forbidden"}
    rest = {k: v for k, v in rest.items() if k not in failed} | _placeholders(model, failed)
    try:
        model.model_validate(rest, context={**context, FAILED: failed})
    except ValidationError as again:
        seen = {e["loc"] for e in errors}
        errors += [e for e in again.errors() if e["loc"] not in seen]
    return None, [line(model, e, locate, unknown) for e in errors]


def given(info: ValidationInfo, name: str) -> Any:
    """Another field's value, for a field validator (`name` a one-word field, its own key): None
    when it failed, since in the second pass a placeholder stands in for it."""
    if name in set((info.context or {}).get(FAILED, ())):
        return None
    return info.data.get(name)


def _placeholders(model: type[BaseModel], failed: set[Any]) -> dict[str, Any]:
    """Stand-ins for the required fields among `failed` (their problems are reported already)."""
    found = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        stand_in = meta(model, name).placeholder
        if key in failed and info.is_required() and stand_in is not None:
            found[key] = stand_in
    return found


def _without(data: Any, locs: list[tuple[str | int, ...]]) -> Any:
    """`data` with the value at each loc removed (a copy where anything is removed)."""
    if not locs or not isinstance(data, dict | list):
        return data
    heads = {loc[0] for loc in locs if len(loc) == 1}
    if isinstance(data, dict):
        return {
            k: _without(v, [loc[1:] for loc in locs if len(loc) > 1 and loc[0] == k])
            for k, v in data.items()
            if k not in heads
        }
    return [
        _without(v, [loc[1:] for loc in locs if len(loc) > 1 and loc[0] == i])
        for i, v in enumerate(data)
    ]


def line(
    model: type[BaseModel],
    error: Any,
    locate: Locate,
    unknown: str = "not a setting of this project",
) -> str:
    """One pydantic error as `where: got <given>; allowed: <what>`."""
    loc = tuple(error["loc"])
    owner, name = _field_at(model, loc)
    if (
        loc
        and isinstance(loc[-1], int)
        and owner is not None
        and name
        and not _holds_maps(owner, name)
    ):
        loc = loc[:-1]  # one text of a list of texts: the setting is named, the text shown
    where = locate(path(loc))
    if error["type"] == "extra_forbidden":
        known = _aliases(owner) if owner is not None else []
        what = "not a field here" if len(loc) > 1 else unknown
        return f"{where}: {what}{did_you_mean(str(loc[-1]), known)}"
    info = owner.model_fields[name] if owner is not None and name else None
    field_meta = meta(owner, name) if owner is not None and name else None
    allowed = _allowed(error, info, field_meta.allowed if field_meta else None)
    if field_meta is not None and field_meta.secret and error["input"] not in (None, ""):
        return f"{where}: got a value that is not valid (not shown); allowed: {allowed}"
    given = None if error["type"] == "missing" else error["input"]
    return f"{where}: got {given!r}; allowed: {allowed}"


def path(loc: Sequence[str | int]) -> str:
    """("clusterAdmins", 0, "objectId") -> "clusterAdmins[0].objectId"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """'; did you mean nodeCount?' for the closest known name, or '' when none is close."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[close[0]]}?" if close else ""


def _allowed(error: Any, info: FieldInfo | None, own: str | None) -> str:
    kind = error["type"]
    if kind == "allowed":
        return str(error["ctx"]["allowed"])
    if own:
        return own
    annotation = _unwrap(info.annotation) if info is not None else None
    if kind == "literal_error" or typing.get_origin(annotation) is typing.Literal:
        return " | ".join(str(a) for a in typing.get_args(annotation)) or error["msg"]
    if kind.startswith(("int_", "greater_than", "less_than")):
        low, high = _bounds(info)
        if low is not None and high is not None:
            return f"a whole number {low}-{high}"
        return f"a whole number >= {low}" if low is not None else "a whole number"
    if kind.startswith("bool_"):
        return "true | false"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "a map of fields"
    if kind in ("list_type", "tuple_type"):
        return "a list"
    if kind == "missing":
        return "a value"
    return str(error["msg"])


def _bounds(info: FieldInfo | None) -> tuple[Any, Any]:
    low: Any = None
    high: Any = None
    for item in info.metadata if info is not None else ():
        if isinstance(item, annotated_types.Ge):
            low = item.ge  # type: ignore[assignment]
        elif isinstance(item, annotated_types.Le):
            high = item.le  # type: ignore[assignment]
    return low, high


def _aliases(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _field_at(
    model: type[BaseModel], loc: tuple[str | int, ...]
) -> tuple[type[BaseModel] | None, str]:
    """The model owning the field the error is about, and the field's name ("" when the error
    is about the model itself or lies inside a list or map of plain values)."""
    owner: type[BaseModel] | None = model
    name = ""
    kind: Any = model
    for part in loc:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            owner, name = kind, _name_of(kind, str(part))
            if not name:
                return owner, ""
            kind = _unwrap(kind.model_fields[name].annotation)
        elif typing.get_origin(kind) in (list, tuple, dict):
            args = typing.get_args(kind)
            kind = _unwrap(args[-1] if typing.get_origin(kind) is dict else args[0])
        else:
            break
    return owner, name


def _holds_maps(model: type[BaseModel], name: str) -> bool:
    """Whether a field is a list or map of sections (whose items are named by index)."""
    args = typing.get_args(_unwrap(model.model_fields[name].annotation))
    return any(isinstance(_unwrap(a), type) and issubclass(_unwrap(a), BaseModel) for a in args)


def _name_of(model: type[BaseModel], key: str) -> str:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name
    return ""
