"""Flagger's known stall and failure events, recognised by their exact text: what each means, what to do.

Each pattern is the format string Flagger v1.44.0 emits (fluxcd/flagger at tag v1.44.0, file and
line given), matched as a whole: %s is one word, %v and %w any text, %d a number, %.2f a decimal,
%q a quoted string. All are Kubernetes Events on the Canary (reason Synced), which is what
`wait` and `status` read (pkg/controller/events.go:32-48).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

_VERBS = {
    "%s": r"(\S+)",
    "%v": r"(.*)",
    "%w": r"(.*)",
    "%d": r"(-?\d+)",
    "%.2f": r"(-?[0-9.]+|NaN|[+-]Inf)",
    "%q": r'("(?:[^"\\]|\\.)*")',
    "%%": "%",
}
_VERB = re.compile(r"%%|%\.2f|%[svwdq]")


@dataclass(frozen=True)
class Known:
    """One kind of Flagger event, with where its text comes from."""

    key: str
    source: str
    """File and line at fluxcd/flagger v1.44.0."""
    format: str
    """Flagger's format string, verbatim."""
    meaning: str
    action: str
    final: bool = False
    """The release is over (rolled back) when this appears."""

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile(self.format)

    def advice(self, namespace: str, name: str) -> str:
        """One line: what it means and what to do, with the Canary's namespace and name filled in."""
        action = self.action.format(ns=namespace, name=name)
        return f"{self.meaning}; {action}"


