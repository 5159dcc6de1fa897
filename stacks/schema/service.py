"""Config schema, a service declaration: what one service is and how it is released.

A service is declared once in services/<name>.yaml; a stack runs it by naming it in its `services`
config with a version, and may override any field there (stacks/schema/services.py merges the two
and names where each problem was written). Release pacing a declaration leaves out comes from the
stack's canary* keys (the Release section), handed in through the validation context.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    SecretStr,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from stacks.schema.base import Section, refuse, setting
from stacks.schema.delivery import (
    DNS_LABEL,
    MIN_METRIC_WINDOW_SECONDS,
    duration_between,
    flagger_seconds,
)
from stacks.schema.problems import Rules, given

# Flagger names the Services <name>, <name>-primary and <name>-canary (DNS-1035, 63 at most).
NAME = re.compile(r"^[a-z]([-a-z0-9]{0,53}[a-z0-9])?$")
NAME_RULE = (
    "1-55 lower-case letters, digits and '-', starting with a letter (Flagger adds -primary and "
    "-canary)"
)
PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# An OCI tag; "latest" and friends are refused because a canary needs a new, fixed tag.
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
MOVING_TAGS = ("latest", "main", "master", "stable")
# Registry host (optional port), then path components as the OCI distribution spec names them.
IMAGE = re.compile(r"^[a-z0-9]+([.-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)+$")
# podinfo's own fault injection flags: only its image understands them.
PODINFO_IMAGE = "ghcr.io/stefanprodan/podinfo"
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
# Namespaces the platform itself owns; a service must live elsewhere.
RESERVED_NAMESPACES = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "linkerd",
        "linkerd-viz",
        "monitoring",
        "cert-manager",
        "flagger-system",
    }
)
CORES = "CPU as cores or millicores, like 250m or 1"
SIZE = "memory in bytes with a suffix, like 64Mi or 1Gi"


def cores(text: str) -> Decimal:
    return Decimal(text[:-1]) / 1000 if text.endswith("m") else Decimal(text)


def size_bytes(text: str) -> Decimal:
    match = MEMORY.match(text)
    return Decimal(match[1]) * _UNITS[match[3] or ""] if match else Decimal(0)


def _namespace(value: str) -> str | None:
    if DNS_LABEL.match(value) is None:
        return "a DNS label: lower-case letters, digits and '-', at most 63 characters"
    if value in RESERVED_NAMESPACES:
        return (
            "a namespace the platform does not already own "
            f"(not {', '.join(sorted(RESERVED_NAMESPACES))})"
        )
    return None


def _env_name(value: str) -> str | None:
    """The API server's rule for an env name: printable, no '='."""
    if not value or "=" in value or not value.isprintable() or not value.isascii():
        return "a name of printable ASCII characters other than '='"
    return None


