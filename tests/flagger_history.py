"""Past releases as Prometheus retains them, for `canaryctl history`: Flagger's gauges run by run.

A small model of what Flagger v1.44.0 exports during a release (pkg/metrics/recorder.go, written by
pkg/controller/scheduler.go), scraped every 10 s into the fake Prometheus:
  - flagger_canary_status{name, namespace}: 0 while Progressing, 2 once Failed, 1 otherwise
    (SetStatus; WaitingPromotion, Promoting and Succeeded are all 1), set every run;
  - flagger_canary_weight{workload, namespace}: the route's weights, set every run from GetRoutes
    (scheduler.go:320) and when a step moves them (runCanary :611, promotion :525, rollback :970);
  - flagger_canary_metric_analysis{name, namespace, metric}: each check Flagger evaluated, in the
    Canary's order, stopping at the first failure (scheduler_metrics.go);
  - flagger_canary_successes_total / _failures_total: +1 when a release ends (:412, :991);
and what the platform adds: the canary pods' proxies (process_start_time_seconds with the pods'
app_kubernetes_io_version, from scale-up to scale-down) and canary_check_threshold (recording
rules, stacks/services/analysis.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tests.fake_prometheus import FakePrometheus

SCRAPE = 10.0
FLAGGER = {
    "job": "kubernetes-pods",
    "instance": "10.244.0.12:8080",
    "pod": "flagger-5c4f6d8b9-7hx2p",
}
THRESHOLDS = {
    ("request-volume", "min"): 65.0,
    ("success-rate", "min"): 99.0,
    ("latency", "max"): 500.0,
}
ORDER = ("request-volume", "success-rate", "latency")


@dataclass
class Flagger:
    """One Canary's gauges, scraped into `prometheus` every 10 s as time moves on."""

    prometheus: FakePrometheus
    namespace: str = "podinfo"
    target: str = "podinfo"
    now: float = 0.0
    gauges: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)
    pods: list[dict[str, str]] = field(default_factory=list)
    thresholds: dict[tuple[str, str], float] = field(default_factory=lambda: dict(THRESHOLDS))
    """The Canary's bounds, as the platform's recording rules hold them, and Flagger judges."""

    def set(self, series: str, value: float, /, **labels: str) -> None:
        full = {"__name__": series, **FLAGGER, "namespace": self.namespace, **labels}
        self.gauges[tuple(sorted(full.items()))] = value

    def add(self, series: str, /, **labels: str) -> None:
        full = {"__name__": series, **FLAGGER, "namespace": self.namespace, **labels}
        key = tuple(sorted(full.items()))
        self.gauges[key] = self.gauges.get(key, 0.0) + 1

    def until(self, at: float) -> None:
        """Scrapes every 10 s up to `at`."""
        while self.now + SCRAPE <= at:
            self.now += SCRAPE
            for key, value in self.gauges.items():
                self.prometheus.record(dict(key), self.now, value)
            for pod in self.pods:
                self.prometheus.record(pod, self.now, 1.7e9)
            for (metric, bound), value in self.thresholds.items():
                labels = {"namespace": self.namespace, "name": self.target}
                self.prometheus.record(
                    {
                        "__name__": "canary_check_threshold",
                        **labels,
                        "metric": metric,
                        "bound": bound,
                    },
                    self.now,
                    value,
                )

    def scale(self, version: str, replicas: int) -> None:
        """Canary pods appear (scale-up) or go (scale to zero: stale markers)."""
        if replicas == 0:
            for pod in self.pods:
                self.prometheus.stale(pod, self.now + 1)
            self.pods = []
            return
        self.pods = [
            {
                "__name__": "process_start_time_seconds",
                "job": "linkerd-proxy",
                "namespace": self.namespace,
                "deployment": self.target,
                "pod": f"{self.target}-{version.replace('.', '')}-{i}",
                "app_kubernetes_io_version": version,
            }
            for i in range(replicas)
        ]

    def weights(self, canary: int) -> None:
        self.set("flagger_canary_weight", canary, workload=self.target)
        self.set("flagger_canary_weight", 100 - canary, workload=f"{self.target}-primary")

    def analyse(self, values: Mapping[str, float]) -> bool:
        """One run's checks: each recorded in order until one fails (None: no value)."""
        for metric in ORDER:
            value = values.get(metric)
            if value is None:
                return False
            self.set("flagger_canary_metric_analysis", value, name=self.target, metric=metric)
            low = self.thresholds.get((metric, "min"))
            high = self.thresholds.get((metric, "max"))
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        return True


def release(
    flagger: Flagger,
    start: float,
    version: str,
    runs: Sequence[Mapping[str, float]],
    interval: float = 60.0,
    weights: Sequence[int] = (10, 20, 30, 40, 50),
    threshold: int = 5,
) -> float:
    """One canary release from `start`, each analysis run measuring runs[k]; returns its end.

    Run 1 scales the canary up (status 0); run 2 runs the pre-rollout hooks and routes the first
    weight; each later run analyses and advances, or counts a failed check; threshold failed
    checks roll it back at the next run; after the last step, promotion takes three runs
    (Promoting, Finalising with all traffic back, Succeeded with the canary at zero)."""
    t = start
    flagger.until(t)
    flagger.set("flagger_canary_status", 0, name=flagger.target)
    flagger.scale(version, 2)
    t += interval
    flagger.until(t)
    flagger.weights(weights[0])
    step, failed = 0, 0
    for values in runs:
        if failed >= threshold:
            break
        t += interval
        flagger.until(t)
        if not flagger.analyse(values):
            failed += 1
            continue
        if step + 1 < len(weights):
            step += 1
            flagger.weights(weights[step])
        else:
            step = len(weights)
            break
    if step == len(weights):
        flagger.set("flagger_canary_status", 1, name=flagger.target)  # Promoting
        t += interval
        flagger.until(t)
        flagger.weights(0)  # Finalising: all traffic to the primary
        t += interval
        flagger.until(t)
        flagger.scale(version, 0)
        flagger.add(
            "flagger_canary_successes_total",
            name=flagger.target,
            deployment_strategy="canary",
            analysis_status="completed",
        )
    else:
        # failedChecks >= threshold is checked at the start of the next run, which rolls back.
        t += interval
        flagger.until(t)
        flagger.weights(0)
        flagger.set("flagger_canary_status", 2, name=flagger.target)
        flagger.scale(version, 0)
        flagger.add(
            "flagger_canary_failures_total",
            name=flagger.target,
            deployment_strategy="canary",
            analysis_status="completed",
        )
    flagger.until(t + SCRAPE)
    return t


def healthy(run: int) -> dict[str, float]:
    return {"request-volume": 540.0 + run, "success-rate": 100.0, "latency": 10.0 + run}
