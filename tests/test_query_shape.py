"""Custom check queries: what Flagger can judge (stacks/services/query_shape.py) and what the
platform's Prometheus refuses (experimental functions), each verdict held against Prometheus's
own engine where it can run.

Flagger v1.44.0 judges one series: it cannot decode a scalar or string answer, refuses a range
vector and takes the last of several series (pkg/metrics/providers/prometheus.go RunQuery).
The static rule accepts only queries it can show return at most one series; promtool counts the
series each query really returns on data with several pods and namespaces.
"""

from __future__ import annotations

import pytest

from stacks.services.query_shape import problem
from stacks.telemetry.promql import EXPERIMENTAL_AGGREGATIONS, EXPERIMENTAL_FUNCTIONS, problems
from tests.promtool import measure_cases

# Two namespaces, three pods, two of them in one deployment; a histogram in two pods.
SERIES = (
    [
        {"series": f'a{{namespace="{ns}", deployment="{d}", pod="{pod}"}}', "values": f"{v}+{v}x20"}
        for ns, d, pod, v in (("x", "d", "p1", 1), ("x", "d", "p2", 2), ("y", "e", "p3", 3))
    ]
    + [
        {"series": f'b{{namespace="{ns}", deployment="{d}", pod="{pod}"}}', "values": f"{v}+{v}x20"}
        for ns, d, pod, v in (("x", "d", "p1", 4), ("x", "d", "p2", 5), ("y", "e", "p3", 6))
    ]
    + [
        {"series": f'x_bucket{{namespace="x", pod="{pod}", le="{le}"}}', "values": f"0+{n}x20"}
        for pod in ("p1", "p2")
        for le, n in (("0.1", 1), ("+Inf", 2))
    ]
)

ONE_SERIES = [
    "sum(rate(a[1m]))",
    "sum(rate(a[1m])) / sum(rate(b[1m])) * 100",
    '(sum(rate(a{namespace="none"}[1m])) or on() vector(0)) / sum(rate(b[1m])) * 100',
    "sum(increase(a[1m])) or vector(0)",
    'sum(increase(a{namespace="none"}[1m])) or vector(0)',
    "histogram_quantile(0.99, sum(rate(x_bucket[1m])) by (le))",
    'histogram_quantile(0.99, sum by (le) (rate(x_bucket{namespace="x"}[1m])))',
    'sum by (namespace) (rate(a{namespace="x"}[1m]))',
    'sum by (namespace, deployment) (a{namespace="x", deployment="d"})',
    'sum by (namespace) (a{namespace=~"x"})',
    "topk(1, sum by (pod) (rate(a[1m])))",
    "max(a) - min(a)",
    "sum(a) > 5",
    'absent(a{namespace="none"})',
    "vector(1)",
    "count(a)",
    "quantile(0.5, a)",
    'sum by (namespace) (a{namespace="x"}) or sum by (namespace) (b{namespace="x"})',
    "clamp_max(sum(a), 100)",
    "-sum(a)",
    "sum(a) and sum(b)",
    'label_replace(sum(a), "v", "1", "", "")',
    'max(sum by (v) (label_replace(a, "v", "$1", "pod", "(.*)")))',
]
SEVERAL_SERIES = [
    "rate(a[1m])",
    "sum by (pod) (rate(a[1m]))",
    'sum by (namespace) (a{namespace="x"}) or vector(0)',  # {namespace="x"} and {}
    "sum without (pod) (a)",
    "topk(2, sum by (pod) (a))",
    "a / b",
    'count_values("v", a)',
    "sum(a) or sum by (namespace) (b)",
    "histogram_quantile(0.99, rate(x_bucket[1m]))",
    'sum by (deployment) (a{namespace="x"})',  # one deployment in x, but nothing says so
]


def _counts(queries: list[str]) -> list[float | None]:
    # count() of the answer: its number of series (None: no series at all).
    return [measure_cases(f"count(({query}))", [(SERIES, [60])])[0][0] for query in queries]


