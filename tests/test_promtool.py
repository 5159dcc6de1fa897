"""The promtool harness itself: Prometheus's engine answers, and a wrong expectation fails."""

from __future__ import annotations

from tests.promtool import assert_rules_hold, check_rules, holds, run_rule_tests

RATE_SERIES = [{"series": 'response_total{classification="success"}', "values": "0+10x60"}]


def test_a_steady_counter_holds_its_rate_and_not_more() -> None:
    # 10 per 10 s scrape is 1 per second under either range semantics (2.x closed, 3.x open).
    assert holds("sum(rate(response_total[1m])) >= 0.9", RATE_SERIES, "5m")
    assert not holds("sum(rate(response_total[1m])) >= 1.1", RATE_SERIES, "5m")


def test_an_empty_result_does_not_hold() -> None:
    assert not holds('sum(rate(response_total{classification="failure"}[1m]))', RATE_SERIES, "5m")


def test_a_wrong_alert_expectation_is_reported() -> None:
    groups = {"groups": [{"name": "g", "rules": [{"alert": "Down", "expr": "up == 0"}]}]}
    check_rules(groups)
    case = {
        "interval": "10s",
        "input_series": [{"series": 'up{job="x"}', "values": "0x30"}],
        "alert_rule_test": [{"eval_time": "1m", "alertname": "Down", "exp_alerts": []}],
    }
    result = run_rule_tests(groups, [case])
    assert result.returncode != 0 and "Down" in result.stdout
    case["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"job": "x"}}]
    assert_rules_hold(groups, [case])
