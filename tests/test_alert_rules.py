"""Every alert rule, judged by Prometheus's own engine (`promtool test rules`) on synthetic series:
one case where it fires and one where it stays silent, including pods that are Pending (no
target, so no `up` series), series that are absent, and a disk filling up. The rule file is the
one the program renders for the stack (under the mocks of tests/harness.py), not a copy.

Series are what the platform's scrape jobs produce (manifests/telemetry/prometheus-values.yaml):
a crashing container keeps its pod IP, so its target reports `up` 0; a Pending pod has no IP and
no target (prometheus v3.14.0 discovery/kubernetes/pod.go); a deleted Deployment has neither.

The engine is promtool 2.42.0 from Debian's `prometheus` package (tests/promtool.py), while the
platform runs Prometheus v3.14 (chart 29.27.0). What that means here: of the query changes
Prometheus 3 made (its migration guide: ranges selected left-open, `.` in regexes matching
newlines, `le` and `quantile` values normalised to floats, holt_winters renamed), only the first
touches these rules (their regexes have no `.`, none reads `le` or `quantile`): 3.x leaves out a
sample exactly at a window's start, 2.x keeps it, so no threshold sits on that one-sample edge.
A rule using a function only 3.x knows would fail `promtool check rules` here, not pass unseen.
Alertmanager's side is checked by amtool 0.25.0 (tests/test_alertmanager.py says what that
version cannot read).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from stacks.telemetry.alerts_health import COMPONENTS
from tests.harness import Run
from tests.promtool import assert_rules_hold, check_rules

# A long analysis (every rule proven with promtool on synthetic series): `make test-slow`, which CI runs too.
pytestmark = pytest.mark.slow

GIB = 1024**3
CANARY = {"namespace": "podinfo", "name": "podinfo"}
_PAIR = re.compile(r'(\w+)="([^"]*)"')


def rule_file(run: Run) -> dict[str, Any]:
    return run.release("prometheus").inputs["values"]["serverFiles"]["alerting_rules.yml"]


def rules_named(run: Run, alert: str) -> list[dict[str, Any]]:
    return [r for g in rule_file(run)["groups"] for r in g["rules"] if r["alert"] == alert]


def series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{inner}}}", "values": values}


def seconds(duration: str) -> int:
    number, unit = int(duration[:-1]), duration[-1]
    return number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


@dataclass
class Case:
    """Input series, when to look, and the alerts expected then (label sets, alertname aside)."""

    input_series: list[dict[str, str]]
    eval_time: str
    alerts: list[dict[str, str]] = field(default_factory=list)
    interval: str = "1m"
    evaluation_interval: str = "1m"


def verdict(run: Run, alert: str, case: Case, alone: bool = False) -> None:
    """The alerts named `alert` firing at eval_time are exactly `case.alerts` (by their labels:
    Prometheus's ALERTS series, which the rule manager writes as it evaluates). `alone`: the
    rendered rules of that alert only (for evaluations over years)."""
    samples = []
    for labels in case.alerts:
        inner = ", ".join(
            f'{k}="{v}"' for k, v in {"alertname": alert, "alertstate": "firing", **labels}.items()
        )
        samples.append({"labels": f"ALERTS{{{inner}}}", "value": 1})
    rules = rule_file(run)
    if alone:
        rules = {"groups": [{"name": "alone", "rules": rules_named(run, alert)}]}
    assert_rules_hold(
        rules,
        [
            {
                "interval": case.interval,
                "input_series": case.input_series,
                "promql_expr_test": [
                    {
                        "expr": f'ALERTS{{alertname="{alert}", alertstate="firing"}}',
                        "eval_time": case.eval_time,
                        "exp_samples": samples,
                    }
                ],
            }
        ],
        evaluation_interval=case.evaluation_interval,
    )


def up(selector: str, value: str, **extra: str) -> dict[str, str]:
    return series(
        "up", {**dict(_PAIR.findall(selector)), "instance": "10.0.0.9:9990", **extra}, value
    )


def healthy_targets(minutes: int, but: str | None = None) -> list[dict[str, str]]:
    """Every component's target answering, except the one named `but` (left out)."""
    return [up(c.selector, f"1x{minutes}") for c in COMPONENTS if c.alert != but]


# ---- components: crashing, Pending, gone; silent when up ----


@pytest.mark.parametrize("component", COMPONENTS, ids=[c.alert for c in COMPONENTS])
@pytest.mark.parametrize("how", ["crashing", "pending", "gone", "up"])
def test_each_component_is_alerted_however_it_breaks(
    component: Any, how: str, runs: dict[str, Run]
) -> None:
    others = healthy_targets(20, but=component.alert)
    if how == "crashing":  # the pod has an IP, its container refuses the scrape
        given = [*others, up(component.selector, "0x20")]
    elif how == "pending":  # no pod IP: no target, while the job's other pods answer
        given = others
    elif how == "gone":  # nothing at all is scraped
        given = []
    else:
        given = [*others, up(component.selector, "1x20")]
    fires = how != "up"
    expected = [{"severity": "critical", "namespace": component.namespace}] if fires else []
    verdict(runs["prod"], component.alert, Case(given, "10m", expected))


def test_a_component_with_one_answering_replica_of_three_is_up(runs: dict[str, Run]) -> None:
    identity = COMPONENTS[0]
    given = [
        up(identity.selector, "0x20", instance="10.0.0.1:9990"),
        up(identity.selector, "1x20", instance="10.0.0.2:9990"),
    ]
    verdict(runs["prod"], identity.alert, Case(given, "10m", []))


# ---- the watchers ----

FIXED_CASES: dict[str, tuple[Callable[[], Case], Callable[[], Case]]] = {
    "PrometheusTargetsDown": (
        lambda: Case(
            [
                series(
                    "up", {"job": "linkerd-proxy", "namespace": "podinfo", "instance": "p"}, "0x20"
                )
            ],
            "15m",
            [
                {
                    "severity": "warning",
                    "job": "linkerd-proxy",
                    "namespace": "podinfo",
                    "instance": "p",
                }
            ],
        ),
        # A component's own target down is its component alert's, not this one's.
        lambda: Case([up(COMPONENTS[0].selector, "0x20")], "15m"),
    ),
    "PrometheusConfigReloadFailed": (
        lambda: Case(
            [series("prometheus_config_last_reload_successful", {"job": "prometheus"}, "0x20")],
            "15m",
            [{"severity": "critical", "job": "prometheus"}],
        ),
        lambda: Case(
            [series("prometheus_config_last_reload_successful", {"job": "prometheus"}, "1x20")],
            "15m",
        ),
    ),
    "PrometheusRuleEvaluationFailures": (
        lambda: Case(
            [series("prometheus_rule_evaluation_failures_total", {"rule_group": "g"}, "0+1x30")],
            "20m",
            [{"severity": "critical", "rule_group": "g"}],
        ),
        lambda: Case(
            [series("prometheus_rule_evaluation_failures_total", {"rule_group": "g"}, "0x30")],
            "20m",
        ),
    ),
    "AlertmanagerNotificationsFailing": (
        # The dead man's switch or the receiver failing at every attempt.
        lambda: Case(
            [series("alertmanager_notifications_failed_total", {"integration": "slack"}, "0+1x40")],
            "25m",
            [{"severity": "critical", "integration": "slack"}],
        ),
        # One failure, then deliveries succeed again: not an outage.
        lambda: Case(
            [
                series(
                    "alertmanager_notifications_failed_total", {"integration": "slack"}, "0x10 1x40"
                )
            ],
            "30m",
        ),
    ),
    "PrometheusNotificationsDropped": (
        lambda: Case(
            [series("prometheus_notifications_dropped_total", {"job": "prometheus"}, "0+5x30")],
            "20m",
            [{"severity": "critical", "job": "prometheus"}],
        ),
        lambda: Case(
            [series("prometheus_notifications_dropped_total", {"job": "prometheus"}, "0x30")],
            "20m",
        ),
    ),
    "PrometheusNoAlertmanager": (
        lambda: Case(
            [
                series(
                    "prometheus_notifications_alertmanagers_discovered",
                    {"job": "prometheus"},
                    "0x20",
                )
            ],
            "10m",
            [{"severity": "critical", "job": "prometheus"}],
        ),
        lambda: Case(
            [
                series(
                    "prometheus_notifications_alertmanagers_discovered",
                    {"job": "prometheus"},
                    "1x20",
                )
            ],
            "10m",
        ),
    ),
    # ---- certificates ----
    "LinkerdIdentityIssuerExpiring": (
        lambda: Case(
            [series("issuer_cert_ttl_seconds", {"component": "identity"}, "3600x30")],
            "20m",
            [{"severity": "critical", "component": "identity"}],
        ),
        lambda: Case(
            [series("issuer_cert_ttl_seconds", {"component": "identity"}, "90000x30")], "20m"
        ),
    ),
    "CertificateNotReady": (
        lambda: Case(
            [
                series(
                    "certmanager_certificate_ready_status", {"condition": "True", **CANARY}, "0x30"
                )
            ],
            "20m",
            [{"severity": "warning", "condition": "True", **CANARY}],
        ),
        lambda: Case(
            [
                series(
                    "certmanager_certificate_ready_status", {"condition": "True", **CANARY}, "1x30"
                )
            ],
            "20m",
        ),
    ),
    # The webhook CA: Ready until it expires, its renewal time long past (time() is 2 h here).
    "CertificateRenewalOverdue": (
        lambda: Case(
            [
                series(
                    "certmanager_certificate_renewal_timestamp_seconds",
                    {"namespace": "linkerd", "name": "webhook-ca"},
                    "0x150",
                )
            ],
            "2h",
            [{"severity": "critical", "namespace": "linkerd", "name": "webhook-ca"}],
        ),
        lambda: Case(
            [
                series(
                    "certmanager_certificate_renewal_timestamp_seconds",
                    {"namespace": "linkerd", "name": "webhook-ca"},
                    "1000000000x150",
                )
            ],
            "2h",
        ),
    ),
    "WebhookCertificateExpiring": (
        lambda: Case(
            [
                series(
                    "certmanager_certificate_expiration_timestamp_seconds",
                    {"namespace": "linkerd", "name": "injector", "issuer_name": "webhook-issuer"},
                    "86400x120",
                )
            ],
            "90m",
            [
                {
                    "severity": "critical",
                    "namespace": "linkerd",
                    "name": "injector",
                    "issuer_name": "webhook-issuer",
                }
            ],
        ),
        # The identity issuer expires within a day by design: not a webhook certificate.
        lambda: Case(
            [
                series(
                    "certmanager_certificate_expiration_timestamp_seconds",
                    {
                        "namespace": "linkerd",
                        "name": "linkerd-identity-issuer",
                        "issuer_name": "linkerd-trust-anchor-g1",
                    },
                    "86400x120",
                )
            ],
            "90m",
        ),
    ),
    # Proxies that stopped renewing: the earliest certificate is 1 h from expiry.
    "ProxyCertificatesNotRenewed": (
        lambda: Case(
            [
                series("identity_cert_expiration_timestamp_seconds", {"pod": "a"}, "72000+60x60"),
                series("identity_cert_expiration_timestamp_seconds", {"pod": "b"}, "3600x60"),
            ],
            "30m",
            [{"severity": "critical"}],
        ),
        # Healthy proxies renew at 70% of 24 h: never under 7.2 h left.
        lambda: Case(
            [series("identity_cert_expiration_timestamp_seconds", {"pod": "a"}, "26000+60x60")],
            "30m",
        ),
    ),
    # ---- delivery ----
    "CanaryFailed": (
        lambda: Case(
            [series("flagger_canary_status", CANARY, "0x30 2x30")],
            "35m",
            [{"severity": "warning", **CANARY}],
        ),
        # Failed for hours already: the transition was alerted then, not again.
        lambda: Case([series("flagger_canary_status", CANARY, "0x10 2x120")], "2h"),
    ),
}


@pytest.mark.parametrize("alert", sorted(FIXED_CASES))
@pytest.mark.parametrize("outcome", ["fires", "silent"])
def test_each_rule_fires_and_stays_silent(alert: str, outcome: str, runs: dict[str, Run]) -> None:
    firing, silent = FIXED_CASES[alert]
    case = firing() if outcome == "fires" else silent()
    assert case.alerts if outcome == "fires" else not case.alerts
    verdict(runs["prod"], alert, case)


def test_the_heartbeat_always_fires(runs: dict[str, Run]) -> None:
    # Its silence is the signal, seen outside: by the dead man's switch.
    for given in ([], healthy_targets(10)):
        verdict(runs["prod"], "Heartbeat", Case(given, "5m", [{"severity": "none"}]))


def test_the_trust_anchor_alert_fires_60_days_ahead(runs: dict[str, Run]) -> None:
    (anchor,) = rules_named(runs["prod"], "TrustAnchorExpiring")
    expiry = datetime.fromisoformat(runs["prod"].outputs["trustAnchorExpiry"])
    assert f"vector({int(expiry.timestamp())} - time())" in anchor["expr"]
    days = int(expiry.timestamp()) // 86400
    labels = {"severity": "critical", "generation": "1"}
    # One evaluation a day from 1970: no series needed, the rule holds the expiry itself.
    daily = {"interval": "1d", "evaluation_interval": "1d"}
    late, early = Case([], f"{days - 30}d", [labels], **daily), Case([], f"{days - 90}d", **daily)
    verdict(runs["prod"], "TrustAnchorExpiring", late, alone=True)
    verdict(runs["prod"], "TrustAnchorExpiring", early, alone=True)


def canary_rule(run: Run, alert: str, phase: str) -> dict[str, Any]:
    (found,) = [
        r
        for r in rules_named(run, alert)
        if phase in r["expr"] or r["labels"].get("phase") == phase
    ]
    return found


@pytest.mark.parametrize(
    "phase", ["Progressing", "Initializing", "Promoting", "Finalising", "Terminating"]
)
def test_a_release_stuck_in_any_active_phase_is_alerted(phase: str, runs: dict[str, Run]) -> None:
    run = runs["prod"]
    wait = seconds(canary_rule(run, "CanaryStuck", phase)["for"]) // 60
    minutes = wait + 20
    if phase == "Progressing":  # Flagger's own status metric: 0 while progressing
        stuck = [series("flagger_canary_status", CANARY, f"0x{minutes}")]
        done = [series("flagger_canary_status", CANARY, f"0x{wait // 2} 1x{minutes}")]
        labels = {"severity": "warning", "phase": phase, **CANARY}
    else:  # kube-state-metrics' phase StateSet
        stuck = [series("kube_flagger_canary_phase", {**CANARY, "phase": phase}, f"1x{minutes}")]
        done = [
            series(
                "kube_flagger_canary_phase",
                {**CANARY, "phase": phase},
                f"1x{wait // 2} 0x{minutes}",
            )
        ]
        labels = {"severity": "warning", "phase": phase, **CANARY}
    verdict(run, "CanaryStuck", Case(stuck, f"{wait + 10}m", [labels]))
    verdict(run, "CanaryStuck", Case(done, f"{wait + 10}m", []))


@pytest.mark.parametrize("phase", ["Waiting", "WaitingPromotion"])
def test_a_gate_left_waiting_for_a_day_is_alerted(phase: str, runs: dict[str, Run]) -> None:
    gate = [series("kube_flagger_canary_phase", {**CANARY, "phase": phase}, "1x320")]
    opened = [series("kube_flagger_canary_phase", {**CANARY, "phase": phase}, "1x120 0x200")]
    labels = {"severity": "warning", "phase": phase, **CANARY}
    slow = {"interval": "5m", "evaluation_interval": "5m"}  # a day and more, 5 min apart
    verdict(runs["prod"], "CanaryGateWaiting", Case(gate, "25h", [labels], **slow))
    verdict(runs["prod"], "CanaryGateWaiting", Case(opened, "25h", [], **slow))


# ---- Prometheus's disk ----

VOLUME = {"namespace": "monitoring", "persistentvolumeclaim": "prometheus-server"}


def volume(available: str, minutes: int) -> list[dict[str, str]]:
    return [
        series("kubelet_volume_stats_capacity_bytes", VOLUME, f"{50 * GIB}x{minutes}"),
        series("kubelet_volume_stats_available_bytes", VOLUME, available),
    ]


def test_a_filling_disk_is_predicted(runs: dict[str, Run]) -> None:
    # 30 GiB free, 100 MiB written a minute: full in about 5 days, 4 days ahead it is negative.
    filling = volume(f"{30 * GIB}-{100 * 1024**2}x600", 600)
    expected = [{"severity": "warning", **VOLUME}]
    verdict(runs["prod"], "PrometheusDiskFillingUp", Case(filling, "8h", expected))
    steady = volume(f"{30 * GIB}x600", 600)
    verdict(runs["prod"], "PrometheusDiskFillingUp", Case(steady, "8h", []))


# prod: 15d retention on 50 GiB, retentionSize 80% (40 GiB): at the limit Prometheus writes
# 40 GiB / 15 d, and deletes its oldest 18 h block (prometheus v3.14.0 block ranges, 15d / 10
# caps them at 36 h: 2 h, 6 h, 18 h) each time the data passes retentionSize.
WRITTEN_PER_DAY = 40 * GIB / 15
BLOCK_HOURS = 18
STEP_MINUTES = 5


def sawtooth(days: int) -> str:
    """Free space at retentionSize: 10 GiB (20% of the volume) plus one block's worth just after
    a block went, falling at the write rate until the next one goes (promtool's `a-bxn`)."""
    steps = BLOCK_HOURS * 60 // STEP_MINUTES
    fall = round(WRITTEN_PER_DAY * STEP_MINUTES / 1440)
    top = 10 * GIB + fall * steps
    cycles = days * 24 // BLOCK_HOURS + 1
    return " ".join(f"{top}-{fall}x{steps - 1}" for _ in range(cycles))


def disk_case(available: str, days: int, eval_hours: list[int]) -> dict[str, Any]:
    minutes = days * 1440 // STEP_MINUTES
    return {
        "interval": f"{STEP_MINUTES}m",
        "input_series": [
            series("kubelet_volume_stats_capacity_bytes", VOLUME, f"{50 * GIB}x{minutes}"),
            series("kubelet_volume_stats_available_bytes", VOLUME, available),
        ],
        "promql_expr_test": [
            {
                "expr": 'ALERTS{alertname="PrometheusDiskFillingUp", alertstate="firing"}',
                "eval_time": f"{hours}h",
                "exp_samples": [],
            }
            for hours in eval_hours
        ],
    }


def test_the_sawtooth_of_a_disk_at_its_retention_size_is_no_alarm(runs: dict[str, Run]) -> None:
    """Each hour over a whole block's cycle, once two days of the sawtooth are in the window:
    with a 6 h window the falling edge alone predicts a full disk every cycle."""
    rules = {
        "groups": [{"name": "disk", "rules": rules_named(runs["prod"], "PrometheusDiskFillingUp")}]
    }
    assert_rules_hold(
        rules,
        [disk_case(sawtooth(4), 4, list(range(50, 50 + BLOCK_HOURS + 1)))],
        evaluation_interval=f"{STEP_MINUTES}m",
    )


def test_a_disk_that_really_fills_over_days_is_alerted(runs: dict[str, Run]) -> None:
    """Retention not keeping up: 36 GiB free, 6 GiB more used every day, no block deleted."""
    per_step = round(6 * GIB * STEP_MINUTES / 1440)
    filling = f"{36 * GIB}-{per_step}x{4 * 1440 // STEP_MINUTES}"
    case = disk_case(filling, 4, [72])
    case["promql_expr_test"][0]["exp_samples"] = [
        {
            "labels": _alert_labels("PrometheusDiskFillingUp", severity="warning", **VOLUME),
            "value": 1,
        }
    ]
    rules = {
        "groups": [{"name": "disk", "rules": rules_named(runs["prod"], "PrometheusDiskFillingUp")}]
    }
    assert_rules_hold(rules, [case], evaluation_interval=f"{STEP_MINUTES}m")


@pytest.mark.parametrize(
    ("retention", "window"), [("15d", "48h"), ("7d", "48h"), ("30d", "108h"), ("1y", "972h")]
)
def test_the_disk_trend_spans_two_of_the_largest_blocks(retention: str, window: str) -> None:
    """30d retention compacts blocks up to 54 h (a tenth is 72 h): a 2-day window would again
    see one falling edge."""
    from stacks.telemetry.alerts_health import disk_rules

    (filling,) = [
        r
        for r in disk_rules("prometheus-server", 50 * GIB, retention, "docs/runbook.md")
        if r["alert"] == "PrometheusDiskFillingUp"
    ]
    assert f"[{window}]" in filling["expr"]


def _alert_labels(alert: str, **labels: str) -> str:
    inner = ", ".join(
        f'{k}="{v}"' for k, v in {"alertname": alert, "alertstate": "firing", **labels}.items()
    )
    return f"ALERTS{{{inner}}}"


def test_an_almost_full_disk_is_alerted(runs: dict[str, Run]) -> None:
    expected = [{"severity": "critical", **VOLUME}]
    verdict(
        runs["prod"], "PrometheusDiskAlmostFull", Case(volume(f"{4 * GIB}x30", 30), "20m", expected)
    )
    verdict(runs["prod"], "PrometheusDiskAlmostFull", Case(volume(f"{40 * GIB}x30", 30), "20m", []))


def test_missing_volume_stats_are_alerted(runs: dict[str, Run]) -> None:
    expected = [{"severity": "warning", **VOLUME}]
    verdict(runs["prod"], "PrometheusVolumeStatsMissing", Case([], "40m", expected))
    verdict(
        runs["prod"], "PrometheusVolumeStatsMissing", Case(volume(f"{40 * GIB}x60", 60), "40m", [])
    )


@pytest.mark.parametrize(("stack", "size_gib"), [("prod", 50), ("dev", 20), ("local", 20)])
def test_data_outgrowing_retention_is_alerted_in_every_stack(
    stack: str, size_gib: int, runs: dict[str, Run]
) -> None:
    def storage(blocks: float, wal: float, chunks: float) -> list[dict[str, str]]:
        job = {"job": "prometheus", "instance": "localhost:9090"}
        return [
            series("prometheus_tsdb_storage_blocks_bytes", job, f"{int(blocks * GIB)}x60"),
            series("prometheus_tsdb_wal_storage_size_bytes", job, f"{int(wal * GIB)}x60"),
            series(
                "prometheus_tsdb_head_chunks_storage_size_bytes", job, f"{int(chunks * GIB)}x60"
            ),
        ]

    # Blocks at retentionSize (80%), the head 12% more: 92% of the volume or emptyDir.
    over = storage(0.8 * size_gib, 0.08 * size_gib, 0.04 * size_gib)
    expected = [{"severity": "critical", "job": "prometheus", "instance": "localhost:9090"}]
    verdict(runs[stack], "PrometheusStorageOverRetention", Case(over, "45m", expected))
    within = storage(0.7 * size_gib, 0.05 * size_gib, 0.02 * size_gib)
    verdict(runs[stack], "PrometheusStorageOverRetention", Case(within, "45m", []))


# ---- every rule covered, every file valid ----

COVERED = {
    *FIXED_CASES,
    *(c.alert for c in COMPONENTS),
    "Heartbeat",
    "TrustAnchorExpiring",
    "CanaryStuck",
    "CanaryGateWaiting",
    "PrometheusDiskFillingUp",
    "PrometheusDiskAlmostFull",
    "PrometheusVolumeStatsMissing",
    "PrometheusStorageOverRetention",
}


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_rendered_rule_file_is_valid_and_every_rule_is_tested(
    stack: str, runs: dict[str, Run]
) -> None:
    rules = rule_file(runs[stack])
    check_rules(rules)
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert names <= COVERED, f"rules without a promtool case: {sorted(names - COVERED)}"
