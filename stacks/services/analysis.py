"""Canary analysis: the checks every Canary runs, the load that feeds them, and how Flagger reads them.

Pure functions (no Pulumi): the services layer, the rollout plan, canaryctl and the tests use them.
What they rest on, at the pinned versions:

- Flagger v1.44.0 runs a Canary's checks in the order the Canary lists them and ends the run at
  the first one that fails (pkg/controller/scheduler_metrics.go runMetricChecks). A check fails
  when its query returns nothing or NaN (pkg/metrics/providers/prometheus.go RunQuery,
  ErrNoValuesFound) or a value outside its thresholdRange; only a value it got is exported as
  flagger_canary_metric_analysis (recorder.go SetAnalysis). So the request-volume check comes
  first and answers 0, never nothing, for a window without requests: every run records it, and a
  window with too little traffic fails before a ratio of a handful of requests is judged.
- Flagger renders a MetricTemplate's query with Go's text/template, missingkey=error, and the
  functions of MetricTemplateModel (pkg/metrics/observers/render.go; pkg/apis/flagger/v1beta1/
  metric.go; the model from scheduler_metrics.go toMetricModel), then turns every run of
  whitespace into one space before sending it (prometheus.go trimQuery). render_query does the
  same for the templates' subset of the language.
- The load tester answers a task webhook with 202 and queues the command; a runner started every
  100 ms (cmd/loadtester/main.go:68) starts it unless a task with the same hash (canary +
  command) still runs, in which case it is skipped (pkg/loadtester/runner.go, task_shell.go
  Hash). Flagger calls rollout webhooks once per run, just before the metric queries of that
  run (scheduler.go runAnalysis), and pre-rollout webhooks in the run before the first analysis
  (scheduler.go:449-457, scheduler_hooks.go runPreRolloutHooks). So each load command runs a
  little less than one interval (load_seconds): it has ended when the next run calls it again,
  and starting it also as a pre-rollout task puts load into the first analysis window.
- hey, the load command (Alpine's hey package in the load tester image, Dockerfile.loadtester at
  v1.44.0; rakyll/hey v0.1.4), does not end at its -z: it then only asks its workers to stop,
  and each finishes its throttle wait and one request first (hey_stop_seconds). The gap before
  the next run covers that, so a slow or low-rate service needs a longer one (load_gap_seconds),
  and one whose gap would take more than half the interval is refused (load_gap_problem).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

REQUEST_VOLUME = "request-volume"
SUCCESS_RATE = "success-rate"
LATENCY = "latency"
CHECKS = (REQUEST_VOLUME, SUCCESS_RATE, LATENCY)
"""The checks of every Canary, in the order Flagger runs them: volume first (see above)."""
CHECK_UNITS = {REQUEST_VOLUME: "requests", SUCCESS_RATE: "%", LATENCY: "ms"}

SCRAPE_INTERVAL_SECONDS = 10
"""Prometheus's global scrape interval (manifests/telemetry/prometheus-values.yaml)."""
LOADTESTER_TICK_SECONDS = 0.1
"""The load tester's runner starts queued tasks every 100 ms (cmd/loadtester/main.go:68)."""
LOAD_GAP_MIN_SECONDS = 2
LOAD_GAP_MAX_SECONDS = 5
LOAD_GAP_SLACK_SECONDS = 1
"""What the gap keeps beyond hey's own stop: a run calling its webhooks later than the next one,
the runner's 100 ms tick, hey's process start."""

# The label every service pod carries with its version, so Prometheus's linkerd-proxy job (which
# copies pod labels) puts it on the proxy's series and `canaryctl history` can name releases.
VERSION_LABEL = "app.kubernetes.io/version"
VERSION_SERIES_LABEL = "app_kubernetes_io_version"
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def hey_stop_seconds(rate: int, concurrency: int, latency_ms: int) -> float:
    """How long hey may still run after its -z: one worker's throttle period plus one request.

    rakyll/hey v0.1.4 (what the load tester image installs): hey.go sleeps for -z, then Stop()
    puts one value per worker on a channel; requester.go runWorker checks that channel only at
    the top of its loop, then waits for its throttle tick (time.Tick every 1/q s, and -q is per
    worker: rate/concurrency here) and makes one request, waiting for the answer. A worker that
    checked just before the stop, after a fast request, waits up to concurrency/rate s for its
    next tick, then sends one more request, which may take the latency: their sum. (With every
    request equally slow it is the larger of the two; a canary's latencies vary.) `latency_ms` is
    the SLO's p99: a canary slower than that fails its latency check anyway.
    """
    return concurrency / rate + latency_ms / 1000


def _hey_gap_seconds(rate: int, concurrency: int, latency_ms: int) -> int:
    return math.ceil(hey_stop_seconds(rate, concurrency, latency_ms)) + LOAD_GAP_SLACK_SECONDS