@pytest.mark.parametrize("query", ONE_SERIES)
def test_accepted_queries_are_single_series_for_flagger(query: str) -> None:
    assert problem(query) is None


@pytest.mark.parametrize("query", SEVERAL_SERIES)
def test_queries_that_may_hold_several_series_are_refused(query: str) -> None:
    assert problem(query) == (
        "a vector that may hold several series, of which Flagger judges the last, silently"
    )


@pytest.mark.slow  # promtool over every query: make test-slow
def test_prometheus_returns_at_most_one_series_for_every_accepted_query() -> None:
    counts = dict(zip(ONE_SERIES, _counts(ONE_SERIES), strict=True))
    assert {q: c for q, c in counts.items() if c not in (None, 1)} == {}
    assert sum(c == 1 for c in counts.values()) >= len(ONE_SERIES) - 1, counts


@pytest.mark.slow  # promtool over every query: make test-slow
def test_prometheus_returns_several_series_for_the_refused_ones_on_this_data() -> None:
    """Except the last, whose one deployment only the data knows: the rule cannot see data."""
    counts = dict(zip(SEVERAL_SERIES, _counts(SEVERAL_SERIES), strict=True))
    assert {q: c for q, c in counts.items() if not (c or 0) >= 2} == {
        'sum by (deployment) (a{namespace="x"})': 1
    }


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("scalar(sum(a))", "a scalar"),
        ("1", "a scalar"),
        ("time()", "a scalar"),
        ("sum(a) * 2 > bool 1 == bool 1 * 0 + 1", None),
        ('"text"', "a string"),
        ("a[5m]", "a range vector"),
        ("sum(a)[5m:1m]", "a range vector"),
    ],
)
def test_answers_flagger_cannot_decode_are_refused(query: str, answer: str | None) -> None:
    found = problem(query)
    assert (found is None) if answer is None else (found or "").startswith(answer), found


EXPERIMENTAL_CALLS = {
    "double_exponential_smoothing": "double_exponential_smoothing(up[5m], 0.5, 0.5)",
    "end": "vector(end())",
    "histogram_quantiles": 'histogram_quantiles(up, "q", 0.5)',
    "info": "info(up)",
    "mad_over_time": "mad_over_time(up[5m])",
    "max_of": "vector(max_of(1, 2))",
    "min_of": "vector(min_of(1, 2))",
    "range": "vector(range())",
    "sort_by_label": 'sort_by_label(up, "job")',
    "sort_by_label_desc": 'sort_by_label_desc(up, "job")',
    "start": "vector(start())",
    "start_timestamp": "start_timestamp(up)",
    "step": "vector(step())",
    "ts_of_first_over_time": "ts_of_first_over_time(up[5m])",
    "ts_of_last_over_time": "ts_of_last_over_time(up[5m])",
    "ts_of_max_over_time": "ts_of_max_over_time(up[5m])",
    "ts_of_min_over_time": "ts_of_min_over_time(up[5m])",
    "limitk": "limitk(1, up)",
    "limit_ratio": "limit_ratio(0.5, up)",
}


def test_every_experimental_function_of_prometheus_3_14_is_refused_by_name() -> None:
    assert set(EXPERIMENTAL_CALLS) == EXPERIMENTAL_FUNCTIONS | EXPERIMENTAL_AGGREGATIONS
    for name, query in EXPERIMENTAL_CALLS.items():
        found = problems(query)
        assert any(f"{name}() is experimental" in p for p in found), (query, found)
    assert problems("sum(up) + fill(0) sum(up)")[0].startswith("the fill() modifier is exp")
    assert problems("sort_desc(sum by (job) (up))") == []  # not experimental


def test_the_platforms_own_templates_are_single_series_too() -> None:
    """The built-in checks' queries (manifests/service/metrictemplate.yaml) meet the same rule."""
    from stacks.manifests import load_documents

    templates = load_documents("service/metrictemplate.yaml")
    assert len(templates) == 3
    for template in templates:
        assert problem(template["spec"]["query"]) is None, template["metadata"]["name"]
