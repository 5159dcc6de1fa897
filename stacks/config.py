"""Config: the one place that reads `pulumi.Config()`, turning stack config into validated Settings.

Defaults live in Pulumi.yaml (the engine supplies them); this module only checks and types what
it is given. Every problem is collected and reported at once, before any resource is registered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pulumi
import yaml

from stacks import config_services
from stacks import validators as v
from stacks.azure_names import registry_login_server
from stacks.config_aks import read_aks, read_local
from stacks.config_reader import ConfigError, Reader, configured_keys
from stacks.config_services import ReleaseDefaults
from stacks.manifests import PROJECT_FILE, YAML_LOADER
from stacks.settings import (
    AlertReceiver,
    DeliverySettings,
    MeshSettings,
    ServiceSettings,
    Settings,
    TelemetrySettings,
)

__all__ = ["ConfigError", "Settings", "check", "load"]

ENVIRONMENTS = ("dev", "prod", "local")
ALERT_PROVIDERS = ("none", "slack", "msteams")
# Where Alertmanager reaches a person (stacks/alertmanager.py); "none" only outside prod.
ALERT_RECEIVERS = ("slack", "msteams", "webhook", "pagerduty", "opsgenie")
# Prometheus scrapes every 10 s; a query window of one scrape comes back empty (flagger#1123) and
# a check must never be judged on a single sample: at least 3 scrapes.
SCRAPE_INTERVAL_SECONDS = 10  # manifests/telemetry/prometheus-values.yaml
MIN_METRIC_WINDOW_SECONDS = 3 * SCRAPE_INTERVAL_SECONDS

# Linkerd's HA control plane spreads 3 replicas over distinct nodes.
HA_MIN_NODES = 3


def load(today: date | None = None) -> Settings:
    """Read and validate the stack's configuration; raise ConfigError listing every problem.

    Warnings (nothing wrong yet, but soon) go to the engine's log, where `pulumi preview` shows them.
    """
    settings, reader = check(pulumi.get_project(), pulumi.get_stack(), today or date.today())
    reader.raise_if_invalid()
    for warning in reader.warnings:
        pulumi.log.warn(warning)
    return settings


def check(project: str, stack: str, today: date) -> tuple[Settings, Reader]:
    """Every rule `load` applies, without raising: the reader holds the problems and warnings.

    Reads what `pulumi.Config(project)` holds: the engine's config under `pulumi up`, or what
    `pulumi.runtime.set_all_config` put there outside it (canaryctl doctor). Settings built from
    a config with problems are not to be used.
    """
    reader = Reader(pulumi.Config(project))
    settings = _settings(reader, project, stack, today)
    declared = declared_keys()
    for key in sorted(configured_keys(project) - declared):
        reader.unknown(key, declared)
    return settings, reader


def declared_keys() -> set[str]:
    """The keys Pulumi.yaml declares: the only ones a stack may set under the project's name."""
    with PROJECT_FILE.open() as stream:
        return set((yaml.load(stream, Loader=YAML_LOADER) or {}).get("config") or {})


def _settings(r: Reader, project: str, stack: str, today: date) -> Settings:
    environment = r.choice("environment", ENVIRONMENTS)
    aks = read_aks(r, project, stack, environment, today) if environment != "local" else None
    local = read_local(r) if environment == "local" else None
    mesh = _mesh(r)
    services = read_services(r)
    if aks is not None:
        _registry_pulls(r, aks.container_registry, services)
    if mesh.high_availability and aks is not None:
        pool = aks.user_pool
        nodes = pool.min_count if pool.autoscaling else pool.count
        key = "nodeMinCount" if pool.autoscaling else "nodeCount"
        if nodes < HA_MIN_NODES and not r.has_problem(key):
            r.problem(key, nodes, f">= {HA_MIN_NODES} when meshHighAvailability is true")
    delivery = _delivery(r)
    return Settings(
        project=project,
        stack=stack,
        environment=environment,
        aks=aks,
        local=local,
        mesh=mesh,
        # A volume in one zone would pin Prometheus there: across zones it needs a ZRS disk.
        telemetry=_telemetry(
            r,
            environment,
            delivery.alert_provider,
            zone_redundant=bool(aks and aks.availability_zones),
        ),
        delivery=delivery,
        services=services,
    )


def _delivery(r: Reader) -> DeliverySettings:
    provider = r.choice("alertProvider", ALERT_PROVIDERS)
    url = r.secret("alertWebhookUrl", check=v.https_url)
    if provider != "none" and url is None:
        r.problem("alertWebhookUrl", None, f"a secret webhook URL when alertProvider is {provider}")
    return DeliverySettings(
        flagger_replicas=r.integer("flaggerReplicas", minimum=1, maximum=3),
        alert_provider=provider,
        alert_channel=r.text("alertChannel", pattern=v.DNS_LABEL, allowed="a Slack channel name"),
        alert_webhook_url=url if provider != "none" else None,
    )


