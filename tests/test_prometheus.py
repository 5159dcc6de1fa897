"""Prometheus: sized for the mesh, keeping exactly the proxy metrics a consumer reads, and alerting
on the platform's own health with rules that read real metrics."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from stacks.manifests import MANIFESTS
from stacks.telemetry import prometheus_memory_mib
from tests.harness import WEBHOOK_SECRETS, Run, run_program
from tests.metric_catalogue import problems
from tests.metric_usage import dashboard_queries, provisioned_dashboards, proxy_metrics_used

TEMPLATE = "kubernetes:flagger.app/v1beta1:MetricTemplate"


def prometheus(run: Run) -> dict:
    return run.release("prometheus").inputs["values"]


def alert_rules(run: Run) -> list[dict]:
    groups = prometheus(run)["serverFiles"]["alerting_rules.yml"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_memory_follows_the_meshed_pods_the_stack_expects(runs: dict[str, Run]) -> None:
    for stack, pods in (("dev", 50), ("prod", 200)):
        resources = prometheus(runs[stack])["server"]["resources"]
        request = 512 + 4 * pods  # MiB: README "Prometheus sizing"
        assert resources["requests"]["memory"] == f"{request}Mi", stack
        assert resources["limits"]["memory"] == f"{2 * request}Mi", stack
    assert prometheus_memory_mib(1000) == 4512
    grown = prometheus(run_program("dev", {"meshedPods": 400}))["server"]["resources"]
    assert grown["requests"]["memory"] == "2112Mi"


def test_the_proxy_keeps_exactly_what_consumers_read(runs: dict[str, Run]) -> None:
    run = runs["prod"]
    queries = [q for board in provisioned_dashboards() for q in dashboard_queries(board)]
    queries += [t.inputs["spec"]["query"] for t in run.of_type(TEMPLATE)]
    queries += [rule["expr"] for rule in alert_rules(run)]
    kept = yaml.safe_load((MANIFESTS / "telemetry" / "proxy-metrics.yaml").read_text())
    assert sorted(kept) == sorted(proxy_metrics_used(queries))
    (keep,) = prometheus(run)["scrapeConfigs"]["linkerd-proxy"]["metric_relabel_configs"]
    assert keep["action"] == "keep" and keep["source_labels"] == ["__name__"]
    assert set(keep["regex"].strip("()").split("|")) == set(kept)
    assert "response_total" in kept and "response_latency_ms_bucket" in kept, "the analysis"


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_alert_rule_reads_real_metrics_and_labels(stack: str, runs: dict[str, Run]) -> None:
    for rule in alert_rules(runs[stack]):
        assert problems(rule["expr"]) == [], f"{rule['alert']}: {rule['expr']}"


def test_the_platform_alerts_on_what_breaks_it(runs: dict[str, Run]) -> None:
    rules = {rule["alert"]: rule for rule in alert_rules(runs["prod"])}
    assert set(rules) >= {
        "LinkerdIdentityIssuerExpiring",
        "CertificateNotReady",
        "TrustAnchorExpiring",
        "WebhookCertificateExpiring",
        "CanaryFailed",
        "CanaryStuck",
        "LinkerdControlPlaneDown",
        "FlaggerDown",
        "PrometheusTargetsDown",
    }
    assert rules["LinkerdIdentityIssuerExpiring"]["expr"] == "issuer_cert_ttl_seconds < 24 * 3600"
    assert rules["CertificateNotReady"]["for"] == "15m"
    assert "< 30 * 86400" in rules["WebhookCertificateExpiring"]["expr"]
    assert 'namespace=~"linkerd|linkerd-viz"' in rules["WebhookCertificateExpiring"]["expr"]
    # The identity issuer (linkerd, 48 h by design) must not match: only webhook certificates.
    assert 'issuer_name="webhook-issuer"' in rules["WebhookCertificateExpiring"]["expr"]
    # No metric carries the anchor's expiry: the rule holds the anchor's own expiry time.
    anchor = rules["TrustAnchorExpiring"]
    expiry = dt.datetime.fromisoformat(runs["prod"].outputs["trustAnchorExpiry"])
    assert anchor["expr"] == f"vector({int(expiry.timestamp())} - time()) < 60 * 86400"
    assert anchor["labels"]["generation"] == "1"


def test_a_rotation_alerts_on_both_anchors() -> None:
    run = run_program("dev", {"trustAnchorGenerations": [1, 2]})
    anchors = [r for r in alert_rules(run) if r["alert"] == "TrustAnchorExpiring"]
    assert sorted(r["labels"]["generation"] for r in anchors) == ["1", "2"]


def test_alerts_go_to_the_stacks_webhook_through_a_mounted_secret() -> None:
    run = run_program(
        "dev", {"alertProvider": "slack", "alertChannel": "ops"}, secrets=WEBHOOK_SECRETS
    )
    alertmanager = prometheus(run)["alertmanager"]
    (receiver,) = alertmanager["config"]["receivers"]
    assert receiver["slack_configs"] == [
        {"api_url_file": "/etc/alertmanager/secrets/url", "channel": "#ops", "send_resolved": True}
    ]
    (mount,) = alertmanager["extraSecretMounts"]
    assert (mount["secretName"], mount["mountPath"]) == (
        "alertmanager-webhook",
        "/etc/alertmanager/secrets",
    )
    assert "hooks.slack.com" not in str(alertmanager), "the URL belongs in the Secret only"
    teams = prometheus(run_program("dev", {"alertProvider": "msteams"}, secrets=WEBHOOK_SECRETS))[
        "alertmanager"
    ]["config"]["receivers"][0]
    assert teams["msteams_configs"][0]["webhook_url_file"] == "/etc/alertmanager/secrets/url"


def test_without_a_webhook_alerts_are_silent_but_kept(runs: dict[str, Run]) -> None:
    alertmanager = prometheus(runs["dev"])["alertmanager"]
    assert alertmanager["enabled"] is True
    assert alertmanager["config"]["receivers"] == [{"name": "platform"}]
    assert "extraSecretMounts" not in alertmanager
