"""Config schema, generated files: Pulumi.yaml's `config:` block and the references in docs/.

Every setting is written once, in the schema's models; these files are made from them.
`python -m stacks.schema.generate` rewrites them (`make generate`); `--check` exits 1 and names
each file that differs from what the schema gives (tests/test_schema.py runs it too).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from stacks.manifests import ROOT
from stacks.schema import SECTIONS
from stacks.schema.base import ALL_STACKS, Meta, meta
from stacks.schema.problems import _bounds
from stacks.schema.service import ServiceConfig
from stacks.schema.types import items, pulumi_type, unwrap

PROJECT_FILE = ROOT / "Pulumi.yaml"
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
SERVICES_DOC = ROOT / "docs" / "services.md"
MARKER = (
    "# ---- generated from stacks/schema by `make generate`: edit the models, not this block ----"
)


def pulumi_config_block() -> str:
    """The `config:` block of Pulumi.yaml: every key with its type, description and default."""
    lines = ["config:", f"  {MARKER}"]
    for section, model in SECTIONS:
        lines.append(f"  # ---- {section}: {_first_line(model)} ----")
        for name, info in model.model_fields.items():
            lines += _declaration(model, name, info)
    return "\n".join(lines) + "\n"


def _declaration(model: type[BaseModel], name: str, info: FieldInfo) -> list[str]:
    key = info.alias or name
    field = meta(model, name)
    entry: dict[str, Any] = {}
    if field.secret:
        # Untyped on purpose: the CLI requires a typed `secret: true` key to be set, encrypted, on
        # every stack (pulumi pkg/workspace/config.go), so it could never be left out. The program
        # refuses a plain-text value itself.
        lines = [
            "  # A secret, untyped on purpose: a typed secret key would be required on every stack."
        ]
    else:
        lines = []
        entry["type"] = pulumi_type(info.annotation)
        if found := items(info.annotation):
            entry["items"] = found
    entry["description"] = _summary(model, name, info, field)
    entry["default"] = _plain(info.default) if not field.secret else ""
    text = yaml.safe_dump({key: entry}, sort_keys=False, width=96, allow_unicode=True)
    return [*lines, *(f"  {line}" for line in text.splitlines())]


def _summary(model: type[BaseModel], name: str, info: FieldInfo, field: Meta) -> str:
    """The description Pulumi.yaml carries: what it is, its range and unit, where it applies."""
    text = info.description or ""
    facts = []
    allowed = _allowed(model, name, info, field)
    if allowed:
        facts.append(f"Allowed: {allowed}.")
    if set(field.stacks) != set(ALL_STACKS):
        facts.append(f"Read by: {', '.join(field.stacks)}.")
    if field.on_change:
        facts.append(
            f"{'Create-only: changing' if field.create_only else 'Changing'} it {field.on_change}."
        )
    return " ".join([text, *facts]).strip()


def _allowed(model: type[BaseModel], name: str, info: FieldInfo, field: Meta) -> str:
    low, high = _bounds(info)
    unit = f" {field.unit}" if field.unit else ""
    if low is not None and high is not None:
        return f"{low}-{high}{unit}"
    kind = unwrap(info.annotation)
    choices = getattr(kind, "__args__", None) if "Literal" in repr(kind) else None
    if choices:
        return " | ".join(str(c) for c in choices)
    if field.allowed:
        return field.allowed
    return field.unit or ""


def _plain(value: Any) -> Any:
    """A default as YAML holds it: models by their camelCase keys, tuples as lists."""
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_none=True)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _doc(model: type[BaseModel]) -> str:
    """A model's docstring as one paragraph."""
    return " ".join(inspect.cleandoc(model.__doc__ or "").split())


def _path(info: FieldInfo, name: str) -> str:
    """How a key below this field is written: `checks.<name>.` for a map, `items[].` for a list."""
    key = info.alias or name
    origin = getattr(unwrap(info.annotation), "__origin__", None)
    if origin is dict:
        return f"{key}.<name>."
    if origin in (list, tuple):
        return f"{key}[]."
    return f"{key}."