class Replicas(Section):
    min: int = setting(2, "Fewest replicas (the HPA's minReplicas).", ge=1, le=50)
    max: int = setting(
        4,
        "Most replicas (the HPA's maxReplicas, CPU at 80 % of the request); default the larger "
        "of 4 and min.",
        ge=1,
        le=100,
    )

    @model_validator(mode="before")
    @classmethod
    def _max_follows_min(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("max") is None and isinstance(data.get("min"), int):
            return {**data, "max": max(4, data["min"])}
        return data

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Replicas:
        rules = Rules(info)
        if rules.valid("min", "max") and self.max < self.min:
            rules.refuse("max", self.max, f"at least replicas.min ({self.min})")
        rules.done(self)
        return self


class Probes(Section):
    readiness: str = setting(
        "/", "HTTP path of the readiness probe.", pattern=PATH, allowed="an HTTP path like /readyz"
    )
    liveness: str = setting(
        "",
        "HTTP path of the liveness probe; default the readiness path.",
        pattern=PATH,
        allowed="an HTTP path like /healthz",
    )

    @model_validator(mode="before")
    @classmethod
    def _liveness_follows_readiness(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("liveness"):
            return {**data, "liveness": data.get("readiness", "/")}
        return data


class Resources(Section):
    cpu: str = setting("100m", "CPU request.", pattern=CPU, allowed=CORES, unit="cores")
    memory: str = setting("64Mi", "Memory request.", pattern=MEMORY, allowed=SIZE, unit="bytes")
    cpu_limit: str = setting(
        "", "CPU limit; empty means none.", pattern=CPU, allowed=CORES, unit="cores"
    )
    memory_limit: str = setting(
        "128Mi",
        "Memory limit; a request above 128Mi raises the default to the request.",
        pattern=MEMORY,
        allowed=SIZE,
        unit="bytes",
    )

    @model_validator(mode="before")
    @classmethod
    def _limit_follows_request(cls, data: Any) -> Any:
        memory = data.get("memory") if isinstance(data, dict) else None
        bigger = isinstance(memory, str) and size_bytes(memory) > size_bytes("128Mi")
        if bigger and data.get("memoryLimit") is None:
            return {**data, "memoryLimit": memory}
        return data

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Resources:
        """A request above its limit is refused, as the API server would."""
        rules = Rules(info)
        limit = self.cpu_limit
        if rules.valid("cpu", "cpuLimit") and limit and cores(self.cpu) > cores(limit):
            rules.refuse("cpu", self.cpu, f"at most cpuLimit ({limit})")
        if rules.valid("memory", "memoryLimit") and (
            size_bytes(self.memory) > size_bytes(self.memory_limit)
        ):
            rules.refuse("memory", self.memory, f"at most memoryLimit ({self.memory_limit})")
        rules.done(self)
        return self


class Match(Section):
    """A/B testing: requests with this header (or cookie) value go to the new version. Flagger's
    Gateway API router matches headers exactly; a cookie is a regex on the Cookie header."""

    header: str = setting("", "Header name.", pattern=HEADER, allowed="a header name")
    cookie: str = setting("", "Cookie name.", pattern=COOKIE, allowed="a cookie name")
    value: str = setting(..., "The exact value that selects the new version.")

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Match:
        rules = Rules(info)
        if rules.valid("header", "cookie") and bool(self.header) == bool(self.cookie):
            rules.refuse(
                (),
                self.model_dump(exclude_defaults=True),
                "exactly one of {header: <name>, value: <exact>} or {cookie: <name>, value: "
                "<exact>}",
            )
        elif rules.valid("value"):
            pattern = HEADER_VALUE if self.header else COOKIE_VALUE
            if not pattern.match(self.value):
                rules.refuse(
                    "value",
                    self.value,
                    f"the exact {self.kind} value that selects the new version (printable ASCII"
                    + (")" if self.header else ", no space, quote, comma, semicolon or backslash)"),
                )
        rules.done(self)
        return self

    @property
    def kind(self) -> str:
        return "header" if self.header else "cookie"

    @property
    def name(self) -> str:
        return self.header or self.cookie


class SessionAffinity(Section):
    """Canary strategy: a user routed to the new version stays on it. Flagger v1.44.0's
    gatewayapi:v1beta1 router, the one Linkerd's routes work with, sets only this cookie
    (pkg/router/gateway_api_v1beta1.go getSessionAffinityRouteRules); primaryCookieName is read by
    the v1 and Istio routers alone, so it is not a field here."""

    cookie_name: str = setting(..., "Cookie that keeps a user on the new version.", pattern=COOKIE)
    # Flagger's default when maxAge is 0 (pkg/apis/flagger/v1beta1/canary.go GetMaxAge): a day.
    max_age: int = setting(86400, "How long the cookie lasts.", unit="seconds", ge=60, le=31536000)
    primary_cookie_name: str = setting(
        "",
        "Not supported here: Flagger's gatewayapi:v1beta1 router keeps only users of the new "
        "version on it, by cookieName.",
    )

    @field_validator("primary_cookie_name")
    @classmethod
    def _one_cookie(cls, value: str) -> str:
        if value:
            raise refuse(
                "no primaryCookieName: Flagger's gatewayapi:v1beta1 router (used with Linkerd) "
                "keeps only users of the new version on it, by cookieName"
            )
        return value


class PrimaryScalerReplicas(Section):
    """autoscalerRef.primaryScalerReplicas: the serving primary's own HPA bounds."""

    min: int | None = setting(None, "The primary's fewest replicas.", ge=1, le=50)
    max: int | None = setting(None, "The primary's most replicas.", ge=1, le=100)


STACK_DEFAULT = "default: the stack's {key}"


class Release(Section):
    """How Flagger releases the service: strategy, pacing, promotion."""

    strategy: Literal["canary", "abTesting", "blueGreen"] = setting("canary", "Release strategy.")
    interval: str = setting(
        "",
        "Time between analysis steps; " + STACK_DEFAULT.format(key="canaryInterval") + ".",
        check=duration_between(10, 3600),
        allowed="seconds or minutes, 10s to 60m",
    )
    metric_interval: str = setting(
        "",
        "Window of each analysis query; " + STACK_DEFAULT.format(key="canaryMetricInterval") + ".",
        check=duration_between(MIN_METRIC_WINDOW_SECONDS, 3600),
        allowed="seconds or minutes, 30s to 60m",
    )
    threshold: int = setting(0, "Failed checks that roll back.", ge=1, le=100)
    progress_deadline_seconds: int = setting(
        0, "How long pods may take to become ready.", unit="seconds", ge=60, le=3600
    )
    manual_promotion: StrictBool = setting(
        False,
        "Hold at the end until promoted; "
        + STACK_DEFAULT.format(key="canaryManualPromotion")
        + ".",
    )
    step_weight: int = setting(0, "canary: percent added per healthy step.", ge=1, le=100)
    max_weight: int = setting(0, "canary: largest share before promotion.", ge=1, le=100)
    iterations: int = setting(
        0, "abTesting and blueGreen: analysis runs before promotion.", ge=1, le=100
    )
    match: Match | None = setting(None, "abTesting: who gets the new version.")
    session_affinity: SessionAffinity | None = setting(
        None, "canary: keep a user on the new version once routed there."
    )
    step_weight_promotion: int = setting(
        0,
        "Percent moved back to the primary per run at promotion; 0 moves it at once.",
        ge=1,
        le=100,
    )
    primary_scaler_replicas: PrimaryScalerReplicas = setting(
        PrimaryScalerReplicas(), "The serving primary's own HPA bounds, if different."
    )

    @model_validator(mode="before")
    @classmethod
    def _stack_pacing(cls, data: Any, info: ValidationInfo) -> Any:
        """What the declaration leaves out comes from the stack's canary* keys. Zero (or empty)
        where a stack default is invalid: that problem is reported under the stack's key."""
        if not isinstance(data, dict):
            return data
        stack = (info.context or {}).get("release")
        defaults = {
            "interval": stack.canary_interval if stack else "",
            "metricInterval": stack.canary_metric_interval if stack else "",
            "threshold": stack.canary_threshold if stack else 0,
            "progressDeadlineSeconds": stack.canary_progress_deadline_seconds if stack else 0,
            "manualPromotion": stack.canary_manual_promotion if stack else False,
        }
        if data.get("strategy", "canary") == "canary":
            defaults["stepWeight"] = stack.canary_step_weight if stack else 0
            defaults["maxWeight"] = stack.canary_max_weight if stack else 0
        return {**{k: v for k, v in defaults.items() if data.get(k) is None}, **data}

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Release:
        rules = Rules(info)
        strategy = self.strategy
        by_iterations = strategy in ("abTesting", "blueGreen")
        given = self.model_fields_set
        if by_iterations and rules.valid("strategy"):
            for field, key in (
                ("step_weight", "stepWeight"),
                ("max_weight", "maxWeight"),
                ("session_affinity", "sessionAffinity"),
            ):
                if field in given:
                    value = getattr(self, field)
                    rules.refuse(key, value, f"no {key} with strategy {strategy} (canary only)")
            if "iterations" not in given:
                rules.refuse("iterations", None, "a whole number 1-100")
        elif "iterations" in given:
            rules.refuse(
                "iterations",
                self.iterations,
                "no iterations with strategy canary (abTesting, blueGreen)",
            )
        if strategy == "abTesting" and "match" not in given:
            rules.refuse(
                "match",
                None,
                "exactly one of {header: <name>, value: <exact>} or {cookie: <name>, value: "
                "<exact>}",
            )
        elif strategy != "abTesting" and "match" in given:
            rules.refuse("match", self.match, f"no match with strategy {strategy} (abTesting only)")
        step, top = self.step_weight, self.max_weight
        paced = strategy == "canary" and step and top and rules.valid("stepWeight", "maxWeight")
        if paced and (step > top or top % step):
            rules.refuse(
                "stepWeight",
                step,
                f"a divisor of maxWeight ({top}); Flagger steps on while below it",
            )
        rules.done(self)
        return self

    @property
    def interval_seconds(self) -> int:
        return flagger_seconds(self.interval) if self.interval else 0

    @property
    def metric_interval_seconds(self) -> int:
        return flagger_seconds(self.metric_interval) if self.metric_interval else 0


BUILT_IN_CHECKS = ("request-volume", "success-rate", "latency")
"""The checks every Canary runs first, in this order (stacks/services/analysis.py says why volume first)."""
CHECK_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
FLAGGER_OWN_CHECKS = {"request-success-rate": "success-rate", "request-duration": "latency"}
"""Metric names Flagger v1.44.0 judges itself, whatever the Canary's templateRef says
(pkg/controller/scheduler_metrics.go runBuiltinMetricChecks), with the platform's check that
does the same on Linkerd's metrics. With meshProvider gatewayapi:v1beta1 its observer is the
generic HTTP one (pkg/metrics/observers/factory.go, http.go), which queries
http_request_duration_seconds_*: no such series here, so every run would halt on "no values"."""
SLO_MOVED = (
    "checks (slo moved in this release, docs/changelog.md): slo.successRate is "
    "checks.success-rate.min, slo.latencyP99Ms is checks.latency.max, slo.minRequests is "
    "checks.request-volume.min"
)


class Check(Section):
    """One analysis check: a query Flagger runs at every step, and the range its value must stay
    in. The three built-in checks need no query. A custom one is PromQL with Flagger's template
    variables ({{ namespace }}, {{ target }}, {{ interval }}, ...) on the metrics the platform's
    Prometheus keeps: the Linkerd proxies' (requests and responses with their latency, Gateway
    API route metrics, TCP, policy denials, the proxy process), cAdvisor's container CPU, memory
    and network, Flagger's, cert-manager's and Prometheus's own (stacks/telemetry/metrics.py
    lists each with its labels). Service pods are not scraped for their own application
    metrics, so a custom check reads what a service's proxy records, not what its code exports.
    The query must return one series (an outermost sum, avg, max, ... without `by`,
    histogram_quantile over `by (le)`, or `... or on() vector(0)`): Flagger cannot decode a
    scalar, refuses a range vector and judges only the last of several series. It fails a check
    whose query returns nothing or NaN. A check may not be called request-success-rate or
    request-duration: Flagger judges those names itself on metrics this platform does not
    have."""

    query: str = setting(
        "",
        "PromQL, custom checks only; Flagger fills {{ namespace }}, {{ target }} (the canary "
        "Deployment), {{ interval }} (the window) and the others of its MetricTemplate model.",
    )
    min: int | float | None = setting(None, "Lowest passing value.")
    max: int | float | None = setting(None, "Highest passing value.")
    window: str = setting(
        "",
        "The query's {{ interval }}; default the release's metricInterval.",
        check=duration_between(MIN_METRIC_WINDOW_SECONDS, 3600),
        allowed="seconds or minutes, 30s to 60m",
    )
    unit: str = setting(
        "",
        "Unit of a custom check's value (e.g. %, ms, jobs), as canaryctl status, wait and history "
        "show it; the built-in checks have their own.",
    )


def _checks_with_defaults(value: Any) -> Any:
    """Built-in checks are always there; what a declaration says about one changes only that."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return value
    defaults: dict[str, dict[str, Any]] = {
        "request-volume": {"unit": "requests"},
        "success-rate": {"min": 99, "unit": "%"},
        "latency": {"max": 500, "unit": "ms"},
    }
    merged = {name: {**fields} for name, fields in defaults.items()}
    for name, fields in value.items():
        if name in merged and isinstance(fields, dict):
            merged[name].update(fields)
        else:
            merged[name] = fields
    return merged


class LoadTest(Section):
    path: str = setting(
        "/", "Path each generator requests.", pattern=PATH, allowed="an HTTP path like /"
    )
    rate: int = setting(
        10, "Requests per second of each generator.", unit="requests/s", ge=1, le=1000
    )
    concurrency: int | None = setting(
        None,
        "Workers of each generator; default enough to keep the rate at the latency check's "
        "maximum (a slow canary within its SLO must not look short of traffic).",
        ge=1,
        le=100,
    )


class AcceptanceTest(Section):
    """Before any traffic moves, the new version must answer 2xx here."""

    method: Literal["GET", "POST"] = setting("GET", "HTTP method.")
    path: str = setting(
        "", "HTTP path; empty means no acceptance test.", pattern=PATH, allowed="an HTTP path"
    )


class Alerts(Section):
    """Where a service's release events go: the platform's webhook, none, or its own."""

    target: Literal["platform", "none", "own"] = setting("platform", "platform, none or own.")
    provider: Literal["slack", "msteams"] = setting("slack", "own: slack or msteams.")
    channel: str = setting(
        "deployments", "own, slack: the channel.", pattern=DNS_LABEL, allowed="a Slack channel name"
    )
    webhook_url: SecretStr | None = setting(
        None,
        "own: the incoming-webhook URL, a secret of the stack (never in the file).",
        secret=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data in ("platform", "none"):
            return {"target": data}
        if isinstance(data, dict) and data and "target" not in data:
            return {"target": "own", **data}
        if not isinstance(data, dict):
            raise refuse("platform | none | {provider, channel, webhookUrl}")
        return data

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Alerts:
        rules = Rules(info)
        if self.target == "own" and rules.valid("webhookUrl") and self.webhook_url is None:
            rules.refuse("webhookUrl", None, "a secret of the stack (see docs/services.md)")
        rules.done(self)
        return self


class ServiceConfig(Section):
    """One service, as its declaration and its stack entry together describe it."""

    name: str = setting(
        ...,
        "The service's name: its file's and its stack entry's.",
        pattern=NAME,
        allowed=NAME_RULE,
        placeholder="placeholder",
    )
    namespace: str = setting(
        "",
        "Meshed namespace (created if absent; may be shared); default the name.",
        check=_namespace,
        allowed="a DNS label the platform does not own",
    )
    image: str = setting(
        ...,
        "Image repository without tag; the stack gives the version.",
        pattern=IMAGE,
        allowed="an image repository without tag, e.g. ghcr.io/org/app",
        placeholder="registry.invalid/placeholder",
    )
    version: str = setting(
        ...,
        "Tag (6.14.1) or digest (sha256:...) the stack runs; set in the stack's entry.",
        allowed="an image tag like 6.14.1 or a digest sha256:<64 hex>",
        placeholder="0.0.0",
    )
    port: int = setting(
        ..., "Container port, also the Service port.", ge=1, le=65535, placeholder=8080
    )
    command: tuple[str, ...] = setting((), "The container's command.")
    args: tuple[str, ...] = setting((), "The container's arguments.")
    env: dict[str, str] = setting(
        {}, "Environment variables.", allowed="a map of names to string values"
    )
    user: int = setting(10001, "User id the container runs as.", ge=1, le=2147483647)
    probes: Probes = setting(Probes(), "Health probes.")
    replicas: Replicas = setting(Replicas(), "HPA bounds.")
    resources: Resources = setting(Resources(), "Requests and limits.")
    release: Release = setting(..., "How it is released (pacing: the stack's canary* keys).")
    checks: dict[str, Check] = setting(
        {},
        "What counts as healthy: request-volume, success-rate and latency always, plus any "
        "custom check by name.",
        example={
            "denied-requests": {
                "query": (
                    "sum(increase(inbound_http_authz_deny_total{"
                    'namespace="{{ namespace }}", deployment="{{ target }}"}[{{ interval }}]))'
                    " or vector(0)"
                ),
                "max": 0,
            }
        },
    )
    load_test: LoadTest = setting(LoadTest(), "Load during analysis (Flagger's load tester).")
    acceptance_test: AcceptanceTest = setting(AcceptanceTest(), "Checked before traffic moves.")
    alerts: Alerts = setting(Alerts(), "Where its release events go: platform, none or own.")
    faults: Literal["none", "errors", "latency"] = setting(
        "none", "podinfo's own fault injection, to see a rollback."
    )
    retry: str = setting(
        "",
        "Change it to retry a failed release of the same version.",
        pattern=IMAGE_TAG,
        allowed="letters, digits, '.', '_', '-'",
    )

    @model_validator(mode="before")
    @classmethod
    def _namespace_follows_name(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # Release pacing comes from the stack even when the declaration has no release map.
        data = {"release": {}, **data}
        data["checks"] = _checks_with_defaults(data.get("checks"))
        if not data.get("namespace"):
            data["namespace"] = data.get("name", "")
        return data

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise refuse(f"text: quote it ('{value}'), YAML read it as a number")
        return value

    @field_validator("version")
    @classmethod
    def _fixed_version(cls, version: str, info: ValidationInfo) -> str:
        if not DIGEST.match(version) and (
            problem := _tag_problem(version, podinfo=given(info, "image") == PODINFO_IMAGE)
        ):
            raise refuse(problem)
        return version

    @field_validator("port")
    @classmethod
    def _http_port(cls, port: int) -> int:
        if port in LINKERD_PROXY_PORTS:
            raise refuse("a port Linkerd's proxy does not use (4140, 4143, 4190, 4191)")
        if port in LINKERD_OPAQUE_PORTS:
            raise refuse(
                "a port Linkerd treats as HTTP: its default opaque ports "
                f"({', '.join(map(str, sorted(LINKERD_OPAQUE_PORTS)))}) carry no HTTP routes or "
                "metrics, so no release could be analysed"
            )
        return port

    @field_validator("faults")
    @classmethod
    def _podinfo_faults(cls, faults: str, info: ValidationInfo) -> str:
        image = given(info, "image")
        if faults != "none" and image is not None and image != PODINFO_IMAGE:
            raise refuse(f"none: fault injection uses podinfo's own flags ({PODINFO_IMAGE})")
        return faults

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        found = [
            InitErrorDetails(type=refuse(problem), loc=(name,), input=name)
            for name in env
            if (problem := _env_name(name))
        ]
        if found:
            raise ValidationError.from_exception_data(cls.__name__, found)
        return env

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> ServiceConfig:
        rules = Rules(info)
        if rules.valid("release", "replicas"):
            self._primary_bounds(rules)
        if rules.valid("checks", "loadTest", "release"):
            self._load_rules(rules)
        if rules.valid("checks"):
            self._check_rules(rules)
        rules.done(self)
        return self

    def _check_rules(self, rules: Rules) -> None:
        """Each check must be one Flagger can judge: a range, and for a custom one a query that
        renders as Flagger renders it and reads only what the platform's Prometheus keeps."""
        for name, check in self.checks.items():
            where = ("checks", name)
            if name in FLAGGER_OWN_CHECKS:
                rules.refuse(where, name, _flagger_own_check(name))
                continue
            if name not in BUILT_IN_CHECKS and not CHECK_NAME.match(name):
                rules.refuse(
                    where,
                    name,
                    "a check name of 1-40 lower-case letters, digits and '-', starting with a "
                    "letter (it names the MetricTemplate and Flagger's metric label)",
                )
                continue
            if check.min is not None and check.max is not None and check.min > check.max:
                rules.refuse((*where, "min"), check.min, f"at most max ({check.max:g})")
            if name in BUILT_IN_CHECKS:
                self._built_in_rules(rules, name, check)
                continue
            if not check.query.strip():
                rules.refuse((*where, "query"), check.query, "a PromQL query (custom checks)")
            elif problem := self._query_problem(check):
                rules.refuse((*where, "query"), check.query, problem)
            if check.min is None and check.max is None:
                rules.refuse(where, check.model_dump(exclude_none=True), "a min, a max or both")

    def _load_rules(self, rules: Rules) -> None:
        """hey must stop well within a run, or the load tester skips the next run's load
        (stacks/services/analysis.py load_gap_problem)."""
        from stacks.services import analysis

        interval = self.release.interval_seconds
        if interval <= 0:
            return  # the stack's pacing is refused under its own key
        rate, workers, latency = self.load_test.rate, self.load_concurrency, self.latency_ms
        problem = analysis.load_gap_problem(rate, workers, latency, interval)
        if problem is not None:
            given = {
                "rate": rate,
                "concurrency": workers,
                "checks.latency.max": latency,
                "interval": f"{interval}s",
            }
            rules.refuse("loadTest", given, problem)

    def _built_in_rules(self, rules: Rules, name: str, check: Check) -> None:
        where = ("checks", name)
        if check.query:
            rules.refuse((*where, "query"), check.query, f"no query: {name} is a built-in check")
        bound, low, high = {
            "request-volume": ("min", 1, 1_000_000),
            "success-rate": ("min", 0.01, 100),
            "latency": ("max", 1, 60000),
        }[name]
        other = "max" if bound == "min" else "min"
        if getattr(check, other) is not None:
            rules.refuse(
                (*where, other), getattr(check, other), f"no {other}: {name} has a {bound}"
            )
        value = getattr(check, bound)
        if value is not None and not low <= value <= high:
            rules.refuse((*where, bound), value, f"{low}-{high} {check.unit}".strip())

    def _query_problem(self, check: Check) -> str | None:
        """What Flagger or Prometheus would refuse in a custom query, rendered with this
        service's values (stacks/services/analysis.py renders as Flagger v1.44.0 does)."""
        from stacks.services import analysis, query_shape
        from stacks.telemetry import promql

        model = {
            "name": self.name,
            "namespace": self.namespace,
            "target": self.name,
            "service": self.name,
            "ingress": self.name,
            "route": self.name,
            "interval": check.window or self.release.metric_interval or "1m",
            "variables": {"port": str(self.port)},
        }
        try:
            rendered = analysis.render_query(check.query, model)
        except analysis.RenderError as error:
            return f"a query Flagger can render: {error}"
        found = promql.problems(rendered)
        if found:
            return (
                "PromQL on metrics and labels the platform keeps (docs/services.md, checks): "
                + "; ".join(found)
            )
        shape = query_shape.problem(rendered)
        if shape:
            return f"{query_shape.RULE}; this query returns {shape}"
        return None

    @property
    def load_concurrency(self) -> int:
        """Workers of each load generator: as declared, or enough to keep the rate at the
        latency check's maximum (stacks/services/analysis.py default_concurrency)."""
        from stacks.services import analysis

        if self.load_test.concurrency is not None:
            return self.load_test.concurrency
        return analysis.default_concurrency(self.load_test.rate, self.latency_ms)

    @property
    def latency_ms(self) -> int:
        return max(1, int(self.checks["latency"].max or 500))

    @property
    def min_requests(self) -> int:
        """The request-volume check's minimum per window: as declared, or half of what the
        canary's own load generator guarantees (stacks/services/analysis.py default_min_requests)."""
        from stacks.services import analysis

        declared = self.checks["request-volume"].min
        if declared is not None:
            return int(declared)
        release = self.release
        if min(release.interval_seconds, release.metric_interval_seconds) <= 0:
            return 1  # pacing that is itself refused: reported under its own key
        return analysis.default_min_requests(
            self.load_test.rate,
            self.load_concurrency,
            self.latency_ms,
            release.interval_seconds,
            release.metric_interval_seconds,
        )

    def _primary_bounds(self, rules: Rules) -> None:
        # Flagger creates the primary's HPA with these bounds, the HPA's own where unset
        # (pkg/canary/hpa_reconciler.go:70-77); an HPA with min above max is refused.
        primary = self.release.primary_scaler_replicas
        low = primary.min or self.replicas.min
        high = primary.max or self.replicas.max
        if low > high:
            field = "min" if primary.min else "max"
            bound = f"max ({high})" if field == "min" else f"min ({low})"
            rules.refuse(
                ("release", "primaryScalerReplicas", field),
                primary.min if field == "min" else primary.max,
                f"{'at most' if field == 'min' else 'at least'} the primary's {bound}",
            )

    @property
    def image_ref(self) -> str:
        separator = "@" if self.version.startswith("sha256:") else ":"
        return f"{self.image}{separator}{self.version}"


def _flagger_own_check(name: str) -> str:
    ours = FLAGGER_OWN_CHECKS[name]
    bound = "min" if ours == "success-rate" else "max"
    return (
        f"another check name: Flagger runs its own built-in {name} for a metric of that name, "
        "even with this platform's template, and with the gatewayapi:v1beta1 provider it queries "
        "http_request_duration_seconds, which no pod here exports, so every analysis would halt "
        f"with \"no values found\"; the platform's {ours} check does this on Linkerd's metrics "
        f"(set checks.{ours}.{bound}), or give a custom query another name"
    )


def _tag_problem(value: str, podinfo: bool) -> str | None:
    """A fixed image tag; podinfo's tags have no leading v (6.14.1, not v6.14.1)."""
    if IMAGE_TAG.match(value) is None:
        return (
            "an image tag like 6.14.1 (letters, digits, '.', '_', '-') or a digest sha256:<64 hex>"
        )
    if value in MOVING_TAGS:
        return (
            "a fixed version tag like 6.14.1: a moving tag gives Flagger no new revision to analyse"
        )
    if podinfo and value.startswith("v") and value[1:2].isdigit():
        return "the tag without a leading v (podinfo tags look like 6.14.1)"
    return None