def _registry_pulls(r: Reader, registry: str | None, services: tuple[ServiceSettings, ...]) -> None:
    """An image on an Azure Container Registry pulls only from the one the cluster may read."""
    allowed = registry_login_server(registry) if registry else None
    for s in services:
        host = s.image.split("/", 1)[0]
        if host.endswith(".azurecr.io") and host != allowed:
            r.problems.append(
                f"{r.namespace}:services.{s.name}: image {s.image} is on {host}, which the cluster "
                "may not pull from; allowed: an image on containerRegistry's login server "
                f"({allowed or 'containerRegistry is not set'}), or a public registry"
            )


def release_defaults(r: Reader) -> ReleaseDefaults:
    """The stack's release pacing (canary* keys), for every service that does not set its own."""
    interval = r.check("canaryInterval", v.duration_between(10, 3600, "30s or 1m"))
    metric_interval = r.check(
        "canaryMetricInterval", v.duration_between(MIN_METRIC_WINDOW_SECONDS, 3600, "30s or 1m")
    )
    max_weight = r.integer("canaryMaxWeight", minimum=1, maximum=100)
    step_weight = r.integer("canaryStepWeight", minimum=1, maximum=100)
    if r.has_problem("canaryMaxWeight", "canaryStepWeight"):
        pass
    elif step_weight > max_weight:
        r.problem("canaryStepWeight", step_weight, f"1 to canaryMaxWeight ({max_weight})")
    elif max_weight % step_weight:
        # Flagger steps on while below maxWeight (scheduler.go:570-599): 20 up to 50 goes to 60.
        r.problem(
            "canaryStepWeight",
            step_weight,
            f"a divisor of canaryMaxWeight ({max_weight}); Flagger would go past it to "
            f"{min(100, -(-max_weight // step_weight) * step_weight)}%",
        )
    return ReleaseDefaults(
        interval_seconds=_seconds(r, "canaryInterval", interval),
        threshold=r.integer("canaryThreshold", minimum=1, maximum=100),
        metric_interval_seconds=_seconds(r, "canaryMetricInterval", metric_interval),
        progress_deadline_seconds=r.integer(
            "canaryProgressDeadlineSeconds", minimum=60, maximum=3600
        ),
        manual_promotion=r.flag("canaryManualPromotion"),
        step_weight=step_weight,
        max_weight=max_weight,
    )


def read_services(r: Reader) -> tuple[ServiceSettings, ...]:
    """The stack's services, checked exactly as `pulumi up` checks them (canaryctl plan uses it)."""
    return config_services.read_services(r, release_defaults(r))


def _seconds(r: Reader, key: str, value: str) -> int:
    return 0 if r.has_problem(key) else v.flagger_seconds(value)


def _mesh(r: Reader) -> MeshSettings:
    generations = r.integers("trustAnchorGenerations", minimum=1, maximum=1000)
    if not r.has_problem("trustAnchorGenerations") and not 1 <= len(set(generations)) <= 2:
        r.problem(
            "trustAnchorGenerations",
            list(generations),
            "one generation, or two different ones while rotating, e.g. [1] or [1, 2]",
        )
    signing = r.integer("issuerAnchorGeneration", minimum=1, maximum=1000)
    if not r.has_problem("trustAnchorGenerations", "issuerAnchorGeneration") and (
        signing not in generations
    ):
        r.problem(
            "issuerAnchorGeneration",
            signing,
            f"one of trustAnchorGenerations {list(generations)}: proxies must trust the anchor "
            "that signs their certificates",
        )
    return MeshSettings(
        linkerd_version=r.check("linkerdVersion", v.linkerd_version),
        gateway_api_version=r.check("gatewayApiVersion", v.gateway_api_version),
        high_availability=r.flag("meshHighAvailability"),
        trust_anchor_validity_days=r.integer("trustAnchorValidityDays", minimum=365, maximum=7300),
        trust_anchor_generations=tuple(sorted(set(generations))),
        issuer_anchor_generation=signing,
    )