def load_gap_seconds(interval_seconds: int, rate: int, concurrency: int, latency_ms: int) -> int:
    """How long before a run its load command ends: a tenth of the interval, 2-5 s, and at least
    hey's stop time plus a second.

    The next run calls the same command again and the load tester skips it while the previous
    one still runs (hey included), so the gap must absorb hey's stop (hey_stop_seconds) and the
    run-to-run variation of when Flagger calls the webhook (its Kubernetes API calls before it)
    and the runner's 100 ms tick. Longer gaps only lose load: every window ends with one.
    """
    usual = min(LOAD_GAP_MAX_SECONDS, max(LOAD_GAP_MIN_SECONDS, interval_seconds // 10))
    return max(usual, _hey_gap_seconds(rate, concurrency, latency_ms))


def load_seconds(interval_seconds: int, rate: int, concurrency: int, latency_ms: int) -> int:
    """`hey -z` of each load command: one interval less the gap."""
    return interval_seconds - load_gap_seconds(interval_seconds, rate, concurrency, latency_ms)


def load_gap_problem(
    rate: int, concurrency: int, latency_ms: int, interval_seconds: int
) -> str | None:
    """None when the load generator can stop within half the analysis interval; else what is
    allowed, for the config error.

    The gap hey needs (hey_stop_seconds plus a second) is taken from every run's load: past half
    the interval, most of each window goes without load, and a generator that takes longer to
    stop than the interval is skipped by the load tester at every other run.
    """
    gap = _hey_gap_seconds(rate, concurrency, latency_ms)
    if gap <= interval_seconds / 2:
        return None
    stop = hey_stop_seconds(rate, concurrency, latency_ms)
    most = interval_seconds // 2 - LOAD_GAP_SLACK_SECONDS
    return (
        f"loadTest.concurrency/loadTest.rate + checks.latency.max/1000 at most {most} s with a "
        f"{interval_seconds} s interval (here {concurrency}/{rate} + {latency_ms / 1000:g} = "
        f"{stop:g} s): hey runs up to that long past its -z (a throttle period and one more "
        "request, rakyll/hey requester.go runWorker), the load tester skips the next run's load "
        "while it runs, and the gap left for it, a second more, may take at most half the "
        "interval; raise loadTest.rate, lower loadTest.concurrency or checks.latency.max, or "
        "lengthen the interval"
    )


@dataclass(frozen=True)
class LoadCoverage:
    """Seconds of load in an analysis window, on Flagger's schedule with the load tester's rule."""

    first_seconds: float
    """In the window of the first analysis (the load started one run earlier, as pre-rollout)."""
    steady_seconds: float
    """In a window once the load has run longer than the window."""
    least_seconds: float
    """The fewest in any window."""
    window_seconds: int


def load_coverage(interval_seconds: int, window_seconds: int, load: int) -> LoadCoverage:
    """Load seconds per window, runs exactly one interval apart (tests/load_schedule.py simulates
    the jitter): the pre-rollout run starts the load at 0, each later run k at k*interval ends the
    window of its analysis and restarts the load, which runs `load` seconds (load_seconds)."""
    step = interval_seconds
    load = min(load, interval_seconds)
    covered = []
    runs = math.ceil(window_seconds / step) + 2
    for k in range(1, runs + 1):
        end, start = k * step, k * step - window_seconds
        seconds = sum(max(0, min(end, j * step + load) - max(start, j * step)) for j in range(0, k))
        covered.append(seconds)
    return LoadCoverage(covered[0], covered[-1], min(covered), window_seconds)


def sustained_rate(rate: int, concurrency: int, latency_p99_ms: int) -> float:
    """Requests/s the canary's load generator still sends when requests take the SLO's latency.

    hey's -q limits each worker, and a worker waits for its answer before the next request, so
    `concurrency` workers at `latency_p99_ms` send at most concurrency*1000/latency per second.
    """
    return min(float(rate), concurrency * 1000 / latency_p99_ms)


def default_concurrency(rate: int, latency_p99_ms: int) -> int:
    """Workers enough to keep `rate` even when each request takes the SLO's p99 latency: a canary
    that is slow but within its SLO must not look short of traffic."""
    return min(100, max(2, math.ceil(rate * latency_p99_ms / 1000)))


def default_min_requests(
    rate: int, concurrency: int, latency_p99_ms: int, interval_seconds: int, window_seconds: int
) -> int:
    """The request-volume check's default minimum per window: half of what the canary's own load
    generator alone guarantees in the leanest window.

    Guaranteed: sustained_rate over the leanest window's load seconds (load_coverage) less half a
    scrape interval, because Prometheus 3 extrapolates a series that starts inside the window by
    at most half the sample spacing (promql/functions.go extrapolatedRate, v3.14.0). The apex
    load generator and real users only add to it. Half of that leaves room for pods warming up and
    hey falling behind; a window with only admin and probe traffic counts 0 (the queries select
    the service's port and meshed clients), and fails.
    """
    load = load_seconds(interval_seconds, rate, concurrency, latency_p99_ms)
    coverage = load_coverage(interval_seconds, window_seconds, load)
    counted = min(coverage.first_seconds - SCRAPE_INTERVAL_SECONDS / 2, coverage.least_seconds)
    guaranteed = sustained_rate(rate, concurrency, latency_p99_ms) * max(0.0, counted)
    return max(1, math.floor(guaranteed / 2))


def version_label(version: str) -> str:
    """The version as a label value (63 characters of [-A-Za-z0-9_.], alphanumeric at both ends):
    a tag as it is when it fits, a digest as sha256-<hex> cut to 63."""
    text = version.replace(":", "-")
    if _LABEL_VALUE.match(text) and len(text) <= 63:
        return text
    text = re.sub(r"[^-A-Za-z0-9_.]", "-", text)[:63]
    return text.strip("-_.")


# ---- Flagger's query rendering ----

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)
_FIELD = re.compile(r"^([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?$")
MODEL_FUNCTIONS = ("name", "namespace", "target", "service", "ingress", "route", "interval")


class RenderError(ValueError):
    """What Flagger would report as "Metric template ... query render error" (a failed check)."""


def query_model(canary: dict[str, Any], metric: dict[str, Any]) -> dict[str, Any]:
    """Flagger's MetricTemplateModel for one metric of a Canary (scheduler_metrics.go toMetricModel)."""
    spec = canary["spec"]
    target = spec["targetRef"]["name"]
    return {
        "name": canary["metadata"]["name"],
        "namespace": canary["metadata"]["namespace"],
        "target": target,
        "service": spec.get("service", {}).get("name") or target,
        "ingress": (spec.get("ingressRef") or {}).get("name") or target,
        "route": (spec.get("routeRef") or {}).get("name") or target,
        "interval": metric.get("interval", ""),
        "variables": dict(metric.get("templateVariables") or {}),
    }


def render_query(template: str, model: dict[str, Any]) -> str:
    """The query Flagger sends for `template`: text/template with the model's functions, then
    whitespace runs as one space. Supports what the platform's templates use: `{{ fn }}` and
    `{{ variables.key }}`, with {{- -}} trimming; anything else is refused rather than guessed."""
    out: list[str] = []
    position, trim_next = 0, False
    for action in _ACTION.finditer(template):
        text = template[position : action.start()]
        out.append(_text(text, trim_next, bool(action.group(1))))
        out.append(_evaluate(action.group(2), model))
        position, trim_next = action.end(), bool(action.group(3))
    out.append(_text(template[position:], trim_next, False))
    return re.sub(r"\s+", " ", "".join(out))


def _text(text: str, trim_left: bool, trim_right: bool) -> str:
    if "{{" in text or "}}" in text:
        raise RenderError("template parsing failed: unbalanced {{ }}")
    text = text.lstrip(" \t\r\n") if trim_left else text
    return text.rstrip(" \t\r\n") if trim_right else text


def _evaluate(expression: str, model: dict[str, Any]) -> str:
    match = _FIELD.match(expression)
    if match is None:
        raise RenderError(f"unsupported template action {{{{ {expression} }}}}")
    function, key = match.groups()
    if function not in (*MODEL_FUNCTIONS, "variables"):
        raise RenderError(f'template parsing failed: function "{function}" not defined')
    if function == "variables":
        if key is None:
            raise RenderError("{{ variables }} renders a map, not a value")
        variables = model.get("variables") or {}
        if key not in variables:
            raise RenderError(f'template excution failed: map has no entry for key "{key}"')
        return str(variables[key])
    if key is not None:
        raise RenderError(f"{function} is a string: it has no field {key}")
    return str(model.get(function, ""))


# ---- thresholds as series, for the canary dashboard ----

THRESHOLD_SERIES = "canary_check_threshold"


@dataclass(frozen=True)
class CheckThreshold:
    """One check's bound on one Canary: Flagger's `name` label is the target's name."""

    namespace: str
    target: str
    metric: str
    bound: str
    """min or max (the Canary's thresholdRange)."""
    value: float


def thresholds(canary: dict[str, Any]) -> list[CheckThreshold]:
    """Every bound of a rendered Canary's checks."""
    spec = canary["spec"]
    found = []
    for metric in spec["analysis"].get("metrics", []):
        for bound, value in sorted((metric.get("thresholdRange") or {}).items()):
            found.append(
                CheckThreshold(
                    canary["metadata"]["namespace"],
                    spec["targetRef"]["name"],
                    metric["name"],
                    bound,
                    float(value),
                )
            )
    return found


def threshold_rules(bounds: list[CheckThreshold]) -> dict[str, Any]:
    """Prometheus recording rules holding each bound as a series (canary_check_threshold), so the
    dashboard can draw every check against its threshold; {} when there is none."""
    if not bounds:
        return {}
    return {
        "groups": [
            {
                "name": "canary-check-thresholds",
                "rules": [
                    {
                        "record": THRESHOLD_SERIES,
                        "expr": f"vector({b.value:g})",
                        "labels": {
                            "namespace": b.namespace,
                            "name": b.target,
                            "metric": b.metric,
                            "bound": b.bound,
                        },
                    }
                    for b in bounds
                ],
            }
        ]
    }
