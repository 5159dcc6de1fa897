"""The analysis as Flagger runs it: queries rendered as Flagger renders them, load sized to Flagger's
schedule and the load tester's rule, names cross-checked before anything is created."""

from __future__ import annotations

import copy

import pytest

from stacks.services import analysis
from stacks.services.analysis import RenderError, load_coverage, query_model, render_query
from stacks.services.manifests import render, render_namespace
from stacks.telemetry.layer import PROMETHEUS_URL
from tests import crosscheck
from tests.services_fixture import podinfo


def test_queries_render_like_flaggers_own_render_tests() -> None:
    # fluxcd/flagger v1.44.0 pkg/metrics/observers/render_test.go, its three cases.
    model = {"name": "standard", "namespace": "default", "target": "myapp", "interval": "1m"}
    assert (
        render_query(
            'sum(envoy_cluster_upstream_rq{envoy_cluster_name=~"{{ namespace }}_{{ target }}"})',
            model,
        )
        == 'sum(envoy_cluster_upstream_rq{envoy_cluster_name=~"default_myapp"})'
    )
    kafka = (
        "delta(max by (consumer_group) (kafka_consumer_current_offset{cluster="
        '"{{ variables.cluster }}", consumer_group="{{ variables.consumer_group }}"}'
        "[{{ interval }}]))"
    )
    variables = {"cluster": "dev", "consumer_group": "my_consumer"}
    assert render_query(kafka, {**model, "variables": variables}) == (
        'delta(max by (consumer_group) (kafka_consumer_current_offset{cluster="dev", '
        'consumer_group="my_consumer"}[1m]))'
    )
    with pytest.raises(RenderError, match='no entry for key "cluster"'):
        render_query(kafka, {**model, "variables": {"invalid": "dev", "consumer_group": "x"}})
    with pytest.raises(RenderError, match='function "deployment" not defined'):
        render_query("{{ deployment }}", model)


def test_whitespace_runs_become_one_space_as_flagger_sends_them() -> None:
    # pkg/metrics/providers/prometheus.go trimQuery: regexp \s+ -> " ", nothing stripped.
    rendered = render_query('sum(\n  up{a="{{ target }}"}\n)\n', {"target": "x"})
    assert rendered == 'sum( up{a="x"} ) '
    assert render_query("a {{- target -}} b", {"target": "x"}) == "axb"


def test_the_model_is_flaggers_for_each_metric() -> None:
    canary = render(podinfo("prod"), PROMETHEUS_URL, platform_alerts=False).canary
    metric = canary["spec"]["analysis"]["metrics"][0]
    # scheduler_metrics.go toMetricModel: target and service default to targetRef.name.
    assert query_model(canary, metric) == {
        "name": "podinfo",
        "namespace": "podinfo",
        "target": "podinfo",
        "service": "podinfo",
        "ingress": "podinfo",
        "route": "podinfo",
        "interval": "1m",
        "variables": {"port": "9898"},
    }


def broken(mutate) -> list[str]:
    service = podinfo("dev")
    manifests = render(service, PROMETHEUS_URL, platform_alerts=False)
    namespace = render_namespace(service.namespace, PROMETHEUS_URL, None)
    mutate(manifests.canary, namespace)
    return crosscheck.problems(manifests, namespace, PROMETHEUS_URL)


def test_a_rendered_service_passes_the_crosscheck() -> None:
    assert broken(lambda canary, namespace: None) == []


def test_load_that_outlasts_a_run_or_starts_late_is_refused() -> None:
    def longer(canary, _):
        for hook in canary["spec"]["analysis"]["webhooks"]:
            if "cmd" in hook.get("metadata", {}) and hook["name"].startswith("load-test"):
                hook["metadata"]["cmd"] = hook["metadata"]["cmd"].replace("-z 18s", "-z 40s")

    found = broken(longer)
    assert any(
        "webhook load-test runs load for 40s, not less than the interval 20s" in p for p in found
    ), found

    def no_start(canary, _):
        hooks = canary["spec"]["analysis"]["webhooks"]
        canary["spec"]["analysis"]["webhooks"] = [
            h for h in hooks if h["name"] != "load-test-start"
        ]

    assert broken(no_start) == [
        "podinfo: webhook load-test has no pre-rollout twin: the first analysis window would "
        "have no load"
    ]


