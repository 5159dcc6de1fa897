"""Config schema, building blocks: a setting is one pydantic field carrying all of its text.

Each setting is declared once, with `setting(...)`: its type (the annotation), default, bounds,
unit, what is allowed (in words, for errors and docs), which stacks read it and whether changing
it replaces something. Pulumi.yaml's config block and the references in docs/ are generated from
these fields (stacks/schema/generate.py); errors are rendered from them (stacks/schema/problems.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

ALL_STACKS = ("dev", "prod", "local")
AKS_STACKS = ("dev", "prod")


@dataclass(frozen=True)
class Meta:
    """What a field says beyond its type: read by problems.py and generate.py."""

    allowed: str | None = None
    """What is allowed, in words, when the type and bounds do not say it well."""
    unit: str | None = None
    stacks: tuple[str, ...] = ALL_STACKS
    """The environments that read it; the others ignore it."""
    on_change: str | None = None
    """What changing it does to what exists, when that is more than an update in place."""
    create_only: bool = False
    """AKS cannot change it in place: a change replaces the cluster (see on_change)."""
    secret: bool = False
    """A credential: stored encrypted, never echoed in an error."""
    example: Any = None
    pattern: re.Pattern[str] | None = None
    """Text (or each text of a list) must match it; `allowed` says what that means."""
    check: Callable[[str], str | None] | None = None
    """A rule for text (or each text of a list): what is allowed when it is broken, else None."""
    placeholder: Any = None
    """A required field's valid stand-in while its own value is reported: the model's rules
    across fields still run on the rest (problems.py validate)."""


def setting(
    default: Any,
    description: str,
    *,
    allowed: str | None = None,
    unit: str | None = None,
    ge: int | None = None,
    le: int | None = None,
    stacks: tuple[str, ...] = ALL_STACKS,
    on_change: str | None = None,
    create_only: bool = False,
    secret: bool = False,
    example: Any = None,
    pattern: re.Pattern[str] | None = None,
    check: Callable[[str], str | None] | None = None,
    alias: str | None = None,
    placeholder: Any = None,
) -> Any:
    """A field of a section: `node_count: int = setting(2, "Nodes in the user pool", ge=1, le=1000)`.

    `...` as default makes it required (fields of a map only: the Pulumi CLI requires a top-level
    key without a default on every stack)."""
    meta = Meta(
        allowed, unit, stacks, on_change, create_only, secret, example, pattern, check, placeholder
    )
    return Field(
        default,
        description=description,
        ge=ge,
        le=le,
        alias=alias,
        json_schema_extra={"meta": meta},  # type: ignore[dict-item]
    )


def meta(model: type[BaseModel], name: str) -> Meta:
    extra = model.model_fields[name].json_schema_extra
    found = extra.get("meta") if isinstance(extra, dict) else None
    return found if isinstance(found, Meta) else Meta()


def refuse(allowed: str) -> PydanticCustomError:
    """A value error whose message is exactly what is allowed (problems.py adds what was given)."""
    return PydanticCustomError("allowed", "{allowed}", {"allowed": allowed})


class Section(BaseModel):
    """One section of settings (or one map inside a setting): camelCase keys, nothing unknown,
    frozen once validated."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        # `pulumi config set --path` stores digits as a number and YAML reads `8080` as one; a
        # text field (a tag, a header value) means the text.
        coerce_numbers_to_str=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _none_is_unset(cls, data: Any) -> Any:
        """A field given as null is not given (YAML's `key:` and a stack entry's way to drop a
        declaration's value): its default applies, or it is reported missing."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data

    @field_validator("*", mode="after")
    @classmethod
    def _rules_of_text(cls, value: Any, info: ValidationInfo) -> Any:
        """Each field's `pattern` and `check`, on its text or on each text of its list (every
        broken one is named). An empty text whose default is empty means "derive it"."""
        rule = meta(cls, info.field_name) if info.field_name else Meta()
        if rule.pattern is None and rule.check is None:
            return value
        default = cls.model_fields[info.field_name].default if info.field_name else None
        listed = isinstance(value, tuple | list)
        found = []
        for index, text in enumerate(value if listed else (value,)):
            if not isinstance(text, str) or (text == "" and default == ""):
                continue
            problem = None
            if rule.pattern is not None and not rule.pattern.match(text):
                problem = rule.allowed or f"text matching {rule.pattern.pattern}"
            elif rule.check is not None:
                problem = rule.check(text)
            if problem:
                loc = (index,) if listed else ()
                found.append(InitErrorDetails(type=refuse(problem), loc=loc, input=text))
        if found:
            raise ValidationError.from_exception_data(cls.__name__, found)
        return value
