"""Config, services section: each service's declaration merged with its stack entry, all validated.

A service is declared once in services/<name>.yaml (what it is: image, port, probes, release
strategy, SLOs, ...). A stack runs the services its `services` config names, each entry giving
the version and, optionally, any field of the declaration to override in that stack (e.g. prod's
replica range). Release pacing a declaration leaves out comes from the stack's canary* keys.
Every problem names where the value was written: `services/cart.yaml: release.iterations` or
`progressive-delivery:services.cart.version`.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pulumi
import yaml

from stacks import analysis
from stacks import validators as v
from stacks.config_reader import Reader, did_you_mean
from stacks.config_record import Record, as_text
from stacks.manifests import ROOT, YAML_LOADER
from stacks.service_manifests import LOADTESTER_APP, LOADTESTER_RELEASE, PLATFORM_ALERTS
from stacks.settings import (
    Match,
    ReleaseSettings,
    ServiceAlerts,
    ServiceSettings,
    SessionAffinity,
)

SERVICES_DIR_ENV = "PROGRESSIVE_DELIVERY_SERVICES_DIR"
STRATEGIES = ("canary", "abTesting", "blueGreen")
FAULTS = ("none", "errors", "latency")
ALERT_PROVIDERS = ("slack", "msteams")
# podinfo's own fault injection flags: only its image understands them.
PODINFO_IMAGE = "ghcr.io/stefanprodan/podinfo"
# Flagger names the Services <name>, <name>-primary and <name>-canary (DNS-1035, 63 at most).
NAME = re.compile(r"^[a-z]([-a-z0-9]{0,53}[a-z0-9])?$")
PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Registry host (optional port), then path components as the OCI distribution spec names them.
IMAGE = re.compile(r"^[a-z0-9]+([.-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)+$")
# The proxy's own ports and the default opaque ports (linkerd2 edge-26.8.3
# charts/linkerd-control-plane/values.yaml:167-173, :245).
LINKERD_PROXY_PORTS = frozenset({4140, 4143, 4190, 4191})
LINKERD_OPAQUE_PORTS = frozenset({25, 587, 3306, 4444, 5432, 6379, 9300, 11211})
CPU = re.compile(r"^[0-9]+(\.[0-9]+)?m?$")
MEMORY = re.compile(r"^([0-9]+(\.[0-9]+)?)(k|Ki|M|Mi|G|Gi|T|Ti)?$")
_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_UNITS |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
HEADER = re.compile(r"^[A-Za-z0-9-]+$")
COOKIE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# RFC 6265 cookie-octet; RFC 9110 field-value without leading or trailing space.
COOKIE_VALUE = re.compile(r"^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$")
HEADER_VALUE = re.compile(r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")


@dataclass(frozen=True)
class ReleaseDefaults:
    """The stack's pacing for every service that does not set its own (canary* keys)."""

    interval_seconds: int
    threshold: int
    metric_interval_seconds: int
    progress_deadline_seconds: int
    manual_promotion: bool
    step_weight: int
    max_weight: int


def services_dir() -> Path:
    return Path(os.environ.get(SERVICES_DIR_ENV) or ROOT / "services")


def read_services(r: Reader, defaults: ReleaseDefaults) -> tuple[ServiceSettings, ...]:
    """Every service the stack runs, validated alone and against each other."""
    entries = r.structured("services", dict) or {}
    available = sorted(p.stem for p in services_dir().glob("*.yaml"))
    found = []
    for name in sorted(entries):
        entry = entries[name]
        where = f"{r.namespace}:services.{name}"
        if NAME.match(name) is None:
            r.problems.append(
                f"{where}: got a service named {name!r}; allowed: 1-55 lower-case letters, "
                "digits and '-', starting with a letter (Flagger adds -primary and -canary)"
            )
            continue
        if not isinstance(entry, dict):
            r.problems.append(f"{where}: got {entry!r}; allowed: a map with at least a version")
            continue
        declaration = _declaration(r, name, available)
        if declaration is None:
            continue
        merged = _merge(declaration, {k: v for k, v in entry.items() if k != "version"})
        fields = Record(r, "", merged, locate=_locator(r.namespace, name, entry))
        found.append(_service(fields, name, entry.get("version"), where, defaults, r))
    _across(r, found)
    return tuple(found)


