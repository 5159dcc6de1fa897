"""A model of the two schedules that decide whether an analysis window holds load.

Flagger v1.44.0 (fluxcd/flagger, tag v1.44.0):
  - one ticker per Canary, `analysis.interval` apart (pkg/controller/scheduler.go:116,
    job.go Start); a run spends some time on Kubernetes API calls before it calls webhooks, and
    that time varies from run to run (the model's jitter);
  - run 1 notices the revision and scales the canary up; run 2 calls the pre-rollout webhooks in
    the order listed and moves no traffic yet (scheduler.go:449-457); every later run calls the
    rollout webhooks, then runs the metric queries (runAnalysis, scheduler.go:752-776).
The load tester (pkg/loadtester, cmd/loadtester/main.go):
  - a task webhook is queued and answered 202 (server.go HandleNewTask); the runner looks at the
    queue every 100 ms (main.go:68) and starts each task in a goroutine unless a task with the
    same hash (canary + command, task_shell.go Hash) is still running, in which case it is
    skipped ("command skipped ... is already running", runner.go runAll).
hey (rakyll/hey v0.1.4, the load tester image's Alpine package; Hey below):
  - hey.go: with -z D, a goroutine sleeps D, then Stop() puts one value per worker on stopCh;
  - requester/requester.go runWorker: each of the -c workers has its own time.Tick(1/q) (-q is
    per worker), and loops: return if stopCh holds a value; else wait for a tick (one that fired
    since the last read waits in the channel, later ones are dropped) and make one request,
    waiting for its answer. So hey exits up to a throttle period and one request after D.

Everything here is the model; tests/test_load_schedule.py runs it for the platform's settings and
for the previous ones, and feeds its requests to Prometheus's own engine (promtool).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

TICK = 0.1
"""The load tester's runner period (cmd/loadtester/main.go:68)."""
SPAWN = 0.005
"""From the runner's tick to hey's first request: a goroutine and a process start."""


@dataclass(frozen=True)
class Run:
    """One Flagger run: when it calls its webhooks and (analysis runs) queries the metrics."""

    index: int
    kind: str
    """detect, pre-rollout or analysis."""
    hooks_at: float
    query_at: float | None


@dataclass(frozen=True)
class Schedule:
    interval: float
    window: float
    load_seconds: float
    """hey -z."""
    prerollout_load: bool = True
    """The load commands are also pre-rollout webhooks (this platform); False: rollout only."""
    hook_offset: float = 0.2
    """Seconds from a run's tick to its webhook calls, before jitter."""
    jitter: Callable[[int], float] = lambda _: 0.0
    """Extra seconds before the webhook calls of run k (API latency)."""
    tick_phase: float = 0.05
    """Where in its 100 ms period the load tester's runner ticks."""
    finish_seconds: float = 0.05
    """hey waiting for its requests in flight after -z (their latency); unused with `hey`."""
    analysis_runs: int = 12
    hey: Hey | None = None
    """hey's workers simulated request by request: when it exits, and each request's answer."""


@dataclass(frozen=True)
class Hey:
    """hey -z D -q rate/concurrency -c concurrency, worker by worker as runWorker runs them."""

    rate: float
    concurrency: int
    latency: Callable[[int, float], float] = lambda _w, _t: 0.01
    """Seconds a request takes, by worker and when it is sent (seconds after hey starts)."""
    tick_offset: float = 0.0
    """Each worker's ticker starts this long after hey (its goroutine's start)."""

    @property
    def period(self) -> float:
        """Each worker's throttle period: time.Tick(1e6/q microseconds), q = rate/concurrency."""
        return self.concurrency / self.rate

    def run(self, duration: float) -> tuple[list[float], float]:
        """When each request is answered and when hey exits, in seconds after it starts."""
        answered: list[float] = []
        exits = 0.0
        for worker in range(self.concurrency):
            check, last_read = 0.0, 0.0
            while check < duration:  # Stop() has put the worker's value on stopCh at `duration`
                ticks = math.floor((check - self.tick_offset) / self.period)
                latest = self.tick_offset + ticks * self.period
                # A tick that fired since the last read waits in the channel; else the next one.
                waiting = ticks >= 1 and latest > last_read
                sent = check if waiting else self.tick_offset + (max(ticks, 0) + 1) * self.period
                last_read = sent
                check = sent + self.latency(worker, sent)
                answered.append(check)
            exits = max(exits, check)
        return sorted(answered), exits


