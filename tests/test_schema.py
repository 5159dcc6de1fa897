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


def test_the_checks_example_is_a_check_the_program_accepts() -> None:
    """The schema's own example custom check reads a metric Prometheus keeps and returns one
    series: copied into a declaration it passes, as a query on an unscraped metric does not."""
    from stacks.schema.base import meta
    from stacks.schema.delivery import PacingConfig
    from stacks.schema.problems import validate
    from stacks.schema.service import ServiceConfig
    from tests.harness import FIXTURES

    example = meta(ServiceConfig, "checks").example
    podinfo = yaml.safe_load((FIXTURES / "services" / "podinfo.yaml").read_text())
    pacing, found = validate(PacingConfig, {}, {}, str)
    assert found == []
    declaration = {**podinfo, "name": "podinfo", "version": "6.14.1"}
    service, found = validate(
        ServiceConfig, {**declaration, "checks": example}, {"release": pacing}, str
    )
    assert found == [] and service is not None
    (name,) = example
    assert service.checks[name].query == example[name]["query"]
    unscraped = {name: {**example[name], "query": "max(queue_depth)"}}
    _, found = validate(
        ServiceConfig, {**declaration, "checks": unscraped}, {"release": pacing}, str
    )
    assert any("metric queue_depth is not scraped" in line for line in found), found


def test_every_required_service_field_has_a_placeholder_its_own_rules_accept() -> None:
    """problems.validate puts these in for a failed required field, so the rules across fields
    still run: a placeholder its own field refuses would add a problem the user never made."""
    from stacks.schema.base import meta
    from stacks.schema.delivery import PacingConfig
    from stacks.schema.problems import validate
    from stacks.schema.service import ServiceConfig

    pacing, _ = validate(PacingConfig, {}, {}, str)
    required = [n for n, info in ServiceConfig.model_fields.items() if info.is_required()]
    assert {"name", "image", "version", "port"} <= set(required)
    for name in set(required) - {"release"}:  # release: the model fills in {} itself
        placeholder = meta(ServiceConfig, name).placeholder
        assert placeholder is not None, name
        data = {"name": "x", "image": "a.io/b", "version": "1.0.0", "port": 8080, name: placeholder}
        service, found = validate(ServiceConfig, data, {"release": pacing}, str)
        assert found == [] and service is not None, (name, found)
