"""Load in every analysis window: Flagger's schedule and the load tester's skip rule simulated
(tests/load_schedule.py), for the load commands the platform renders, then the canary's requests
counted by Prometheus's own engine with the request-volume query Flagger sends."""

from __future__ import annotations

import re

import pytest

from stacks.schema.delivery import flagger_seconds
from stacks.services import analysis
from stacks.services.analysis import query_model, render_query
from stacks.services.manifests import render, render_namespace
from stacks.telemetry.layer import PROMETHEUS_URL
from tests import linkerd_series as ls
from tests import load_schedule as model
from tests.promtool import measure
from tests.services_fixture import podinfo


def rendered(stack: str) -> tuple[model.Schedule, dict, str]:
    """The stack's schedule as its podinfo Canary sets it, the Canary, and the volume query."""
    service = podinfo(stack)
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
    least = analysis.load_coverage(int(base.interval), int(base.window)).least_seconds
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
