"""Config schema: every stack setting and service field, defined once, validated all at once.

`load(source)` turns a stack's config into `Settings`, or raises ConfigError listing every problem
(file and key, what was given, what is allowed, a did-you-mean for unknown keys). The source is
what the Pulumi CLI hands the program (stacks/config.py builds it from `pulumi.Config`) or what
`canaryctl check` reads from the stack files with the CLI's own rules (stacks/schema/cli.py): one
set of rules for both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ValidationError

from stacks.schema import azure_names
from stacks.schema import services as service_config
from stacks.schema.alerting import AlertingConfig
from stacks.schema.base import ALL_STACKS, Section, meta, setting
from stacks.schema.cluster import ClusterConfig, LocalClusterConfig
from stacks.schema.delivery import DeliveryConfig, PacingConfig
from stacks.schema.mesh import MeshConfig
from stacks.schema.problems import did_you_mean, validate
from stacks.schema.service import ServiceConfig
from stacks.schema.telemetry import TelemetryConfig
from stacks.schema.types import pulumi_type

# Linkerd's HA control plane spreads 3 replicas over distinct nodes.
HA_MIN_NODES = 3


class ConfigError(Exception):
    """Stack configuration is invalid; the message lists every problem found, and `problems`
    holds them one line each (empty for a single-sentence refusal)."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)

    @classmethod
    def listing(cls, headline: str, problems: Sequence[str]) -> Self:
        """`<headline> (N problem(s)); nothing was created:` and one `  - <problem>` per line."""
        listed = "\n".join(f"  - {p}" for p in problems)
        return cls(
            f"{headline} ({len(problems)} problem(s)); nothing was created:\n{listed}", problems
        )


class PlatformConfig(Section):
    """Which kind of platform the stack is, and the services it runs."""

    environment: Literal["dev", "prod", "local"] = setting(
        "dev",
        "Which kind of platform this stack is: dev or prod (AKS), or local (an existing cluster, "
        "no Azure).",
    )
    services: dict[str, Any] = setting(
        {},
        "The services this stack runs: name -> {version: <tag or sha256 digest>, and any field of "
        "services/<name>.yaml to override here}. Changing a version releases that service.",
        example={"podinfo": {"version": "6.14.1"}},
    )


# Every section, in the order Pulumi.yaml and docs/configuration.md list them.
SECTIONS: tuple[tuple[str, type[Section]], ...] = (
    ("platform", PlatformConfig),
    ("cluster", ClusterConfig),
    ("local", LocalClusterConfig),
    ("mesh", MeshConfig),
    ("telemetry", TelemetryConfig),
    ("alerting", AlertingConfig),
    ("delivery", DeliveryConfig),
    ("release", PacingConfig),
)


@dataclass(frozen=True)
class Source:
    """A stack's config as the program receives it."""

    project: str
    stack: str
    values: Mapping[str, str]
    """"project:key" -> text (lists and maps as JSON), Pulumi.yaml's defaults included."""
    is_secret: Callable[[str], bool]
    """Whether "project:key" is stored encrypted."""
    encrypted: Callable[[list[str]], bool]
    """Whether the value at services.<path> is stored encrypted in the stack file."""
    today: date = field(default_factory=date.today)
    services_dir: Path | None = None
    """Where the declarations are (services/ of the project); None: this checkout's."""


@dataclass(frozen=True)
class Settings:
    """Everything the program builds, validated."""

    project: str
    stack: str
    environment: str
    cluster: ClusterConfig | None
    """AKS (dev, prod); None for the local stack."""
    local: LocalClusterConfig | None
    """The existing cluster of the local stack; None on AKS."""
    mesh: MeshConfig
    telemetry: TelemetryConfig
    alerting: AlertingConfig
    delivery: DeliveryConfig
    release: PacingConfig
    services: tuple[ServiceConfig, ...]
    warnings: tuple[str, ...] = ()
    """Nothing wrong yet, but soon: shown by `pulumi preview`."""

    @property
    def protect(self) -> bool:
        """prod, unless allowDestroy: what a failed or mistaken delete would strand is protected
        (stacks/components/teardown.py)."""
        allowed = self.cluster is not None and self.cluster.allow_destroy
        return self.environment == "prod" and not allowed

    @property
    def zone_redundant_storage(self) -> bool:
        """AKS across zones: volumes on zone-redundant disks, so pods can move between zones."""
        return bool(self.cluster and self.cluster.availability_zones)


def declared() -> dict[str, tuple[type[Section], str]]:
    """Every stack key -> its section and field name."""
    return {
        info.alias or name: (model, name)
        for _, model in SECTIONS
        for name, info in model.model_fields.items()
    }


def _what_passed(
    model: type[PacingConfig], data: dict[str, Any], context: dict[str, Any]
) -> PacingConfig | None:
    """`model` from the keys of `data` that pass on their own, defaults for the others; None when
    even that is refused (a rule across fields)."""
    kept = {}
    for key, value in data.items():
        try:
            model.model_validate({key: value}, context=context)
        except ValidationError:
            continue
        kept[key] = value
    try:
        return model.model_validate(kept, context=context)
    except ValidationError:
        return None


