"""The checks judged by Prometheus's own engine: each MetricTemplate query, rendered with the Canary's
variables exactly as Flagger renders it, evaluated by `promtool test rules` on synthetic Linkerd
series (tests/linkerd_series.py names where every label comes from).

Verdicts use tests/promtool.py holds(): Flagger fails a check on an empty or NaN result or a value
outside its thresholdRange (flagger v1.44.0 pkg/metrics/providers/prometheus.go RunQuery,
pkg/controller/scheduler_metrics.go runMetricChecks).
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from stacks.manifests import ROOT
from stacks.services.analysis import query_model, render_query
from stacks.services.manifests import render, render_namespace
from stacks.telemetry.dashboards import CANARY_DASHBOARD
from stacks.telemetry.layer import PROMETHEUS_URL
from tests import linkerd_series as ls
from tests.promtool import assert_rules_hold, check_rules, holds
from tests.services_fixture import podinfo

# A long analysis (every analysis query judged by promtool): `make test-slow`, which CI runs too.
pytestmark = pytest.mark.slow

SCRAPES = 120  # 20 minutes of 10 s scrapes
EVAL = "15m"
# 10 requests/s of application traffic: 100 per 10 s scrape.
LOAD = 100


def checks(stack: str) -> dict[str, str]:
    """Each check of the stack's podinfo Canary as the expression that holds when it passes."""
    service = podinfo(stack)
    canary = render(service, PROMETHEUS_URL, platform_alerts=False).canary
    templates = {
        t["metadata"]["name"]: t["spec"]["query"]
        for t in render_namespace(service.namespace, PROMETHEUS_URL, None).metric_templates
    }
    found = {}
    for metric in canary["spec"]["analysis"]["metrics"]:
        query = render_query(templates[metric["templateRef"]["name"]], query_model(canary, metric))
        bound = metric["thresholdRange"]
        found[metric["name"]] = (
            f"({query}) >= {bound['min']}" if "min" in bound else f"({query}) <= {bound['max']}"
        )
    return found


def verdicts(stack: str, series: list[dict[str, str]]) -> dict[str, bool]:
    return {name: holds(expr, series, EVAL) for name, expr in checks(stack).items()}


def noise(pod: ls.Pod) -> list[dict[str, str]]:
    """What every canary pod's proxy records without a single real request, every 10 s:
    Prometheus's scrape and kubelet's two probes of the admin port (the proxy container's
    readiness and liveness, linkerd-control-plane chart _proxy.tpl), and kubelet's two probes of
    the app port."""
    return [
        *ls.traffic(pod, ls.admin(pod), per_scrape=3, scrapes=SCRAPES, latency_ms=((1, 1.0),)),
        *ls.traffic(pod, ls.kubelet_probe(pod), per_scrape=2, scrapes=SCRAPES),
    ]


def healthy_primary() -> list[dict[str, str]]:
    return [
        *noise(ls.PRIMARY),
        *ls.traffic(ls.PRIMARY, ls.application(ls.PRIMARY), per_scrape=10 * LOAD, scrapes=SCRAPES),
    ]