def _declaration(r: Reader, name: str, available: list[str]) -> dict[str, Any] | None:
    path = services_dir() / f"{name}.yaml"
    if not path.is_file():
        r.problems.append(
            f"{r.namespace}:services.{name}: no declaration services/{name}.yaml"
            f"{did_you_mean(name, available)} (declared: {', '.join(available) or 'none'})"
        )
        return None
    try:
        document = yaml.load(path.read_text(), Loader=YAML_LOADER)
    except yaml.YAMLError as error:
        r.problems.append(f"services/{name}.yaml: not valid YAML: {error}")
        return None
    if not isinstance(document, dict):
        r.problems.append(f"services/{name}.yaml: got {document!r}; allowed: a map of fields")
        return None
    return document


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`: maps merge field by field, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _locator(namespace: str, name: str, entry: dict[str, Any]) -> Callable[[str], str]:
    """A field's path -> the stack entry when the stack sets it, else the declaration file."""

    def locate(path: str) -> str:
        node: Any = entry
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return f"services/{name}.yaml: {path}"
            node = node[part]
        return f"{namespace}:services.{name}.{path}"

    return locate


def _service(
    f: Record,
    name: str,
    version: Any,
    where: str,
    defaults: ReleaseDefaults,
    r: Reader,
) -> ServiceSettings:
    image = f.text(
        "image", pattern=IMAGE, allowed="an image repository without tag, e.g. ghcr.io/org/app"
    )
    version = as_text(version)
    tag_problem = (
        v.image_tag(version, podinfo=image == PODINFO_IMAGE) if isinstance(version, str) else None
    )
    if not isinstance(version, str) or not (DIGEST.match(version) or tag_problem is None):
        detail = tag_problem
        if isinstance(version, float):
            detail = f"text: quote it ('{version}'), YAML read it as a number"
        r.problems.append(
            f"{where}.version: got {version!r}; allowed: "
            f"{detail or 'an image tag like 6.14.1 or a digest sha256:<64 hex>'}"
        )
    replicas = f.child("replicas")
    min_replicas = replicas.integer("min", minimum=1, maximum=50, default=2)
    max_replicas = replicas.integer("max", minimum=1, maximum=100, default=max(4, min_replicas))
    if max_replicas < min_replicas and not replicas.has_problem("min", "max"):
        replicas.problem("max", max_replicas, f"at least replicas.min ({min_replicas})")
    replicas.done()
    probes = f.child("probes")
    readiness = probes.text(
        "readiness", pattern=PATH, allowed="an HTTP path like /readyz", default="/"
    )
    liveness = probes.text(
        "liveness", pattern=PATH, allowed="an HTTP path like /healthz", default=readiness
    )
    probes.done()
    cpu_request, memory_request, cpu_limit, memory_limit = _resources(f.child("resources"))
    slo = f.child("slo")
    success_rate = slo.integer("successRate", minimum=1, maximum=100, default=99)
    latency = max(1, slo.integer("latencyP99Ms", minimum=1, maximum=60000, default=500))
    load = f.child("loadTest")
    load_path = load.text("path", pattern=PATH, allowed="an HTTP path like /", default="/")
    load_rate = max(1, load.integer("rate", minimum=1, maximum=1000, default=10))
    load_concurrency = max(
        1,
        load.integer(
            "concurrency",
            minimum=1,
            maximum=100,
            default=analysis.default_concurrency(load_rate, latency),
        ),
    )
    load.done()
    release = _release(
        f.child("release"), defaults, (min_replicas, max_replicas), success_rate, latency
    )
    # Sized from this service's load generator and windows (stacks/analysis.py explains how);
    # pacing that is itself refused (0) leaves it at 1 until it is fixed.
    paced = min(release.interval_seconds, release.metric_interval_seconds) > 0
    # hey must stop well within a run, or the load tester skips the next run's load.
    gap = analysis.load_gap_problem(load_rate, load_concurrency, latency, release.interval_seconds)
    valid = not (load.has_problem("rate", "concurrency") or slo.has_problem("latencyP99Ms"))
    if paced and valid and gap is not None:
        given = {
            "rate": load_rate,
            "concurrency": load_concurrency,
            "slo.latencyP99Ms": latency,
            "interval": f"{release.interval_seconds}s",
        }
        f.problem("loadTest", given, gap)
    min_requests = slo.integer(
        "minRequests",
        minimum=1,
        maximum=1_000_000,
        default=analysis.default_min_requests(
            load_rate,
            load_concurrency,
            latency,
            release.interval_seconds,
            release.metric_interval_seconds,
        )
        if paced
        else 1,
    )
    slo.done()
    acceptance = f.child("acceptanceTest")
    acceptance_method = acceptance.choice("method", ("GET", "POST"), default="GET")
    acceptance_path = (
        acceptance.text("path", pattern=PATH, allowed="an HTTP path", default="") or None
    )
    acceptance.done()
    faults = f.choice("faults", FAULTS, default="none")
    if faults != "none" and image != PODINFO_IMAGE:
        f.problem(
            "faults", faults, f"none: fault injection uses podinfo's own flags ({PODINFO_IMAGE})"
        )
    service = ServiceSettings(
        name=name,
        namespace=f.text(
            "namespace", check=v.workload_namespace, allowed="a DNS label", default=name
        ),
        image=image,
        version=version if isinstance(version, str) else "",
        port=_port(f),
        command=f.strings("command", allowed="a list of strings"),
        args=f.strings("args", allowed="a list of strings"),
        env=_env(f),
        readiness_path=readiness,
        liveness_path=liveness,
        user=f.integer("user", minimum=1, maximum=2147483647, default=10001),
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cpu_request=cpu_request,
        memory_request=memory_request,
        cpu_limit=cpu_limit,
        memory_limit=memory_limit,
        release=dataclasses.replace(release, min_requests=min_requests),
        load_path=load_path,
        load_rate=load_rate,
        load_concurrency=load_concurrency,
        acceptance_method=acceptance_method if acceptance_path else None,
        acceptance_path=acceptance_path,
        alerts=_alerts(f, where, r),
        faults=faults,
        retry=f.text(
            "retry", pattern=v.IMAGE_TAG, allowed="letters, digits, '.', '_', '-'", default=""
        ),
    )
    f.done()
    return service


def _env(f: Record) -> tuple[tuple[str, str], ...]:
    """Names without '=' (the API server's rule)."""
    env = f.string_map("env", allowed="a map of names to string values")
    for name, _ in env:
        if not name or "=" in name or not name.isprintable() or not name.isascii():
            f.problem(f"env.{name}", name, "a name of printable ASCII characters other than '='")
    return env


def _port(f: Record) -> int:
    port = f.integer("port", minimum=1, maximum=65535)
    if port in LINKERD_PROXY_PORTS:
        f.problem("port", port, "a port Linkerd's proxy does not use (4140, 4143, 4190, 4191)")
    elif port in LINKERD_OPAQUE_PORTS:
        f.problem(
            "port",
            port,
            "a port Linkerd treats as HTTP: its default opaque ports "
            f"({', '.join(map(str, sorted(LINKERD_OPAQUE_PORTS)))}) carry no HTTP routes or "
            "metrics, so no release could be analysed",
        )
    return port


def _resources(f: Record) -> tuple[str, str, str | None, str]:
    """Requests and limits; a request above its limit is refused, as the API server would."""
    cores = "CPU as cores or millicores, like 250m or 1"
    size = "memory in bytes with a suffix, like 64Mi or 1Gi"
    cpu = f.text("cpu", pattern=CPU, allowed=cores, default="100m")
    memory = f.text("memory", pattern=MEMORY, allowed=size, default="64Mi")
    cpu_limit = f.text("cpuLimit", pattern=CPU, allowed=cores, default="") or None
    # The limit follows a larger request unless one is given.
    bigger = memory if f.value.get("memory") and _bytes(memory) > _bytes("128Mi") else "128Mi"
    memory_limit = f.text("memoryLimit", pattern=MEMORY, allowed=size, default=bigger)
    if not f.has_problem("cpu", "cpuLimit") and cpu_limit and _cores(cpu) > _cores(cpu_limit):
        f.problem("cpu", cpu, f"at most cpuLimit ({cpu_limit})")
    if not f.has_problem("memory", "memoryLimit") and _bytes(memory) > _bytes(memory_limit):
        f.problem("memory", memory, f"at most memoryLimit ({memory_limit})")
    f.done()
    return cpu, memory, cpu_limit, memory_limit


def _cores(text: str) -> Decimal:
    return Decimal(text[:-1]) / 1000 if text.endswith("m") else Decimal(text)


def _bytes(text: str) -> Decimal:
    match = MEMORY.match(text)
    if match is None:
        return Decimal(0)
    return Decimal(match[1]) * _UNITS[match[3] or ""]


def _release(
    f: Record,
    d: ReleaseDefaults,
    replicas: tuple[int, int],
    success_rate: int,
    latency_p99_ms: int,
) -> ReleaseSettings:
    strategy = f.choice("strategy", STRATEGIES, default="canary")
    interval = _duration(f, "interval", 10, 3600, d.interval_seconds)
    metric_interval = _duration(f, "metricInterval", 30, 3600, d.metric_interval_seconds)
    step_weight = max_weight = iterations = 0
    match = affinity = None
    by_iterations = strategy in ("abTesting", "blueGreen")
    for field in ("stepWeight", "maxWeight", "sessionAffinity"):
        if by_iterations and f.present(field):
            f.problem(field, f.value[field], f"no {field} with strategy {strategy} (canary only)")
    if by_iterations:
        iterations = f.integer("iterations", minimum=1, maximum=100)
    elif f.present("iterations"):
        f.problem(
            "iterations",
            f.value["iterations"],
            "no iterations with strategy canary (abTesting, blueGreen)",
        )
    if strategy == "canary":
        max_weight = f.integer("maxWeight", minimum=1, maximum=100, default=d.max_weight)
        step_weight = f.integer("stepWeight", minimum=1, maximum=100, default=d.step_weight)
        # 0: the stack's own canary* default is invalid, and reported under its key.
        valid = step_weight and max_weight and not f.has_problem("maxWeight", "stepWeight")
        if valid and (step_weight > max_weight or max_weight % step_weight):
            f.problem(
                "stepWeight",
                step_weight,
                f"a divisor of maxWeight ({max_weight}); Flagger steps on while below it",
            )
        if f.present("sessionAffinity"):
            affinity = _affinity(f.child("sessionAffinity"))
    if strategy == "abTesting":
        match = _match(f.child("match"))
    elif f.present("match"):
        f.problem("match", f.value["match"], f"no match with strategy {strategy} (abTesting only)")
    promotion = f.child("primaryScalerReplicas")
    primary_min = (
        promotion.integer("min", minimum=1, maximum=50) if promotion.present("min") else None
    )
    primary_max = (
        promotion.integer("max", minimum=1, maximum=100) if promotion.present("max") else None
    )
    # Flagger creates the primary's HPA with these bounds, the HPA's own where unset
    # (pkg/canary/hpa_reconciler.go:70-77); an HPA with min above max is refused.
    low, high = primary_min or replicas[0], primary_max or replicas[1]
    if low > high and not promotion.has_problem("min", "max"):
        field = "min" if primary_min else "max"
        bound = f"max ({high})" if field == "min" else f"min ({low})"
        promotion.problem(
            field,
            primary_min if field == "min" else primary_max,
            f"{'at most' if field == 'min' else 'at least'} the primary's {bound}",
        )
    promotion.done()
    settings = ReleaseSettings(
        strategy=strategy,
        interval_seconds=interval,
        threshold=f.integer("threshold", minimum=1, maximum=100, default=d.threshold),
        metric_interval_seconds=metric_interval,
        progress_deadline_seconds=f.integer(
            "progressDeadlineSeconds", minimum=60, maximum=3600, default=d.progress_deadline_seconds
        ),
        manual_promotion=f.flag("manualPromotion", default=d.manual_promotion),
        step_weight=step_weight,
        max_weight=max_weight,
        iterations=iterations,
        match=match,
        session_affinity=affinity,
        step_weight_promotion=f.integer("stepWeightPromotion", minimum=1, maximum=100)
        if f.present("stepWeightPromotion")
        else 0,
        primary_min_replicas=primary_min,
        primary_max_replicas=primary_max,
        success_rate=success_rate,
        latency_p99_ms=latency_p99_ms,
        min_requests=1,  # set by _service once the load generator is known
    )
    f.done(known=("iterations", "match", "sessionAffinity", "stepWeight", "maxWeight"))
    return settings


def _duration(f: Record, name: str, low: int, high: int, default: int) -> int:
    if not f.present(name):
        return default
    text = f.text(name, check=v.duration_between(low, high, "30s or 1m"), allowed="a duration")
    return default if f.has_problem(name) else v.flagger_seconds(text)


def _match(f: Record) -> Match | None:
    """A/B: one header or one cookie with an exact value (Flagger's Gateway API router supports
    exact and regex header matches only; a cookie is a regex on the Cookie header)."""
    kinds = [k for k in ("header", "cookie") if f.present(k)]
    if len(kinds) != 1:
        f.reader.problems.append(
            f"{f.locate(f.path or 'match')}: got {f.value!r}; allowed: exactly one of "
            "{header: <name>, value: <exact>} or {cookie: <name>, value: <exact>}"
        )
        f.done(known=("header", "cookie", "value"))
        return None
    kind = kinds[0]
    name = f.text(kind, pattern=HEADER if kind == "header" else COOKIE, allowed=f"a {kind} name")
    value = f.text(
        "value",
        pattern=HEADER_VALUE if kind == "header" else COOKIE_VALUE,
        allowed=f"the exact {kind} value that selects the new version (printable ASCII"
        + (")" if kind == "header" else ", no space, quote, comma, semicolon or backslash)"),
    )
    f.done(known=("header", "cookie"))
    return Match(kind, name, value)


def _affinity(f: Record) -> SessionAffinity:
    """The cookie that keeps a user on the new version once routed there. Flagger v1.44.0's
    gatewayapi:v1beta1 router, the one Linkerd's routes work with, sets only that cookie
    (pkg/router/gateway_api_v1beta1.go getSessionAffinityRouteRules); primaryCookieName is read
    by the v1 and Istio routers alone (gateway_api.go, istio.go), so it is refused here."""
    cookie = f.text("cookieName", pattern=COOKIE, allowed="a cookie name")
    # Flagger's default when maxAge is 0 (pkg/apis/flagger/v1beta1/canary.go GetMaxAge): a day.
    max_age = f.integer("maxAge", minimum=60, maximum=31536000, default=86400)
    if f.present("primaryCookieName"):
        f.problem(
            "primaryCookieName",
            f.value["primaryCookieName"],
            "no primaryCookieName: Flagger's gatewayapi:v1beta1 router (used with Linkerd) keeps "
            "only users of the new version on it, by cookieName",
        )
    f.done(known=("primaryCookieName",))
    return SessionAffinity(cookie, max_age)


def _alerts(f: Record, where: str, r: Reader) -> ServiceAlerts:
    """platform, none, or the service's own {provider, channel, webhookUrl}; the URL is a secret
    of the stack (never in a declaration file) and is never echoed in an error."""
    value = f.raw("alerts") or "platform"
    if value in ("platform", "none"):
        return ServiceAlerts(str(value))
    if not isinstance(value, dict):
        f.problem("alerts", value, "platform | none | {provider, channel, webhookUrl}")
        return ServiceAlerts("none")
    own = Record(r, "alerts", value, locate=f.locate)
    provider = own.choice("provider", ALERT_PROVIDERS)
    channel = own.text(
        "channel", pattern=v.DNS_LABEL, allowed="a Slack channel name", default="deployments"
    )
    url = own.raw("webhookUrl")
    own.done()
    name = where.rsplit(".", 1)[-1]
    command = (
        f"`pulumi config set --secret --path services.{name}.alerts.webhookUrl <url>` "
        f"(Pulumi.<stack>.yaml then holds it encrypted)"
    )
    if url is None:
        r.problems.append(
            f"{where}.alerts.webhookUrl: got None; allowed: a secret set with {command}"
        )
        return ServiceAlerts("none")
    if not f.locate("alerts.webhookUrl").startswith(f"{r.namespace}:"):
        r.problems.append(
            f"services/{name}.yaml: alerts.webhookUrl: got a URL in a committed file (not shown); "
            f"allowed: none there, the stack's secret set with {command}"
        )
        return ServiceAlerts("none")
    if not isinstance(url, str) or v.https_url(url):
        r.problems.append(
            f"{where}.alerts.webhookUrl: got a value that is not valid (not shown); "
            "allowed: an https:// webhook URL"
        )
        return ServiceAlerts("none")
    if not _encrypted(r.namespace, [name, "alerts", "webhookUrl"]):
        r.problems.append(
            f"{where}.alerts.webhookUrl: got a plain-text value (not shown); allowed: a secret, "
            f"set with {command}"
        )
    return ServiceAlerts("own", provider, channel, pulumi.Output.secret(url))


def stack_file() -> Path:
    """The stack's own file, Pulumi.<stack>.yaml, next to Pulumi.yaml."""
    return ROOT / f"Pulumi.{pulumi.get_stack()}.yaml"


def _encrypted(namespace: str, path: list[str]) -> bool:
    """Whether the value at services.<path> is a secret. The engine marks the whole `services`
    key secret once any value inside is (sdk/go/common/resource/config/object.go:51-65), so
    where the stack file holds the value, its own `secure:` is what counts."""
    try:
        document = yaml.load(stack_file().read_text(), Loader=YAML_LOADER) or {}
    except (OSError, yaml.YAMLError):
        document = {}
    node: Any = (document.get("config") or {}).get(f"{namespace}:services")
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return pulumi.runtime.is_config_secret(f"{namespace}:services")
        node = node[part]
    return isinstance(node, dict) and set(node) == {"secure"}


def _across(r: Reader, services: list[ServiceSettings]) -> None:
    """What no single declaration can check: names Flagger and the platform create per namespace."""
    owners: dict[tuple[str, str], str] = {}
    for service in services:
        for generated in (service.name, f"{service.name}-primary", f"{service.name}-canary"):
            key = (service.namespace, generated)
            other = owners.get(key)
            if other is not None and other != service.name:
                r.problems.append(
                    f"{r.namespace}:services.{service.name}: its Service {generated} in namespace "
                    f"{service.namespace} is also {other}'s; allowed: names whose Services "
                    "(<name>, <name>-primary, <name>-canary) differ within a namespace"
                )
            owners[key] = service.name
        if service.alerts.target == "own" and f"{service.name}-alerts" == PLATFORM_ALERTS:
            r.problems.append(
                f"{r.namespace}:services.{service.name}: its own AlertProvider would be "
                f"{PLATFORM_ALERTS}, the platform's in namespace {service.namespace}; allowed: "
                "another name, or alerts: platform"
            )
        r.problems.extend(_platform_collisions(r.namespace, service))


def _platform_collisions(namespace: str, service: ServiceSettings) -> list[str]:
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
                f"namespace has; allowed: another name"
            )
    for selected in (service.name, f"{service.name}-primary"):
        if selected == LOADTESTER_APP:
            found.append(
                f"{where}: its pods would carry app={selected}, the label the load tester's "
                f"Deployment and Service select in namespace {service.namespace}, so each would "
                "route to the other's pods; allowed: another name"
            )
    return found