def load_source(source: Source) -> Settings:
    """Validated settings, or ConfigError naming every problem at once."""
    namespace = source.project
    keys = declared()
    problems: list[str] = []
    prefix = f"{namespace}:"
    for full in sorted(source.values):
        key = full[len(prefix) :] if full.startswith(prefix) else None
        if key is not None and key not in keys:
            problems.append(f"{full}: not a setting of this project{did_you_mean(key, list(keys))}")
    data: dict[type[Section], dict[str, Any]] = {model: {} for _, model in SECTIONS}
    for key, (model, name) in keys.items():
        full = f"{prefix}{key}"
        if full not in source.values and meta(model, name).secret:
            continue  # unset: a secret's default is empty
        if full not in source.values:
            problems.append(
                f"{full}: got None; allowed: a value; its default is declared in Pulumi.yaml"
            )
            continue
        text = source.values[full]
        if meta(model, name).secret:
            if text and not source.is_secret(full):
                problems.append(
                    f"{full}: got a plain-text value; allowed: a secret, set with "
                    f"`pulumi config set --secret {key} <value>`"
                )
            data[model][key] = text or None
            continue
        data[model][key] = _parsed(text, pulumi_type(model.model_fields[name].annotation))

    def locate(path: str) -> str:
        return f"{namespace}:{path}"

    warnings: list[str] = []
    context: dict[str, Any] = {
        "project": source.project,
        "stack": source.stack,
        "today": source.today,
        "warnings": warnings,
    }
    platform, found = validate(PlatformConfig, data[PlatformConfig], context, locate)
    problems += found
    environment = platform.environment if platform else "dev"
    context["environment"] = environment
    sections: dict[type[Section], Any] = {PlatformConfig: platform}
    # DeliveryConfig first: the alerting section's migration hint names Flagger's alertProvider.
    order = sorted(SECTIONS[1:], key=lambda entry: entry[1] is not DeliveryConfig)
    for _, model in order:
        if environment not in _stacks(model):
            continue
        sections[model], found = validate(model, data[model], context, locate)
        problems += found
        if model is DeliveryConfig:
            context["flagger_alert_provider"] = str(data[DeliveryConfig].get("alertProvider"))
    release = sections.get(PacingConfig)
    if release is None and environment in _stacks(PacingConfig):
        # The stack's pacing failed (its problems are listed): judge the services against the
        # keys that passed, the rest at their defaults, not against nothing (a cascade of "got 0"
        # blamed on every declaration).
        release = _what_passed(PacingConfig, data[PacingConfig], context)
    services, found = service_config.read(
        namespace,
        platform.services if platform else {},
        release,
        source.encrypted,
        source.services_dir,
    )
    problems += found
    cluster: ClusterConfig | None = sections.get(ClusterConfig)
    mesh: MeshConfig | None = sections.get(MeshConfig)
    if cluster is not None:
        problems += _registry_pulls(namespace, cluster.container_registry, services)
        if mesh is not None and mesh.high_availability:
            pool = cluster.user_pool
            nodes = pool.min_count if pool.autoscaling else pool.count
            key = "nodeMinCount" if pool.autoscaling else "nodeCount"
            if nodes < HA_MIN_NODES:
                problems.append(
                    f"{namespace}:{key}: got {nodes!r}; allowed: >= {HA_MIN_NODES} when "
                    "meshHighAvailability is true"
                )
    if problems:
        raise ConfigError.listing("invalid stack configuration", problems)
    return Settings(
        project=source.project,
        stack=source.stack,
        environment=environment,
        cluster=cluster,
        local=sections.get(LocalClusterConfig),
        mesh=sections[MeshConfig],
        telemetry=sections[TelemetryConfig],
        alerting=sections[AlertingConfig],
        delivery=sections[DeliveryConfig],
        release=sections[PacingConfig],
        services=services,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _stacks(model: type[BaseModel]) -> set[str]:
    """The environments that read a section: those of its fields."""
    return {stack for name in model.model_fields for stack in meta(model, name).stacks} or set(
        ALL_STACKS
    )


def _parsed(text: str, kind: str) -> Any:
    """A config value as the CLI's type says, text when it does not parse (pydantic then says
    what is allowed). Integers parse like Go's strconv.Atoi; booleans are true or false."""
    if kind == "integer":
        stripped = text[1:] if text[:1] in "+-" else text
        return int(text) if stripped.isascii() and stripped.isdigit() else text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if kind in ("array", "object"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _registry_pulls(
    namespace: str, registry: str, services: tuple[ServiceConfig, ...]
) -> list[str]:
    """An image on an Azure Container Registry pulls only from the one the cluster may read."""
    allowed = azure_names.registry_login_server(registry) if registry else None
    problems = []
    for s in services:
        host = s.image.split("/", 1)[0]
        if host.endswith(".azurecr.io") and host != allowed:
            problems.append(
                f"{namespace}:services.{s.name}: image {s.image} is on {host}, which the cluster "
                f"may not pull from; allowed: an image on containerRegistry's login server "
                f"({allowed or 'containerRegistry is not set'}), or a public registry"
            )
    return problems
