"""Config schema, types: a field's Python annotation as the Pulumi CLI's config type."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, SecretStr


def unwrap(annotation: Any) -> Any:
    """X | None -> X; Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def pulumi_type(annotation: Any) -> str:
    """string, integer, boolean, array or object (pulumi sdk/go/common/workspace/project.go)."""
    kind = unwrap(annotation)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType) and set(typing.get_args(kind)) <= {
        int,
        float,
        type(None),
    }:
        return "number"
    if kind is bool:
        return "boolean"
    if kind is int:
        return "integer"
    if kind in (str, SecretStr) or origin is typing.Literal:
        return "string"
    if origin in (tuple, list):
        return "array"
    if origin is dict or (isinstance(kind, type) and issubclass(kind, BaseModel)):
        return "object"
    raise TypeError(f"no Pulumi config type for {annotation!r}")


def items(annotation: Any) -> dict[str, Any] | None:
    """An array's `items` declaration: {"type": ...}; None for anything else."""
    kind = unwrap(annotation)
    if typing.get_origin(kind) not in (tuple, list):
        return None
    element = typing.get_args(kind)[0]
    found: dict[str, Any] = {"type": pulumi_type(element)}
    inner = items(element)
    if inner:
        found["items"] = inner
    return found
