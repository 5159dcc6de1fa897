"""Load in every analysis window: Flagger's schedule and the load tester's skip rule simulated
(tests/load_schedule.py), for the load commands the platform renders, then the canary's requests
counted by Prometheus's own engine with the request-volume query Flagger sends."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from stacks.schema.delivery import flagger_seconds
from stacks.services import analysis
from stacks.services.analysis import query_model, render_query
from stacks.services.manifests import render, render_namespace
from stacks.telemetry.layer import PROMETHEUS_URL
from tests import linkerd_series as ls
from tests import load_schedule as model
from tests.promtool import measure, measure_cases
from tests.services_fixture import podinfo, read

# A long analysis (the load generator's schedule against promtool's windows): `make test-slow`, which CI runs too.
pytestmark = pytest.mark.slow

# A slow service (p99 SLO 6 s: 60 workers by default) and a low-rate one (one request/s over six
# workers): hey takes longest to stop for these (stacks/analysis.py hey_stop_seconds).
SLOW = {"checks": {"latency": {"max": 6000}}}
LOW_RATE = {"loadTest": {"rate": 1, "concurrency": 6}}


def service_settings(stack: str, fields: dict[str, Any] | None):
    """The stack's podinfo, with `fields` of its declaration overridden in the stack entry, as
    the program's config code reads it (it must be accepted)."""
    if not fields:
        return podinfo(stack)
    services, problems = read(stack, {"services": {"podinfo": {"version": "6.14.1", **fields}}})
    assert not problems, problems
    (service,) = services
    return service


def rendered(stack: str, fields: dict[str, Any] | None = None) -> tuple[model.Schedule, dict, str]:
    """The stack's schedule as its podinfo Canary sets it, the Canary, and the volume query."""
    service = service_settings(stack, fields)
    canary = render(service, PROMETHEUS_URL, platform_alerts=False).canary
    spec = canary["spec"]["analysis"]
    (load,) = [h for h in spec["webhooks"] if h["name"] == "load-test"]
    seconds = re.search(r"-z (\d+[sm])", load["metadata"]["cmd"])
    assert seconds is not None
    volume = spec["metrics"][0]
    template = next(
        t["spec"]["query"]
        for t in render_namespace(service.namespace, PROMETHEUS_URL, None).metric_templates
        if t["metadata"]["name"] == "request-volume"
    )
    schedule = model.Schedule(
        interval=flagger_seconds(spec["interval"]),
        window=flagger_seconds(volume["interval"]),
        load_seconds=flagger_seconds(seconds[1]),
    )
    return schedule, canary, render_query(template, query_model(canary, volume))


def tolerance(s: model.Schedule) -> float:
    """How much later than the next one a run may call its webhooks without the load tester
    skipping the next call: the gap, less a runner tick, hey's start and its requests in flight."""
    gap = s.interval - s.load_seconds
    return gap - model.TICK - model.SPAWN - s.finish_seconds - 0.01


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_window_holds_load_whatever_the_runs_jitter(stack: str) -> None:
    base, _, _ = rendered(stack)
    least = analysis.load_coverage(
        int(base.interval), int(base.window), int(base.load_seconds)
    ).least_seconds
    most = tolerance(base)
    jitters = [lambda _: 0.0, model.zigzag(most)]
    jitters += [model.random_jitter(seed, most) for seed in range(20)]
    for jitter in jitters:
        for phase in (0.0, 0.03, 0.07):
            s = model.Schedule(
                base.interval, base.window, base.load_seconds, jitter=jitter, tick_phase=phase
            )
            for run, seconds in model.windows(s):
                # The load moves with the runs it starts from; a window loses at most the
                # jitter, a runner tick and hey's start against the ideal schedule.
                assert seconds >= least - most - model.TICK - model.SPAWN, (stack, run, seconds)
                assert seconds > 0.5 * least, (stack, run, seconds)


def test_the_previous_load_left_the_first_window_and_every_third_empty() -> None:
    # Before: rollout webhooks only, hey -z 2 * interval (the findings 2 and 3).
    s = model.Schedule(interval=60, window=60, load_seconds=120, prerollout_load=False)
    seconds = [round(c, 1) for _, c in model.windows(s)]
    assert seconds[0] == 0, "the first window is judged before the load starts"
    empty = [i for i, c in enumerate(seconds) if c == 0]
    assert empty == list(range(0, len(seconds), 3)), seconds


