"""Service settings for tests, read by the program's own config schema from a stack's config."""

from __future__ import annotations

from datetime import date
from typing import Any

from stacks.schema import ConfigError, load_source
from stacks.schema.service import ServiceConfig
from tests.harness import source

# Release fields by their settings name, as a declaration writes them.
_RELEASE_KEYS = {
    "interval_seconds": ("interval", lambda seconds: f"{seconds}s"),
    "metric_interval_seconds": ("metricInterval", lambda seconds: f"{seconds}s"),
    "threshold": ("threshold", None),
    "max_weight": ("maxWeight", None),
    "step_weight": ("stepWeight", None),
    "manual_promotion": ("manualPromotion", None),
    "progress_deadline_seconds": ("progressDeadlineSeconds", None),
}


def read(
    stack: str = "dev", overrides: dict[str, Any] | None = None
) -> tuple[tuple[ServiceConfig, ...], list[str]]:
    """The services `stack` runs, and every problem the schema finds with the stack."""
    try:
        settings = load_source(source(stack, overrides, today=date(2026, 12, 1)))
    except ConfigError as error:
        return (), list(error.problems)
    return settings.services, []


def podinfo(stack: str = "dev", namespace: str = "podinfo", **release: Any) -> ServiceConfig:
    """The stack's podinfo, in `namespace`, with `release` fields (by their settings names, e.g.
    interval_seconds=60) set in the stack's entry, as a user would."""
    fields: dict[str, Any] = {}
    for name, value in release.items():
        key, convert = _RELEASE_KEYS[name]
        fields[key] = convert(value) if convert else value
    entry = {"version": "6.14.1", "namespace": namespace, "release": fields}
    if stack == "prod":
        entry["replicas"] = {"min": 3, "max": 10}
    services, problems = read(stack, {"services": {"podinfo": entry}})
    assert not problems, problems
    (service,) = (s for s in services if s.name == "podinfo")
    return service
