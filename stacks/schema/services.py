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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stacks.manifests import ROOT
from stacks.schema import goyaml
from stacks.schema.delivery import PacingConfig
from stacks.schema.problems import Locate, did_you_mean, validate
from stacks.schema.service import BUILT_IN_CHECKS, NAME, NAME_RULE, SLO_MOVED, ServiceConfig

SERVICES_DIR_ENV = "PROGRESSIVE_DELIVERY_SERVICES_DIR"
# What every service namespace holds besides the services' own (names Flagger or the platform
# give them): a service may not take these names or selectors.
LOADTESTER_RELEASE = "flagger-loadtester"
LOADTESTER_APP = "loadtester"
"""The app label of the load tester's pods, which its Service selects (the chart's name)."""
PLATFORM_ALERTS = "canary-alerts"
"""The per-namespace AlertProvider posting to the platform's webhook."""


def services_dir() -> Path:
    return Path(os.environ.get(SERVICES_DIR_ENV) or ROOT / "services")


def read(
    namespace: str,
    entries: Any,
    release: PacingConfig | None,
    encrypted: Callable[[list[str]], bool],
    directory: Path | None = None,
) -> tuple[tuple[ServiceConfig, ...], list[str]]:
    """Every service the stack runs and every problem with them. `encrypted(path)` tells whether
    the stack file holds the value at services.<path> encrypted."""
    problems: list[str] = []
    if not isinstance(entries, dict):
        return (), [f"{namespace}:services: got {entries!r}; allowed: a map of service names"]
    directory = directory or services_dir()
    available = sorted(p.stem for p in directory.glob("*.yaml"))
    found = []
    named: list[_Named] = []
    for name in sorted(entries):
        entry = entries[name]
        where = f"{namespace}:services.{name}"
        if not isinstance(name, str) or NAME.match(name) is None:
            problems.append(f"{where}: got a service named {name!r}; allowed: {NAME_RULE}")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{where}: got {entry!r}; allowed: a map with at least a version")
            continue
        declaration = _declaration(directory, namespace, name, available, problems)
        if declaration is None:
            continue
        merged = _merge(declaration, {k: v for k, v in entry.items() if k != "version"})
        if "slo" in merged:
            problems.append(
                f"{_locator(namespace, name, entry)('slo')}: not a field here; allowed: {SLO_MOVED}"
            )
            del merged["slo"]
        data = {**merged, "name": name, "version": entry.get("version")}
        locate = _locator(namespace, name, entry)
        service, own = validate(
            ServiceConfig, data, {"release": release}, locate, unknown="not a field here"
        )
        problems += own
        problems += _webhook_problems(namespace, name, entry, merged, locate, encrypted)
        if service is not None:
            found.append(service)
        named.append(_Named.of(name, merged))
    problems += _across(namespace, named)
    return tuple(found), problems


def _declaration(
    directory: Path, namespace: str, name: str, available: list[str], problems: list[str]
) -> dict[str, Any] | None:
    path = directory / f"{name}.yaml"
    if not path.is_file():
        problems.append(
            f"{namespace}:services.{name}: no declaration services/{name}.yaml"
            f"{did_you_mean(name, available)} (declared: {', '.join(available) or 'none'})"
        )
        return None
    try:
        # As the CLI reads the stack entry that may override it (YAML 1.2: `no` is text, 12:30
        # is not a number), so a field reads the same in either place.
        document = goyaml.as_written(goyaml.load(path.read_text()))
    except yaml.YAMLError as error:
        problems.append(f"services/{name}.yaml: not valid YAML: {goyaml.one_line(error)}")
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
        if path == "version":  # the stack always gives the version, set or not
            return f"{namespace}:services.{name}.version"
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


@dataclass(frozen=True)
class _Named:
    """What the checks across services read, taken from a declaration valid or not."""

    name: str
    namespace: str
    own_alerts: bool
    checks: tuple[str, ...]

    @classmethod
    def of(cls, name: str, merged: dict[str, Any]) -> _Named:
        namespace = merged.get("namespace")
        checks = merged.get("checks")
        return cls(
            name=name,
            namespace=namespace if isinstance(namespace, str) and namespace else name,
            own_alerts=isinstance(merged.get("alerts"), dict),
            checks=tuple(str(c) for c in checks) if isinstance(checks, dict) else (),
        )


def _across(namespace: str, services: list[_Named]) -> list[str]:
    """What no single declaration can check: names Flagger and the platform create per namespace."""
    problems = []
    owners: dict[tuple[str, str], str] = {}
    templates: dict[tuple[str, str], str] = {}
    for service in services:
        for check in service.checks:
            if check in BUILT_IN_CHECKS:
                continue
            template = f"{service.name}-{check}"
            other = templates.get((service.namespace, template))
            if template in BUILT_IN_CHECKS or other is not None:
                problems.append(
                    f"{namespace}:services.{service.name}.checks.{check}: its MetricTemplate "
                    f"{template} in namespace {service.namespace} is also "
                    f"{other + chr(39) + 's' if other else 'a built-in check'}; allowed: another "
                    "check name"
                )
            templates[(service.namespace, template)] = service.name
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
        if service.own_alerts and f"{service.name}-alerts" == PLATFORM_ALERTS:
            problems.append(
                f"{namespace}:services.{service.name}: its own AlertProvider would be "
                f"{PLATFORM_ALERTS}, the platform's in namespace {service.namespace}; allowed: "
                "another name, or alerts: platform"
            )
        problems += _platform_collisions(namespace, service)
    return problems


def _platform_collisions(namespace: str, service: _Named) -> list[str]:
    """Names and selectors the platform's load tester holds in every service namespace.

    Flagger creates Services <name>, <name>-primary and <name>-canary and selects pods by
    app=<name> (canary) and app=<name>-primary; the load tester chart names its Deployment and
    Service after the release and labels its pods app=loadtester (chart loadtester 0.38.0,
    templates/deployment.yaml, loadtester.name). A service named loadtester would have its canary
    Service send traffic to the load tester's pod, and the load tester's Service to its pods.
    """
    where = f"{namespace}:services.{service.name}"
    found = []
    for generated in (service.name, f"{service.name}-primary", f"{service.name}-canary"):
        if generated == LOADTESTER_RELEASE:
            found.append(
                f"{where}: its Service {generated} is the load tester's, which every service "
                "namespace has; allowed: another name"
            )
    for selected in (service.name, f"{service.name}-primary"):
        if selected == LOADTESTER_APP:
            found.append(
                f"{where}: its pods would carry app={selected}, the label the load tester's "
                f"Deployment and Service select in namespace {service.namespace}, so each would "
                "route to the other's pods; allowed: another name"
            )
    return found