def test_a_query_that_would_not_render_or_misses_the_port_is_refused() -> None:
    def missing_variable(canary, _):
        for metric in canary["spec"]["analysis"]["metrics"]:
            metric["templateVariables"] = {}

    found = broken(missing_variable)
    assert len(found) == 3
    assert (
        'its query does not render as Flagger renders it: template excution failed: map has no entry for key "port"'
        in found[0]
    )

    def other_port(canary, _):
        canary["spec"]["analysis"]["metrics"][1]["templateVariables"] = {"port": "4191"}

    assert broken(other_port) == [
        "podinfo: metric success-rate: its query does not select the service's port 9898"
    ]


def test_every_window_has_load_on_the_ideal_schedule() -> None:
    # dev: 20 s runs, 30 s windows, 18 s of load per run; prod: 60 s runs and windows, 55 s.
    dev = load_coverage(20, 30, 18)
    assert (dev.first_seconds, dev.steady_seconds, dev.least_seconds) == (18, 26, 18)
    prod = load_coverage(60, 60, 55)
    assert (prod.first_seconds, prod.steady_seconds, prod.least_seconds) == (55, 55, 55)
    # podinfo, a low-rate service, a slow one: wherever the load generator is accepted.
    generators = ((10, 5, 500), (1, 2, 500), (10, 60, 6000))
    for interval in (10, 20, 45, 60, 300, 3600):
        for window in (30, 60, 300, 3600):
            for rate, concurrency, latency in generators:
                if analysis.load_gap_problem(rate, concurrency, latency, interval) is not None:
                    continue
                load = analysis.load_seconds(interval, rate, concurrency, latency)
                assert load_coverage(interval, window, load).least_seconds > 0, (interval, window)


@pytest.mark.parametrize(
    ("rate", "concurrency", "latency", "interval", "window", "expected"),
    [
        (10, 5, 500, 20, 30, 65),  # dev podinfo: 10/s * (18 s - 5 s) / 2
        (10, 5, 500, 60, 60, 250),  # prod podinfo: 10/s * 50 s / 2
        (10, 2, 500, 20, 30, 26),  # 2 workers at 500 ms hold 4/s only
        (20, 4, 800, 60, 60, 125),  # checkout: 4 workers at 800 ms hold 5/s
        (1, 2, 500, 10, 30, 1),  # never below one request
    ],
)
def test_the_default_minimum_is_half_of_what_the_load_guarantees(
    rate, concurrency, latency, interval, window, expected
) -> None:
    assert analysis.default_min_requests(rate, concurrency, latency, interval, window) == expected


def test_the_default_concurrency_holds_the_rate_at_the_slo_latency() -> None:
    assert analysis.default_concurrency(10, 500) == 5
    assert analysis.default_concurrency(10, 100) == 2
    assert analysis.default_concurrency(1000, 60000) == 100
    assert analysis.sustained_rate(10, analysis.default_concurrency(10, 500), 500) == 10


def test_versions_become_valid_label_values() -> None:
    assert analysis.version_label("6.14.1") == "6.14.1"
    assert analysis.version_label("_build.7-") == "build.7"
    assert len(analysis.version_label("x" * 128)) == 63


def test_thresholds_become_recording_rules_for_the_dashboard() -> None:
    canary = copy.deepcopy(render(podinfo("prod"), PROMETHEUS_URL, platform_alerts=False).canary)
    rules = analysis.threshold_rules(analysis.thresholds(canary))
    (group,) = rules["groups"]
    by_metric = {(r["labels"]["metric"], r["labels"]["bound"]): r for r in group["rules"]}
    assert set(by_metric) == {
        ("request-volume", "min"),
        ("success-rate", "min"),
        ("latency", "max"),
    }
    assert by_metric[("latency", "max")]["expr"] == "vector(500)"
    assert by_metric[("request-volume", "min")]["labels"] == {
        "namespace": "podinfo",
        "name": "podinfo",
        "metric": "request-volume",
        "bound": "min",
    }
    assert analysis.threshold_rules([]) == {}
