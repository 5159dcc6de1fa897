"""The Pulumi CLI's own config rules (stacks/schema/cli.py): every committed stack passes them,
and each rule catches what the CLI would refuse before the program ever runs."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from stacks.schema.cli import CliConfigError, merge, validate_project
from tests.harness import FIXTURES, NAME, PROJECT, SET_BY_USER, STACKS, stack_config


def stack_file(stack: str) -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / f"Pulumi.{stack}.yaml").read_text())["config"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_committed_stack_passes_the_cli_checks(stack: str) -> None:
    assert validate_project(NAME, PROJECT["config"]) == []
    merged = merge(NAME, PROJECT["config"], stack, stack_file(stack))
    assert set(merged.values) == {f"{NAME}:{key}" for key in PROJECT["config"]}
    # The mocked runs hand the program exactly that config, plus what the user must set.
    user_set = {
        f"{NAME}:{k}": v if isinstance(v, str) else json.dumps(v)
        for k, v in SET_BY_USER.get(stack, {}).items()
    }
    assert stack_config(stack) == merged.values | user_set


def test_a_fresh_stack_needs_no_secret_set() -> None:
    merged = merge(NAME, PROJECT["config"], "fresh", {})
    assert merged.values[f"{NAME}:alertWebhookUrl"] == ""


def test_the_old_alert_webhook_declaration_would_refuse_every_stack() -> None:
    config = dict(PROJECT["config"])
    config["alertWebhookUrl"] = {"type": "string", "secret": True, "description": "x"}
    with pytest.raises(
        CliConfigError, match="Stack 'dev' is missing configuration value 'alertWebhookUrl'"
    ):
        merge(NAME, config, "dev", stack_file("dev"))
    config["alertWebhookUrl"] = {"type": "string", "secret": True, "default": ""}
    with pytest.raises(CliConfigError, match="'alertWebhookUrl' must be encrypted as it's secret"):
        merge(NAME, config, "dev", stack_file("dev"))
    encrypted = {**stack_file("dev"), f"{NAME}:alertWebhookUrl": {"secure": "v1:abc"}}
    assert f"{NAME}:alertWebhookUrl" in merge(NAME, config, "dev", encrypted).secret_keys


@pytest.mark.parametrize(
    ("declared", "error"),
    [
        ({"type": "integer", "default": "two"}, "not of the expected type 'integer'"),
        ({"type": "array", "default": []}, "does not specify the underlying type"),
        ({"type": "map", "default": {}}, "not one of string, integer, boolean, array, object"),
        ({"type": "string", "default": "a", "value": "b"}, "both a 'default' and 'value'"),
        ({"type": "object", "properties": {}, "default": {}}, "additional properties"),
        (
            {"type": "array", "items": {"type": "object"}, "default": ["x"]},
            "not of the expected type 'array<object>'",
        ),
    ],
)
def test_pulumi_yaml_declarations_are_checked(declared: dict[str, Any], error: str) -> None:
    assert any(error in e for e in validate_project(NAME, {"key": declared}))


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("3", True),  # text that parses counts
        (3, True),
        ("three", False),
        ("3.5", False),
        ("+3", True),  # strconv.Atoi takes a sign
        ("1_000", False),  # ... but neither underscores nor spaces, unlike Python's int()
        (" 7 ", False),
    ],
)
def test_stack_values_must_match_their_type(value: Any, accepted: bool) -> None:
    values = {**stack_file("dev"), f"{NAME}:nodeCount": value}
    if accepted:
        merge(NAME, PROJECT["config"], "dev", values)
    else:
        with pytest.raises(CliConfigError, match="'nodeCount' must be of type 'integer'"):
            merge(NAME, PROJECT["config"], "dev", values)


def test_lists_of_maps_are_checked_by_element() -> None:
    good = {f"{NAME}:clusterAdmins": [{"objectId": "x", "principalType": "User"}]}
    merge(NAME, PROJECT["config"], "dev", good)
    with pytest.raises(CliConfigError, match="'clusterAdmins' must be of type 'array<object>'"):
        merge(NAME, PROJECT["config"], "dev", {f"{NAME}:clusterAdmins": ["x"]})
    with pytest.raises(CliConfigError, match="'availabilityZones' must be of type 'array<string>'"):
        merge(NAME, PROJECT["config"], "dev", {f"{NAME}:availabilityZones": [1, 2]})


def test_every_missing_key_is_listed_at_once() -> None:
    config = {
        "a": {"type": "string"},
        "b": {"description": "untyped, no default"},
        "c": {"default": 1},
    }
    with pytest.raises(CliConfigError, match="missing configuration values 'a' and 'b'"):
        merge(NAME, config, "dev", {})