def _alert_receiver(r: Reader, environment: str, flagger_provider: str) -> AlertReceiver:
    """Alertmanager's receiver: chosen explicitly in every stack, a real one in prod."""
    prod = environment == "prod"
    allowed = " | ".join(ALERT_RECEIVERS) + ("" if prod else ", or none to send alerts nowhere")
    kind = r.text("alertReceiver", allowed=allowed, empty_ok=True)
    if kind == "" and not r.has_problem("alertReceiver"):
        # Before alertReceiver existed, Alertmanager posted where Flagger does (docs/changelog.md).
        hint = (
            f" (alerts used to follow alertProvider {flagger_provider}: to keep them there, set "
            f"alertReceiver {flagger_provider} and alertReceiverSecret to alertWebhookUrl's URL)"
            if flagger_provider in ("slack", "msteams")
            else ""
        )
        must = "prod's alerts must reach a person" if prod else "it must be chosen explicitly"
        r.problem("alertReceiver", kind, f"{allowed}; {must}{hint}")
    elif kind == "none" and prod:
        r.problem(
            "alertReceiver",
            kind,
            f"{allowed} when environment is prod: its alerts must reach a person",
        )
    elif kind not in (*ALERT_RECEIVERS, "none", ""):
        r.problem("alertReceiver", kind, allowed)
    secret = r.secret("alertReceiverSecret", check=_receiver_secret_rule(kind))
    if kind in ALERT_RECEIVERS and secret is None:
        r.problem(
            "alertReceiverSecret",
            None,
            f"{_RECEIVER_SECRETS[kind]} when alertReceiver is {kind}, set with "
            "`pulumi config set --secret alertReceiverSecret <value>`",
        )
    if kind == "none" and secret is not None:
        r.warn("alertReceiverSecret", "is set, but alertReceiver is none: nothing reads it")
    switch = r.secret("deadMansSwitchUrl", check=v.https_url)
    if switch is None and prod:
        r.problem(
            "deadMansSwitchUrl",
            None,
            "a secret https URL when environment is prod: an outside service that pages when "
            "the heartbeat stops (`pulumi config set --secret deadMansSwitchUrl <url>`)",
        )
    runbook = r.check("runbookUrl", _runbook_url)
    if prod and not r.has_problem("runbookUrl") and not runbook.startswith(("https://", "http://")):
        r.warn(
            "runbookUrl",
            f"{runbook!r} is not an http(s) address: prod's alerts link {runbook}#<alert>, which "
            "nobody paged in Slack, Teams or PagerDuty can open. Set where people read the "
            "runbook, e.g. `pulumi config set runbookUrl "
            "https://github.com/<org>/<repo>/blob/main/docs/runbook.md`.",
        )
    return AlertReceiver(
        kind=kind or "none",
        secret=secret if kind in ALERT_RECEIVERS else None,
        dead_mans_switch_url=switch,
        runbook_url=runbook,
    )


# What alertReceiverSecret holds for each receiver (Alertmanager v0.34.0 reads it from a file:
# api_url_file, webhook_url_file, url_file, routing_key_file, api_key_file).
_RECEIVER_SECRETS = {
    "slack": "the Slack incoming-webhook URL (https)",
    "msteams": "the Teams Workflows webhook URL (https)",
    "webhook": "the webhook URL (https)",
    "pagerduty": "the PagerDuty Events API v2 integration (routing) key, 32 letters or digits",
    "opsgenie": "the Opsgenie API key (a GUID)",
}
_PAGERDUTY_KEY = re.compile(r"^[A-Za-z0-9]{32}$")


def _receiver_secret_rule(kind: str) -> Callable[[str], str | None]:
    if kind == "pagerduty":
        return lambda value: None if _PAGERDUTY_KEY.match(value) else _RECEIVER_SECRETS[kind]
    if kind == "opsgenie":
        return lambda value: None if v.GUID.match(value) else _RECEIVER_SECRETS[kind]
    return v.https_url


def _runbook_url(value: str) -> str | None:
    """A link people can open: a path in the repository, or an http(s) address; no #section."""
    if "#" in value or not value.strip():
        return "the runbook's address without a #section, e.g. docs/runbook.md"
    return None


def _telemetry(
    r: Reader, environment: str, flagger_provider: str, zone_redundant: bool
) -> TelemetrySettings:
    return TelemetrySettings(
        zone_redundant_storage=zone_redundant,
        prometheus_retention=r.text(
            "prometheusRetention",
            pattern=v.PROMETHEUS_DURATION,
            allowed="a whole number of hours, days, weeks or years, e.g. 24h or 15d",
        ),
        prometheus_persistence=r.flag("prometheusPersistence"),
        prometheus_storage_size=r.text(
            "prometheusStorageSize", pattern=v.QUANTITY, allowed="a size like 20Gi or 500Mi"
        ),
        meshed_pods=r.integer("meshedPods", minimum=1, maximum=5000),
        alerts=_alert_receiver(r, environment, flagger_provider),
    )