# The templates as they were before this change: every inbound response of the deployment.
BEFORE = {
    "success-rate": (
        'sum(rate(response_total{namespace="podinfo", deployment=~"podinfo", '
        'classification!="failure", direction="inbound"}[1m])) / sum(rate(response_total{'
        'namespace="podinfo", deployment=~"podinfo", direction="inbound"}[1m])) * 100 >= 99'
    ),
    "latency": (
        'histogram_quantile(0.99, sum(rate(response_latency_ms_bucket{namespace="podinfo", '
        'deployment=~"podinfo", direction="inbound"}[1m])) by (le)) <= 500'
    ),
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_admin_and_probe_traffic_alone_fails_every_check(stack: str) -> None:
    series = [*noise(ls.CANARY), *healthy_primary()]
    assert verdicts(stack, series) == {
        "request-volume": False,
        "success-rate": False,
        "latency": False,
    }


def test_before_this_change_the_same_window_passed_at_100_percent() -> None:
    # The issue's finding, shown by the engine: without real load the old queries passed.
    series = [*noise(ls.CANARY), *healthy_primary()]
    assert all(holds(expr, series, EVAL) for expr in BEFORE.values())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_healthy_load_passes_every_check(stack: str) -> None:
    series = [
        *noise(ls.CANARY),
        *ls.traffic(ls.CANARY, ls.application(ls.CANARY), per_scrape=LOAD, scrapes=SCRAPES),
        *healthy_primary(),
    ]
    assert verdicts(stack, series) == {
        "request-volume": True,
        "success-rate": True,
        "latency": True,
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_five_percent_errors_fail_the_success_rate(stack: str) -> None:
    app = ls.traffic(
        ls.CANARY, ls.application(ls.CANARY), per_scrape=LOAD, scrapes=SCRAPES, error_ratio=0.05
    )
    found = verdicts(stack, [*noise(ls.CANARY), *app, *healthy_primary()])
    assert found == {"request-volume": True, "success-rate": False, "latency": True}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_latency_regression_fails_the_latency_check(stack: str) -> None:
    # 2 % of requests take a second: the p99 lands in the 500-1000 ms bucket.
    slow = ((5, 0.98), (1000, 0.02))
    app = ls.traffic(
        ls.CANARY, ls.application(ls.CANARY), per_scrape=LOAD, scrapes=SCRAPES, latency_ms=slow
    )
    found = verdicts(stack, [*noise(ls.CANARY), *app, *healthy_primary()])
    assert found == {"request-volume": True, "success-rate": True, "latency": False}


def test_canary_and_primary_pods_are_kept_apart() -> None:
    healthy = ls.traffic(ls.CANARY, ls.application(ls.CANARY), per_scrape=LOAD, scrapes=SCRAPES)
    broken_primary = ls.traffic(
        ls.PRIMARY,
        ls.application(ls.PRIMARY),
        per_scrape=10 * LOAD,
        scrapes=SCRAPES,
        error_ratio=0.5,
        latency_ms=((3000, 1.0),),
    )
    # A failing primary does not fail the canary ...
    assert all(verdicts("prod", [*noise(ls.CANARY), *healthy, *broken_primary]).values())
    # ... and a healthy primary does not carry a failing canary.
    failing = ls.traffic(
        ls.CANARY, ls.application(ls.CANARY), per_scrape=LOAD, scrapes=SCRAPES, error_ratio=0.5
    )
    assert verdicts("prod", [*noise(ls.CANARY), *failing, *healthy_primary()]) == {
        "request-volume": True,
        "success-rate": False,
        "latency": True,
    }


def test_a_trickle_of_requests_fails_on_volume_whatever_their_outcome() -> None:
    # One request per scrape (0.1/s), all fine: 6 per minute, under prod's 250.
    trickle = ls.traffic(ls.CANARY, ls.application(ls.CANARY), per_scrape=1, scrapes=SCRAPES)
    found = verdicts("prod", [*noise(ls.CANARY), *trickle, *healthy_primary()])
    assert found == {"request-volume": False, "success-rate": True, "latency": True}


def test_a_side_port_does_not_count_as_the_service() -> None:
    # podinfo's own metrics port 9797 scraped by a meshed Prometheus would be tls="true" but
    # another target_port: not the service's traffic.
    side = ls.traffic(ls.CANARY, ls.application(ls.CANARY, 9797), per_scrape=LOAD, scrapes=SCRAPES)
    found = verdicts("prod", [*noise(ls.CANARY), *side, *healthy_primary()])
    assert found == {"request-volume": False, "success-rate": False, "latency": False}


def test_no_requests_at_all_records_a_zero_volume() -> None:
    # The volume check answers 0 rather than nothing, so Flagger records the 0 it failed on
    # (SetAnalysis is only called for a value, scheduler_metrics.go:325).
    volume = checks("prod")["request-volume"].rsplit(") >=", 1)[0].lstrip("(")
    series = [*noise(ls.CANARY), *healthy_primary()]
    assert holds(f"({volume}) == 0", series, EVAL)


def test_the_scrape_keeps_every_label_the_checks_select(runs) -> None:
    # The proxy exposes direction, target_port, tls, classification and le itself; the job
    # linkerd-proxy adds namespace and deployment. Nothing may drop or overwrite them.
    job = runs["prod"].release("prometheus").inputs["values"]["scrapeConfigs"]["linkerd-proxy"]
    for rule in job["metric_relabel_configs"]:
        assert (rule["action"], rule["source_labels"]) == ("keep", ["__name__"]), rule
    proxy_labels = {"direction", "target_port", "tls", "classification", "le"}
    made = set()
    for rule in job["relabel_configs"]:
        if rule.get("action") in ("labeldrop", "labelkeep"):
            regex = re.compile(rule["regex"])
            kept = {label for label in proxy_labels if regex.fullmatch(label)}
            assert kept == (proxy_labels if rule["action"] == "labelkeep" else set()), rule
        if rule.get("target_label"):
            made.add(rule["target_label"])
    assert not made & proxy_labels
    assert {"namespace", "pod"} <= made
    # deployment comes from the pod label linkerd.io/proxy-deployment through a labelmap.
    assert any(
        r.get("action") == "labelmap"
        and r["regex"] == "__meta_kubernetes_pod_label_linkerd_io_proxy_(.+)"
        for r in job["relabel_configs"]
    )


def dashboard_query(title: str, ref: str = "A") -> str:
    board = json.loads(CANARY_DASHBOARD.read_text())
    (panel,) = [p for p in board["panels"] if p["title"] == title]
    (target,) = [t for t in panel["targets"] if t["refId"] == ref]
    return target["expr"].replace("$namespace", "podinfo").replace("$target", "podinfo")


def test_prometheus_records_each_checks_threshold_for_the_dashboard(runs) -> None:
    rules = runs["prod"].release("prometheus").inputs["values"]["serverFiles"]
    recording = rules["recording_rules.yml"]
    check_rules(recording)
    flagger = {
        "job": "kubernetes-pods",
        "instance": "10.244.0.12:8080",
        "namespace": "podinfo",
        "name": "podinfo",
        "pod": "flagger-5c4f6d8b9-7hx2p",
    }
    series = [
        {
            "series": "flagger_canary_metric_analysis"
            + "{"
            + ", ".join(f'{k}="{v}"' for k, v in {**flagger, "metric": metric}.items())
            + "}",
            "values": values,
        }
        # request-volume passes then fails (0 < 250); success-rate fails then passes;
        # latency passes (500 is allowed), then fails.
        for metric, values in (
            ("request-volume", "600x30 0x30"),
            ("success-rate", "95x30 99.5x30"),
            ("latency", "500x30 731x30"),
        )
    ]
    verdict = dashboard_query("Check verdicts, run by run")
    case = {
        "interval": "10s",
        "input_series": series,
        "promql_expr_test": [
            {
                "expr": verdict,
                "eval_time": when,
                "exp_samples": [
                    # one-to-one matching `on` the check keeps those labels only
                    {"labels": f'{{metric="{m}", name="podinfo", namespace="podinfo"}}', "value": v}
                    for m, v in expected.items()
                ],
            }
            for when, expected in (
                ("4m", {"request-volume": 1, "success-rate": 0, "latency": 1}),
                ("9m", {"request-volume": 0, "success-rate": 1, "latency": 0}),
            )
        ],
    }
    assert_rules_hold(recording, [case])
    # The repeated panel draws the measured value against the same recorded threshold.
    measured = dashboard_query("$check against its threshold", "B").replace("$check", "latency")
    threshold_case = {
        "interval": "10s",
        "input_series": [],
        "promql_expr_test": [
            {
                "expr": measured,
                "eval_time": "1m",
                "exp_samples": [
                    {
                        "labels": 'canary_check_threshold{namespace="podinfo", name="podinfo", '
                        'metric="latency", bound="max"}',
                        "value": 500,
                    }
                ],
            }
        ],
    }
    assert_rules_hold(recording, [threshold_case])


def test_the_dashboard_repeats_one_panel_per_check_with_value_threshold_and_weight() -> None:
    board = json.loads(CANARY_DASHBOARD.read_text())
    (panel,) = [p for p in board["panels"] if p.get("repeat") == "check"]
    exprs = {t["refId"]: t["expr"] for t in panel["targets"]}
    assert (
        exprs["A"].startswith("flagger_canary_metric_analysis{") and 'metric="$check"' in exprs["A"]
    )
    assert exprs["B"].startswith("canary_check_threshold{") and 'metric="$check"' in exprs["B"]
    assert exprs["C"].startswith("flagger_canary_weight{")
    (check,) = [v for v in board["templating"]["list"] if v["name"] == "check"]
    assert check["query"]["query"].startswith("label_values(canary_check_threshold{")
    assert check["includeAll"] and check["multi"], "every check gets its panel"


def example_check(name: str) -> tuple[str, dict[str, float]]:
    """A custom check of examples/services/checkout.yaml as Flagger would send it for the test
    pods' Canary (namespace podinfo, target podinfo, a 1m window), and its bound."""
    declared = yaml.safe_load((ROOT / "examples/services/checkout.yaml").read_text())
    check = declared["checks"][name]
    canary = {"metadata": {"name": "podinfo", "namespace": "podinfo"}}
    canary["spec"] = {"targetRef": {"name": "podinfo"}}
    query = render_query(check["query"], query_model(canary, {"interval": "1m"}))
    return query, {k: check[k] for k in ("min", "max") if k in check}


def test_the_example_custom_check_passes_without_errors_and_fails_on_them() -> None:
    """checkout's server-errors: 0 % when no response is a 5xx (its `or on() vector(0)` keeps an
    empty numerator from failing the check), over its 0.5 % bound at 2 % errors; without that
    `or`, a healthy canary would fail (Flagger: no values found)."""
    query, bound = example_check("server-errors")
    assert bound == {"max": 0.5}
    healthy = ls.traffic(ls.CANARY, ls.application(ls.CANARY), per_scrape=LOAD, scrapes=SCRAPES)
    failing = ls.traffic(
        ls.CANARY, ls.application(ls.CANARY), per_scrape=LOAD, scrapes=SCRAPES, error_ratio=0.02
    )
    base = [*noise(ls.CANARY), *healthy_primary()]
    assert holds(f"({query}) <= 0.5", [*base, *healthy], EVAL)
    assert not holds(f"({query}) <= 0.5", [*base, *failing], EVAL)
    naive = query.replace(" or on() vector(0)", "")
    assert naive != query
    assert not holds(f"({naive}) <= 0.5", [*base, *healthy], EVAL)