def test_a_run_later_than_the_gap_costs_one_window_its_load() -> None:
    # The limit of the design, documented in docs/analysis.md: when one run calls its webhooks
    # more than the gap later than the next run, the next call is skipped and one window loses
    # most of its load: that window's volume check fails (fail closed), the next one is whole.
    base, _, _ = rendered("prod")
    late = tolerance(base) + 1.0
    s = model.Schedule(
        base.interval, base.window, base.load_seconds, jitter=lambda k: late if k == 3 else 0.0
    )
    seconds = [c for _, c in model.windows(s)]
    starved = [i for i, c in enumerate(seconds) if c < 0.5 * base.window]
    assert len(starved) == 1, seconds
    assert all(c > 0.9 * base.load_seconds for c in seconds[starved[0] + 1 :])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_prometheus_counts_enough_requests_in_every_window(stack: str) -> None:
    s, canary, volume = rendered(stack)
    minimum = canary["spec"]["analysis"]["metrics"][0]["thresholdRange"]["min"]
    rate = 10  # podinfo's loadTest.rate, the canary's own generator only (no apex share)
    runs = model.flagger_runs(s)
    sending = model.load_intervals(s, runs)
    labels = {
        **ls.CANARY.target(),
        **ls.application(ls.CANARY),
        "status_code": "200",
        "classification": "success",
    }
    queries = [r.query_at for r in runs if r.query_at is not None]
    for phase in (0.3, 2.5, 5.0, 7.5, 9.7):
        # Scrapes every 10 s at `phase` after a run's tick; promtool's samples start at 0.
        scrapes = [phase + 10 * i for i in range(int(queries[-1] // 10) + 2)]
        values = model.requests_per_scrape(sending, rate, scrapes)
        series = [ls.counter_values("response_total", labels, values)]
        eval_seconds = [q - phase for q in queries]
        counted = measure(volume, series, eval_seconds)
        first, rest = counted[0], counted[1:]
        assert first is not None and rest and None not in rest
        assert min(counted) >= minimum, (stack, phase, counted)


# ---- hey's stop: slow and low-rate services ----


def latencies(seed: int, slowest: float) -> Callable[[int, float], float]:
    """Each request answered in 5 ms to `slowest` seconds, independently (seeded)."""
    draws = random.Random(seed)
    drawn: dict[tuple[int, float], float] = {}

    def latency(worker: int, sent: float) -> float:
        key = (worker, round(sent, 6))
        if key not in drawn:
            drawn[key] = draws.uniform(0.005, slowest)
        return drawn[key]

    return latency


def fast_then_slow(stop: float, slowest: float) -> Callable[[int, float], float]:
    """The worst case for hey's stop: fast answers until the stop, then one slow request."""
    return lambda _w, sent: 0.005 if sent < stop - 0.005 else slowest


PHASES = [i / 20 for i in range(20)]
"""Where the stop falls between a worker's throttle ticks, as a share of the throttle period:
-z modulo the period, which each setting fixes (hey starts its timer and tickers together)."""


@pytest.mark.parametrize(
    ("rate", "concurrency", "latency_ms"),
    [(10, 5, 500), (1, 2, 500), (1, 6, 500), (10, 60, 6000), (20, 4, 800), (3, 1, 2000)],
)
def test_hey_stops_within_a_throttle_period_and_one_request(rate, concurrency, latency_ms) -> None:
    bound = analysis.hey_stop_seconds(rate, concurrency, latency_ms)
    slowest = latency_ms / 1000
    period = concurrency / rate
    duration = 47.0
    worst = 0.0
    for phase in PHASES:
        offset = phase * period
        patterns = [lambda _w, _t: slowest, fast_then_slow(duration, slowest)]
        patterns += [latencies(seed, slowest) for seed in range(3)]
        for latency in patterns:
            answered, exits = model.Hey(rate, concurrency, latency, offset).run(duration)
            assert exits - duration <= bound + 1e-9, (phase, exits)
            assert answered[-1] == exits
            worst = max(worst, exits - duration)
    # The bound is reached (to the phase grid): a fast answer just before the stop, a wait for
    # the next tick, one slow request. The larger of the two alone would leave hey running.
    assert worst >= bound - period / len(PHASES) - 0.01
    assert worst > max(period, slowest)


@pytest.mark.parametrize(
    ("stack", "fields"),
    [("dev", None), ("prod", None), ("prod", SLOW), ("prod", LOW_RATE), ("dev", LOW_RATE)],
    ids=["dev", "prod", "prod-slow", "prod-low-rate", "dev-low-rate"],
)
def test_every_window_answers_the_minimum_whatever_hey_and_the_runs_do(
    stack: str, fields: dict[str, Any] | None
) -> None:
    # hey simulated worker by worker, at every phase of its stop, with random latencies up to
    # the SLO's p99 and the runs' webhook calls jittered up to what the gap leaves.
    base, canary, _ = rendered(stack, fields)
    minimum = canary["spec"]["analysis"]["metrics"][0]["thresholdRange"]["min"]
    service = service_settings(stack, fields)
    rate, concurrency = service.load_test.rate, service.load_concurrency
    latency_ms = service.latency_ms
    stop = analysis.hey_stop_seconds(rate, concurrency, latency_ms)
    gap = base.interval - base.load_seconds
    most = gap - stop - model.TICK - model.SPAWN - 0.01
    assert most > 0.5, (gap, stop)
    for phase in PHASES[::2]:
        for seed, jitter in ((0, lambda _: 0.0), (1, model.zigzag(most))):
            hey = model.Hey(
                rate, concurrency, latencies(seed, latency_ms / 1000), phase * concurrency / rate
            )
            s = model.Schedule(
                base.interval, base.window, base.load_seconds, jitter=jitter, hey=hey
            )
            counts = [n for _, n in model.answered_in_windows(s)]
            assert min(counts) >= minimum, (phase, seed, counts)
            assert len(model.starts(s, model.flagger_runs(s))) == s.analysis_runs + 1


@pytest.mark.parametrize(
    ("fields", "before"),
    [(SLOW, 55), (LOW_RATE, 55)],
    ids=["slow", "low-rate"],
)
def test_the_previous_gap_left_every_other_window_without_load(fields, before) -> None:
    # Before: the gap was a tenth of the interval, 2-5 s, whatever the load generator (prod:
    # hey -z 55s). A slow or low-rate hey still ran when the next run called it: the load
    # tester skipped the call, and every other window held only the stragglers.
    base, canary, _ = rendered("prod", fields)
    minimum = canary["spec"]["analysis"]["metrics"][0]["thresholdRange"]["min"]
    service = service_settings("prod", fields)
    rate, concurrency = service.load_test.rate, service.load_concurrency
    slowest = service.latency_ms / 1000
    starved_somewhere = False
    for phase in PHASES[::2]:
        hey = model.Hey(rate, concurrency, latencies(0, slowest), phase * concurrency / rate)
        previous = model.Schedule(base.interval, base.window, before, hey=hey)
        counts = [n for _, n in model.answered_in_windows(previous)]
        if min(counts) < minimum:
            starved_somewhere = True
            # Alternating: loaded, starved, loaded, ...
            assert all(c < minimum for c in counts[1::2]), counts
            assert all(c >= minimum for c in counts[::2]), counts
    assert starved_somewhere
    assert base.load_seconds < before


def test_a_gap_of_the_larger_of_throttle_and_latency_is_not_enough() -> None:
    # The slow service with a gap of ceil(max(concurrency/rate, latency)) + 1 = 7 s (hey -z 53s):
    # at some phases of its stop hey still runs at the next call, as the sum predicts.
    base, canary, _ = rendered("prod", SLOW)
    minimum = canary["spec"]["analysis"]["metrics"][0]["thresholdRange"]["min"]
    service = service_settings("prod", SLOW)
    rate, concurrency = service.load_test.rate, service.load_concurrency
    starved = []
    for phase in PHASES:
        hey = model.Hey(rate, concurrency, latencies(0, 6.0), phase * concurrency / rate)
        counts = [n for _, n in model.answered_in_windows(model.Schedule(60, 60, 53, hey=hey))]
        starved.append(min(counts) < minimum)
    assert any(starved)
    assert base.load_seconds == 60 - (6 + 6 + 1)


@pytest.mark.parametrize(("fields"), [SLOW, LOW_RATE], ids=["slow", "low-rate"])
def test_prometheus_counts_the_minimum_of_slow_and_low_rate_services(fields) -> None:
    # hey's answers as the canary's proxy counts them, scraped every 10 s, evaluated by promtool
    # with the request-volume query Flagger sends.
    s, canary, volume = rendered("prod", fields)
    minimum = canary["spec"]["analysis"]["metrics"][0]["thresholdRange"]["min"]
    service = service_settings("prod", fields)
    rate, concurrency = service.load_test.rate, service.load_concurrency
    hey = model.Hey(rate, concurrency, latencies(0, service.latency_ms / 1000))
    s = model.Schedule(s.interval, s.window, s.load_seconds, hey=hey, analysis_runs=6)
    runs = model.flagger_runs(s)
    answered = sorted(a for x in model.starts(s, runs) for a in x.answered)
    labels = {
        **ls.CANARY.target(),
        **ls.application(ls.CANARY),
        "status_code": "200",
        "classification": "success",
    }
    queries = [r.query_at for r in runs if r.query_at is not None]
    for phase in (0.3, 5.0, 9.7):
        scrapes = [phase + 10 * i for i in range(int(queries[-1] // 10) + 2)]
        values = [
            float(sum(1 for a in answered if a <= at)) if at >= answered[0] else None
            for at in scrapes
        ]
        series = [ls.counter_values("response_total", labels, values)]
        counted = measure(volume, series, [q - phase for q in queries])
        assert None not in counted
        assert min(counted) >= minimum, (phase, counted)


@pytest.mark.parametrize(
    ("stack", "figures"),
    [
        # zero phases per pod, pairs short, first window min/median/max, later windows min/max
        ("dev", ([3, 3], 12, (0, 195, 198), (270, 270))),
        ("prod", ([0, 0], 0, (546, 587, 598), (546, 600))),
    ],
)
def test_the_first_window_with_two_canary_pods(stack: str, figures: tuple) -> None:
    # podinfo: each of the two canary pods (HPA min 2; Flagger scales the canary to it,
    # deployment_controller.go ScaleFromZero) has its own series, created by its first request,
    # which hey sends one throttle period (0.5 s) after it starts. When Prometheus scrapes a pod
    # once only before the first query, increase() counts nothing for it. Measured at every
    # scrape phase of each pod (40 each, 0.25 s apart), requests alternating between the pods;
    # docs/analysis.md quotes these figures.
    zeros, short, first_range, later_range = figures
    s, canary, volume = rendered(stack)
    minimum = canary["spec"]["analysis"]["metrics"][0]["thresholdRange"]["min"]
    hey = model.Hey(10, 5, lambda _w, _t: 0.01)
    s = model.Schedule(s.interval, s.window, s.load_seconds, hey=hey, analysis_runs=4)
    runs = model.flagger_runs(s)
    answered = sorted(a for x in model.starts(s, runs) for a in x.answered)
    queries = [r.query_at for r in runs if r.query_at is not None]
    phases = [10 * i / 40 for i in range(40)]
    cases = []
    for index, times in enumerate((answered[0::2], answered[1::2])):
        pod = ls.Pod(f"podinfo-7d9c6b5f4-pod{index}", "podinfo", f"10.244.1.{17 + index}")
        labels = {
            **pod.target(),
            **ls.application(pod),
            "status_code": "200",
            "classification": "success",
        }
        for phase in phases:
            scrapes = [phase + 10 * i for i in range(int(queries[-1] // 10) + 2)]
            values = [
                float(sum(1 for a in times if a <= at)) if at >= times[0] else None
                for at in scrapes
            ]
            series = [ls.counter_values("response_total", labels, values)]
            cases.append((series, [q - phase for q in queries]))
    counted = [[c or 0.0 for c in case] for case in measure_cases(volume, cases)]
    pods = [counted[: len(phases)], counted[len(phases) :]]
    # A pod's series may count nothing in the first window...
    assert [sum(1 for case in pod if case[0] == 0) for pod in pods] == zeros
    # ...and the check fails only when both are caught (or one is and the other was scraped
    # just after its start): either pod alone is above the minimum.
    first = sorted(a[0] + b[0] for a in pods[0] for b in pods[1])
    assert sum(1 for t in first if t < minimum) == short
    assert (round(first[0]), round(first[len(first) // 2]), round(first[-1])) == first_range
    later = [x + y for a in pods[0] for b in pods[1] for x, y in zip(a[1:], b[1:], strict=True)]
    assert (round(min(later)), round(max(later))) == later_range
    assert min(later) >= minimum