@dataclass(frozen=True)
class Started:
    """One start of a load command by the load tester."""

    begin: float
    exit: float
    """When the load tester sees it end (and would start the same command again)."""
    answered: tuple[float, ...] = ()
    """When each of its requests was answered (with a Hey model only)."""


def flagger_runs(s: Schedule) -> list[Run]:
    runs = [Run(0, "detect", s.hook_offset + s.jitter(0), None)]
    runs.append(Run(1, "pre-rollout", s.interval + s.hook_offset + s.jitter(1), None))
    for k in range(2, s.analysis_runs + 2):
        hooks = k * s.interval + s.hook_offset + s.jitter(k)
        # The queries follow the rollout webhooks, which the load tester answers at once.
        runs.append(Run(k, "analysis", hooks, hooks + 0.01))
    return runs


def starts(s: Schedule, runs: Sequence[Run]) -> list[Started]:
    """Each start of one load command: each call queued, started at the runner's next tick
    unless the previous start of the same command still runs."""
    calls = [
        r.hooks_at
        for r in runs
        if r.kind == "analysis" or (r.kind == "pre-rollout" and s.prerollout_load)
    ]
    found: list[Started] = []
    busy_until = -math.inf
    for called in calls:
        start = _next_tick(called, s.tick_phase)
        if start < busy_until:
            continue  # runner.go: "command skipped ... is already running"
        begin = start + SPAWN
        if s.hey is None:
            found.append(Started(begin, begin + s.load_seconds + s.finish_seconds))
        else:
            answered, exits = s.hey.run(s.load_seconds)
            found.append(Started(begin, begin + exits, tuple(begin + a for a in answered)))
        busy_until = found[-1].exit
    return found


def load_intervals(s: Schedule, runs: Sequence[Run]) -> list[tuple[float, float]]:
    """When one load command sends requests (from each start for -z seconds)."""
    return [(x.begin, x.begin + s.load_seconds) for x in starts(s, runs)]


def _next_tick(at: float, phase: float) -> float:
    """The first runner tick after `at` (ticks at phase + n * 100 ms)."""
    n = math.floor((at - phase) / TICK) + 1
    return phase + n * TICK


def covered(window_end: float, window: float, sending: Sequence[tuple[float, float]]) -> float:
    """Seconds of the window [end - window, end] in which the command sends."""
    start = window_end - window
    return sum(max(0.0, min(window_end, b) - max(start, a)) for a, b in sending)


def windows(s: Schedule) -> list[tuple[Run, float]]:
    """Each analysis run and the seconds of load in its window."""
    runs = flagger_runs(s)
    sending = load_intervals(s, runs)
    return [(r, covered(r.query_at, s.window, sending)) for r in runs if r.query_at is not None]


def answered_in_windows(s: Schedule) -> list[tuple[Run, int]]:
    """Each analysis run and how many of the command's requests were answered in its window
    (what the canary's proxy counts), with a Hey model."""
    assert s.hey is not None
    runs = flagger_runs(s)
    answered = [a for x in starts(s, runs) for a in x.answered]
    return [
        (r, sum(1 for a in answered if r.query_at - s.window < a <= r.query_at))
        for r in runs
        if r.query_at is not None
    ]


def random_jitter(seed: int, most: float) -> Callable[[int], float]:
    """Each run's webhook calls late by 0..most seconds, independently (seeded)."""
    draws = random.Random(seed)
    cache: dict[int, float] = {}

    def jitter(k: int) -> float:
        if k not in cache:
            cache[k] = draws.uniform(0.0, most)
        return cache[k]

    return jitter


def zigzag(most: float) -> Callable[[int], float]:
    """The worst case for the skip rule: a slow run, then a fast one, again and again."""
    return lambda k: most if k % 2 else 0.0


def requests_per_scrape(
    sending: Sequence[tuple[float, float]], rate: float, scrapes: Sequence[float]
) -> list[float | None]:
    """A counter's value at each scrape of a proxy that answers `rate` requests/s while the load
    sends; None before its first request (Linkerd creates the series then)."""
    first = min((a for a, _ in sending), default=math.inf)
    values: list[float | None] = []
    for at in scrapes:
        if at < first:
            values.append(None)
            continue
        values.append(sum(rate * max(0.0, min(at, b) - a) for a, b in sending if a < at))
    return values