def _first_line(model: type[BaseModel]) -> str:
    return (model.__doc__ or model.__name__).strip().splitlines()[0].rstrip(".")


def project_file() -> str:
    """Pulumi.yaml with its config block as the schema gives it (the rest kept as written)."""
    text = PROJECT_FILE.read_text()
    head = text[: text.index("\nconfig:\n") + 1] if "\nconfig:\n" in text else text + "\n"
    return head + pulumi_config_block()


def configuration_reference() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from `stacks/schema/` by `make generate`; a test fails when this file and the",
        "schema differ. Set a key with `pulumi config set <key> <value>` (lists and maps with",
        "`--path`, secrets with `--secret`); a stack file holds only what differs from the default.",
        "**Changing it** says what a change does beyond an update in place.",
        "",
    ]
    for section, model in SECTIONS:
        lines += [f"## {section}", "", _doc(model), ""]
        lines += _table(model, key_prefix="")
        for name, info in model.model_fields.items():
            for nested in _nested(info):
                prefix = _path(info, name)
                lines += [f"### {prefix.rstrip('.')}", "", _doc(nested), ""]
                lines += _table(nested, key_prefix=prefix)
    return "\n".join(lines).rstrip() + "\n"


def _nested(info: FieldInfo) -> list[type[BaseModel]]:
    """The sections a field holds (itself, or as the items of a list or map)."""
    kind = unwrap(info.annotation)
    found = []
    for candidate in (kind, *getattr(kind, "__args__", ())):
        candidate = unwrap(candidate)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            found.append(candidate)
    return found


def services_reference() -> str:
    lines = [
        "# Service declaration reference",
        "",
        "Generated from `stacks/schema/service.py` by `make generate`. A service is one file,",
        "`services/<name>.yaml`; a stack runs it by naming it in its `services` config with a",
        "version, and may override any field there (`services.<name>.<field>`).",
        "",
        "Both are read as the Pulumi CLI reads YAML (go-yaml v3, YAML 1.2): only `true` and",
        "`false` are booleans (`yes`, `no`, `on`, `off` are text), `12:30` is text, not a number,",
        "and a key given twice is refused. In a stack file the CLI also stores `3.0` as `3` and a",
        "date as Go prints a time (`2026-01-01 00:00:00 +0000 UTC`): quote what is meant as text.",
        "",
    ]
    seen: set[type[BaseModel]] = set()
    queue: list[tuple[str, type[BaseModel]]] = [("", ServiceConfig)]
    while queue:
        prefix, model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        title = prefix.rstrip(".") or "service"
        lines += [f"## {title}", "", _doc(model), ""]
        lines += _table(model, key_prefix=prefix)
        for name, info in model.model_fields.items():
            for nested in _nested(info):
                queue.append((f"{prefix}{_path(info, name)}", nested))
    return "\n".join(lines).rstrip() + "\n"


def _table(model: type[BaseModel], key_prefix: str) -> list[str]:
    rows = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for name, info in model.model_fields.items():
        field = meta(model, name)
        key = f"{key_prefix}{info.alias or name}"
        default = "required" if info.is_required() else json.dumps(_plain(info.default))
        description = info.description or ""
        if set(field.stacks) != set(ALL_STACKS):
            description += f" Read by: {', '.join(field.stacks)}."
        if field.on_change:
            lead = "**Create-only**: changing" if field.create_only else "**Changing**"
            description += f" {lead} it {field.on_change}."
        if field.secret:
            description += " A secret."
        rows.append(
            f"| `{key}` | {pulumi_type(info.annotation)} | `{default}` | "
            f"{_cell(_allowed(model, name, info, field))} | {_cell(description)} |"
        )
    return [*rows, ""]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def outputs() -> dict[Path, str]:
    return {
        PROJECT_FILE: project_file(),
        CONFIGURATION_DOC: configuration_reference(),
        SERVICES_DOC: services_reference(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file differs")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        current = path.read_text() if path.is_file() else None
        if current == text:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT).as_posix())
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT).as_posix()}")
    if stale:
        print(f"generated files differ from the schema: {', '.join(stale)}; run `make generate`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