KNOWN: tuple[Known, ...] = (
    Known(
        "route-not-ready",
        "pkg/router/gateway_api.go:280-283",
        "HTTPRoute %s.%s parent %s is not ready (status: %s, observed generation: %d, current generation: %d)",
        "the release cannot start: Flagger's gatewayapi:v1 router waits for an Accepted condition "
        "carrying the route's generation, which Linkerd's policy controller never writes "
        "(linkerd2#14964)",
        "run Flagger with meshProvider gatewayapi:v1beta1 (this platform's setting) and check "
        "`kubectl -n {ns} get httproute {name} -o yaml`",
    ),
    Known(
        "deadline",
        "pkg/canary/deployment_ready.go:64-66 with :93",
        "canary deployment %s.%s not ready: deployment %q exceeded its progress deadline",
        "the new pods did not become ready within progressDeadlineSeconds, which Flagger treats "
        "as final",
        "look at the pods (`kubectl -n {ns} get pods`, `kubectl -n {ns} describe deploy {name}`): "
        "image pull, crash loop or a failing readiness probe",
        final=True,
    ),
    Known(
        "canary-starting",
        "pkg/canary/deployment_ready.go:64-66 with :95-106",
        "canary deployment %s.%s not ready: waiting for rollout to finish: %v",
        "the new pods are not ready yet; Flagger waits (no failed check) until replicas have "
        "been unavailable for progressDeadlineSeconds, then rolls back (deployment_ready.go:82-86)",
        "if it lasts, look at the pods: `kubectl -n {ns} get pods`",
    ),
    Known(
        "primary-starting",
        "pkg/canary/deployment_ready.go:42 with :95-106",
        "%s.%s not ready: waiting for rollout to finish: %v",
        "the primary's rolling update (promotion) is under way; Flagger waits for it",
        "if it lasts, look at the primary's pods: `kubectl -n {ns} get pods`",
    ),
    Known(
        "no-values",
        "pkg/controller/scheduler_metrics.go:319",
        "Halt advancement no values found for custom metric: %s: %v",
        "the metric query returned nothing: no requests reached the canary in the query window "
        "(a failed check)",
        "check the load tester (`kubectl -n {ns} logs deploy/flagger-loadtester`) and that "
        "Prometheus scrapes the proxies (target linkerd-proxy)",
    ),
    Known(
        "no-values-query",
        "pkg/controller/scheduler_metrics.go:229",
        "Halt advancement no values found for metric: %s",
        "the metric query returned nothing: no requests reached the canary (a failed check)",
        "check the load tester (`kubectl -n {ns} logs deploy/flagger-loadtester`)",
    ),
    Known(
        "query-failed",
        "pkg/controller/scheduler_metrics.go:322",
        "Metric query failed for %s: %v",
        "Prometheus did not answer the metric query (a failed check)",
        "check the MetricTemplate's address and that Prometheus runs "
        "(`kubectl -n monitoring get pods`)",
    ),
    Known(
        "low-volume",
        "pkg/controller/scheduler_metrics.go:332, for the platform's request-volume check",
        "Halt %s.%s advancement request-volume %.2f < %v",
        "too few requests from meshed clients reached the canary's port in the query window (a "
        "failed check; Prometheus's scrapes and kubelet's probes do not count)",
        "check the load tester runs its load (`kubectl -n {ns} logs deploy/flagger-loadtester`); "
        "a canary that answers slowly also gets fewer requests from it",
    ),
    Known(
        "below-slo",
        "pkg/controller/scheduler_metrics.go:332",
        "Halt %s.%s advancement %s %.2f < %v",
        "the canary missed its SLO: the metric is below its minimum (a failed check)",
        "compare primary and canary on the Grafana dashboard 'Canary releases'",
    ),
    Known(
        "above-slo",
        "pkg/controller/scheduler_metrics.go:337",
        "Halt %s.%s advancement %s %.2f > %v",
        "the canary missed its SLO: the metric is above its maximum (a failed check)",
        "compare primary and canary on the Grafana dashboard 'Canary releases'",
    ),
    Known(
        "pre-rollout-failed",
        "pkg/controller/scheduler_hooks.go:100",
        "Halt %s.%s advancement pre-rollout check %s failed %v",
        "the acceptance test (pre-rollout webhook) failed, so no traffic moves; each retry is a "
        "failed check",
        "see what the test ran: `kubectl -n {ns} logs deploy/flagger-loadtester`",
    ),
    Known(
        "webhook-failed",
        "pkg/controller/scheduler.go:758",
        "Halt %s.%s advancement external check %s failed %v",
        "a rollout webhook (the load test) was refused or unreachable (a failed check)",
        "check the load tester runs and accepts namespace {ns}: "
        "`kubectl -n {ns} logs deploy/flagger-loadtester`",
    ),
    Known(
        "waiting-promotion",
        "pkg/controller/scheduler_hooks.go:76",
        "Halt %s.%s advancement waiting for promotion approval %s",
        "the release is healthy and waits at the promotion gate",
        "approve it: `canaryctl promote {name} -n {ns}`",
    ),
    Known(
        "waiting-rollout",
        "pkg/controller/scheduler_hooks.go:53",
        "Halt %s.%s advancement waiting for approval %s",
        "the release waits at a confirm-rollout gate before it starts",
        "open that gate on the load tester",
    ),
    Known(
        "threshold",
        "pkg/controller/scheduler.go:951",
        "Rolling back %s.%s failed checks threshold reached %v",
        "rolled back: the failed checks of this release reached the threshold",
        "fix the release, then change the version (or its retry value) and `pulumi up`",
        final=True,
    ),
    Known(
        "aborted",
        "pkg/controller/scheduler.go:373",
        "Rolling back %s.%s manual webhook invoked",
        "rolled back through the load tester's rollback gate (an abort)",
        "close the gate so the next release is not rolled back too: "
        "`canaryctl reset {name} -n {ns}`",
        final=True,
    ),
    Known(
        "promotion-failed",
        "pkg/controller/scheduler.go:1006",
        "Promotion of %s.%s failed, primary not ready: %v",
        "the primary did not become ready during promotion; Flagger 1.44 leaves all traffic on "
        "the canary and marks the release Failed",
        "look at the primary's pods (`kubectl -n {ns} get pods`), fix, and release again",
        final=True,
    ),
    Known(
        "providers",
        "pkg/controller/scheduler.go:208",
        "Error checking metric providers: %v",
        "Flagger cannot reach Prometheus",
        "check the MetricTemplates' address and `kubectl -n monitoring get pods`",
    ),
)


def diagnose(message: str) -> Known | None:
    """The known kind of this event message, or None."""
    text = " ".join(message.split())
    return next((k for k in KNOWN if k.pattern.fullmatch(text)), None)


@cache
def _compile(go_format: str) -> re.Pattern[str]:
    parts, last = [], 0
    for verb in _VERB.finditer(go_format):
        parts.append(re.escape(go_format[last : verb.start()]))
        parts.append(_VERBS[verb.group()])
        last = verb.end()
    parts.append(re.escape(go_format[last:]))
    return re.compile("".join(parts), re.DOTALL)
