"""Config schema, the stack's services: each declaration merged with its stack entry, validated.

A stack runs the services its `services` config names, each entry giving the version and,
optionally, any field of services/<name>.yaml to override in that stack. Every problem names where
the value was written: `services/cart.yaml: release.iterations` or
`progressive-delivery:services.cart.version`.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from stacks.manifests import ROOT, YAML_LOADER
from stacks.schema.delivery import Release
from stacks.schema.problems import Locate, did_you_mean, validate
from stacks.schema.service import NAME, NAME_RULE, Service

SERVICES_DIR_ENV = "PROGRESSIVE_DELIVERY_SERVICES_DIR"
# Objects every service namespace holds besides the services' own (names Flagger or the platform
# give them): a service may not take these names.
PLATFORM_ALERTS = "platform-alerts"
LOADTESTER = "flagger-loadtester"


def services_dir() -> Path:
    return Path(os.environ.get(SERVICES_DIR_ENV) or ROOT / "services")


def read(
    namespace: str,
    entries: Any,
    release: Release | None,
    encrypted: Callable[[list[str]], bool],
) -> tuple[tuple[Service, ...], list[str]]:
    """Every service the stack runs and every problem with them. `encrypted(path)` tells whether
    the stack file holds the value at services.<path> encrypted."""
    problems: list[str] = []
    if not isinstance(entries, dict):
        return (), [f"{namespace}:services: got {entries!r}; allowed: a map of service names"]
    available = sorted(p.stem for p in services_dir().glob("*.yaml"))
    found = []
    for name in sorted(entries):
        entry = entries[name]
        where = f"{namespace}:services.{name}"
        if not isinstance(name, str) or NAME.match(name) is None:
            problems.append(f"{where}: got a service named {name!r}; allowed: {NAME_RULE}")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{where}: got {entry!r}; allowed: a map with at least a version")
            continue
        declaration = _declaration(namespace, name, available, problems)
        if declaration is None:
            continue
        merged = _merge(declaration, {k: v for k, v in entry.items() if k != "version"})
        data = {**merged, "name": name, "version": entry.get("version")}
        locate = _locator(namespace, name, entry)
        service, own = validate(Service, data, {"release": release}, locate)
        problems += own
        problems += _webhook_problems(namespace, name, entry, merged, locate, encrypted)
        if service is not None:
            found.append(service)
    problems += _across(namespace, found)
    return tuple(found), problems


def _declaration(
    namespace: str, name: str, available: list[str], problems: list[str]
) -> dict[str, Any] | None:
    path = services_dir() / f"{name}.yaml"
    if not path.is_file():
        problems.append(
            f"{namespace}:services.{name}: no declaration services/{name}.yaml"
            f"{did_you_mean(name, available)} (declared: {', '.join(available) or 'none'})"
        )
        return None
    try:
        document = yaml.load(path.read_text(), Loader=YAML_LOADER)
    except yaml.YAMLError as error:
        problems.append(f"services/{name}.yaml: not valid YAML: {error}")
        return None
    if not isinstance(document, dict):
        problems.append(f"services/{name}.yaml: got {document!r}; allowed: a map of fields")
        return None
    for field in ("name", "version"):
        if field in document:
            problems.append(
                f"services/{name}.yaml: {field}: not a field here (the "
                + ("file name gives it)" if field == "name" else "stack's entry gives it)")
            )
    return {k: v for k, v in document.items() if k not in ("name", "version")}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`: maps merge field by field, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _locator(namespace: str, name: str, entry: dict[str, Any]) -> Locate:
    """A field's path -> the stack entry when the stack sets it, else the declaration file."""

    def locate(path: str) -> str:
        node: Any = entry
        for part in path.replace("[", ".[").split("."):
            if part.startswith("["):
                index = int(part[1:-1])
                if not isinstance(node, list) or index >= len(node):
                    return f"services/{name}.yaml: {path}"
                node = node[index]
                continue
            if not isinstance(node, dict) or part not in node:
                return f"services/{name}.yaml: {path}"
            node = node[part]
        return f"{namespace}:services.{name}.{path}"

    return locate


def _webhook_problems(
    namespace: str,
    name: str,
    entry: dict[str, Any],
    merged: dict[str, Any],
    locate: Locate,
    encrypted: Callable[[list[str]], bool],
) -> list[str]:
    """A service's own webhook URL is a secret of the stack: never in a committed declaration,
    never plain text in the stack file, never echoed."""
    alerts = merged.get("alerts")
    if not isinstance(alerts, dict) or alerts.get("webhookUrl") is None:
        return []
    command = (
        f"`pulumi config set --secret --path services.{name}.alerts.webhookUrl <url>` "
        f"(Pulumi.<stack>.yaml then holds it encrypted)"
    )
    where = f"{namespace}:services.{name}.alerts.webhookUrl"
    if not locate("alerts.webhookUrl").startswith(f"{namespace}:"):
        return [
            f"services/{name}.yaml: alerts.webhookUrl: got a URL in a committed file (not shown); "
            f"allowed: none there, the stack's secret set with {command}"
        ]
    if not encrypted([name, "alerts", "webhookUrl"]):
        return [
            f"{where}: got a plain-text value (not shown); allowed: a secret, set with {command}"
        ]
    return []


def _across(namespace: str, services: list[Service]) -> list[str]:
    """What no single declaration can check: names Flagger and the platform create per namespace."""
    problems = []
    owners: dict[tuple[str, str], str] = {}
    for service in services:
        for generated in (service.name, f"{service.name}-primary", f"{service.name}-canary"):
            key = (service.namespace, generated)
            other = owners.get(key)
            if other is not None and other != service.name:
                problems.append(
                    f"{namespace}:services.{service.name}: its Service {generated} in namespace "
                    f"{service.namespace} is also {other}'s; allowed: names whose Services "
                    "(<name>, <name>-primary, <name>-canary) differ within a namespace"
                )
            owners[key] = service.name
        if service.alerts.target == "own" and f"{service.name}-alerts" == PLATFORM_ALERTS:
            problems.append(
                f"{namespace}:services.{service.name}: its own AlertProvider would be "
                f"{PLATFORM_ALERTS}, the platform's in namespace {service.namespace}; allowed: "
                "another name, or alerts: platform"
            )
        if service.name == LOADTESTER:
            problems.append(
                f"{namespace}:services.{service.name}: the name of the load tester every "
                "service namespace has; allowed: another name"
            )
    return problems
