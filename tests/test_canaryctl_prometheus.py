"""canaryctl's view of Prometheus: the fake's answers agree with Prometheus's own engine, and the
checks are judged as Flagger judges them."""

from __future__ import annotations

import json
import math

import pytest

from canaryctl.canary import Check
from canaryctl.checks import FAIL, NO_DATA, NOT_EVALUATED, PASS, UNKNOWN, judge, no_data_check
from canaryctl.kube import Event
from tests.fake_prometheus import FakePrometheus
from tests.promtool import assert_rules_hold

GAUGE = "flagger_canary_metric_analysis"
LABELS = {"__name__": GAUGE, "namespace": "podinfo", "name": "podinfo"}


def recorded() -> tuple[FakePrometheus, list[dict[str, str]]]:
    """The same samples in the fake and in promtool's notation: two checks every 10 s for two
    minutes; latency's series ends at 60 s (its target went away: a stale marker)."""
    fake = FakePrometheus()
    volume = {**LABELS, "metric": "request-volume"}
    latency = {**LABELS, "metric": "latency"}
    for i in range(13):
        fake.record(volume, 10.0 * i, 150.0 + i)
    for i in range(6):
        fake.record(latency, 10.0 * i, 8.5)
    fake.stale(latency, 60.0)
    series = [
        {"series": _text(volume), "values": "150+1x12"},
        {"series": _text(latency), "values": "8.5x5 stale"},
    ]
    return fake, series


def _text(labels: dict[str, str]) -> str:
    rest = ", ".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
    return f"{labels['__name__']}{{{rest}}}"


@pytest.mark.parametrize("at", [0, 5, 55, 60, 65, 125, 400, 421])
def test_the_fakes_instant_answers_are_prometheus_own(at: float) -> None:
    fake, series = recorded()
    selector = f'{GAUGE}{{namespace="podinfo"}}'
    code, body = fake.answer("api/v1/query", {"query": [selector], "time": [str(at)]}, 0)
    answer = json.loads(body)
    assert code == 200 and answer["status"] == "success"
    assert answer["data"]["resultType"] == "vector"
    samples = answer["data"]["result"]
    for sample in samples:
        assert sample["value"][0] == at, "the evaluation time, as Prometheus writes it"
        assert isinstance(sample["value"][1], str), "values are strings"
    # promtool evaluates the same selector on the same samples: the same samples come back.
    case = {
        "interval": "10s",
        "input_series": series,
        "promql_expr_test": [
            {
                "expr": selector,
                "eval_time": f"{at}s",
                "exp_samples": [
                    {"labels": _text(s["metric"]), "value": float(s["value"][1])} for s in samples
                ],
            }
        ],
    }
    assert_rules_hold(None, [case])


def test_the_fakes_range_answers_step_like_prometheus() -> None:
    fake, _ = recorded()
    params = {
        "query": [f'{GAUGE}{{metric="latency"}}'],
        "start": ["0"],
        "end": ["90"],
        "step": ["15"],
    }
    answer = json.loads(fake.answer("api/v1/query_range", params, 0)[1])
    (series,) = answer["data"]["result"]
    # Steps 0, 15, ..., 90 inclusive; after the stale marker at 60 s the series is gone.
    assert series["values"] == [[0, "8.5"], [15, "8.5"], [30, "8.5"], [45, "8.5"]]
    too_fine = {**params, "end": ["120000"], "step": ["10"]}
    code, body = fake.answer("api/v1/query_range", too_fine, 0)
    assert (
        code == 400 and "exceeded maximum resolution of 11,000 points" in json.loads(body)["error"]
    )


CHECKS = (
    Check("request-volume", 65, None, 30),
    Check("success-rate", 99, None, 30),
    Check("latency", None, 500, 30),
)


def states(values: dict[str, float], no_data: str | None = None) -> list[str]:
    return [r.state for r in judge(CHECKS, values, no_data)]


def test_checks_are_judged_in_flaggers_order_and_stop_at_the_first_failure() -> None:
    healthy = {"request-volume": 180, "success-rate": 100, "latency": 12}
    assert states(healthy) == [PASS, PASS, PASS]
    # Bounds are inclusive (scheduler_metrics.go: val < min, val > max fail).
    assert states({"request-volume": 65, "success-rate": 99, "latency": 500}) == [PASS] * 3
    assert states({**healthy, "request-volume": 0}) == [FAIL, NOT_EVALUATED, NOT_EVALUATED]
    assert states({**healthy, "success-rate": 98.9}) == [PASS, FAIL, NOT_EVALUATED]
    assert states({**healthy, "latency": math.nan}) == [PASS, PASS, FAIL]
    assert states({"request-volume": 180}) == [PASS, UNKNOWN, UNKNOWN]
    # A query that found nothing fails without a new value (Flagger's event says which).
    assert states(healthy, no_data="success-rate") == [PASS, NO_DATA, NOT_EVALUATED]


def test_the_newest_analysis_event_names_a_check_without_data() -> None:
    def event(message: str) -> Event:
        return Event("podinfo", "podinfo", None, "Warning", message, 1)

    no_values = "Halt advancement no values found for custom metric: success-rate: no values found"
    assert no_data_check([event("Advance podinfo.podinfo canary weight 20"), event(no_values)]) == (
        "success-rate"
    )
    assert (
        no_data_check([event(no_values), event("Advance podinfo.podinfo canary weight 30")]) is None
    )
    assert (
        no_data_check([event("Halt advancement no values found for metric: latency")]) == "latency"
    )
