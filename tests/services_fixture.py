"""Service settings for tests, read by the program's own config code from a stack's config."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi

from stacks import config
from stacks.config_reader import Reader
from stacks.settings import ServiceSettings
from tests.harness import NAME, stack_config


def read(
    stack: str = "dev", overrides: dict[str, Any] | None = None
) -> tuple[tuple[ServiceSettings, ...], list[str]]:
    """The services `stack` runs, and every problem stacks.config finds with them."""
    pulumi.runtime.set_all_config(stack_config(stack, overrides))
    reader = Reader(pulumi.Config(NAME))
    services = config.read_services(reader)
    return services, reader.problems


def podinfo(stack: str = "dev", namespace: str = "podinfo", **release: Any) -> ServiceSettings:
    """The stack's podinfo, in `namespace`, with `release` fields (ReleaseSettings) replaced."""
    services, problems = read(stack)
    assert not problems, problems
    (service,) = (s for s in services if s.name == "podinfo")
    return dataclasses.replace(
        service, namespace=namespace, release=dataclasses.replace(service.release, **release)
    )
