"""The config schema is the one place a setting is written: what is generated from it is current,
and what the Pulumi CLI requires of Pulumi.yaml holds for the generated block."""

from __future__ import annotations

import yaml

from stacks import schema
from stacks.schema import generate
from stacks.schema.cli import merge, validate_project
from tests.harness import NAME, ROOT


def test_generated_files_match_the_schema() -> None:
    stale = [
        path.relative_to(ROOT).as_posix()
        for path, text in generate.outputs().items()
        if not path.is_file() or path.read_text() != text
    ]
    assert stale == [], f"run `make generate`: {stale} differ from stacks/schema"


def test_the_generated_block_passes_the_pulumi_clis_rules() -> None:
    config = yaml.safe_load(generate.project_file())["config"]
    assert validate_project(NAME, config) == []
    # A fresh stack sets nothing: every key has a default the CLI accepts for its type.
    merged = merge(NAME, config, "fresh", {})
    assert set(merged.values) == {f"{NAME}:{key}" for key in schema.declared()}


def test_every_setting_says_what_it_is() -> None:
    for key, (model, name) in schema.declared().items():
        info = model.model_fields[name]
        assert info.description, f"{key} has no description"
        assert not info.is_required(), f"{key} has no default: the CLI would require it everywhere"


def test_secrets_are_untyped_so_a_stack_may_leave_them_out() -> None:
    config = yaml.safe_load(generate.project_file())["config"]
    for key in ("alertWebhookUrl", "alertReceiverSecret", "deadMansSwitchUrl"):
        assert "type" not in config[key] and "secret" not in config[key], key
