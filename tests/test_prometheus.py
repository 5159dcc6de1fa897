"""Prometheus: sized for the mesh, keeping exactly the proxy metrics a consumer reads, and alerting
on the platform's own health with rules that read real metrics."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from stacks.manifests import MANIFESTS
from stacks.telemetry.layer import prometheus_memory_mib
from stacks.telemetry.promql import problems
from tests.harness import Run, run_program
from tests.metric_usage import (
    dashboard_queries,
    metric_names,
    provisioned_dashboards,
    proxy_metrics_used,
)

TEMPLATE = "kubernetes:flagger.app/v1beta1:MetricTemplate"


def prometheus(run: Run) -> dict:
    return run.release("prometheus").inputs["values"]


def alert_rules(run: Run) -> list[dict]:
    groups = prometheus(run)["serverFiles"]["alerting_rules.yml"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_memory_follows_the_meshed_pods_the_stack_expects(runs: dict[str, Run]) -> None:
    for stack, pods in (("dev", 50), ("prod", 200)):
        resources = prometheus(runs[stack])["server"]["resources"]
        request = 512 + 4 * pods  # MiB: docs/architecture.md "Prometheus sizing"
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


@pytest.mark.parametrize(
    ("job", "family"),
    [
        ("kubernetes-nodes-cadvisor", ("container_", "machine_")),
        ("kubernetes-nodes", ("kubelet_",)),
    ],
)
def test_node_jobs_keep_exactly_what_is_queried(
    job: str, family: tuple[str, ...], runs: dict[str, Run]
) -> None:
    run = runs["prod"]
    queries = [q for board in provisioned_dashboards() for q in dashboard_queries(board)]
    queries += [rule["expr"] for rule in alert_rules(run)]
    used = {m for m in metric_names(queries) if m.startswith(family)}
    (keep,) = prometheus(run)["scrapeConfigs"][job]["metric_relabel_configs"]
    assert keep["action"] == "keep" and keep["source_labels"] == ["__name__"]
    assert set(keep["regex"].strip("()").split("|")) == used, job
    assert used, f"{job}: nothing queries it; disable the job instead"


def test_node_job_intervals_fit_their_queries(runs: dict[str, Run]) -> None:
    jobs = prometheus(runs["prod"])["scrapeConfigs"]
    # Linkerd's Kubernetes dashboard rates cAdvisor counters over [1m]: at least 3 samples.
    assert 60 // int(jobs["kubernetes-nodes-cadvisor"]["scrape_interval"].rstrip("s")) >= 3
    # kubelet refreshes volume stats every minute; the disk rule looks 6 h back.
    assert jobs["kubernetes-nodes"]["scrape_interval"] == "1m"


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_alert_rule_reads_real_metrics_and_labels(stack: str, runs: dict[str, Run]) -> None:
    for rule in alert_rules(runs[stack]):
        assert problems(rule["expr"]) == [], f"{rule['alert']}: {rule['expr']}"


def test_the_platform_alerts_on_what_breaks_it(runs: dict[str, Run]) -> None:
    rules = {rule["alert"]: rule for rule in alert_rules(runs["prod"])}
    assert set(rules) >= {
        "Heartbeat",
        "AlertmanagerNotificationsFailing",
        "PrometheusNotificationsDropped",
        "PrometheusNoAlertmanager",
        "LinkerdIdentityDown",
        "LinkerdDestinationDown",
        "LinkerdProxyInjectorDown",
        "LinkerdSPValidatorDown",
        "LinkerdPolicyDown",
        "CertManagerControllerDown",
        "CertManagerWebhookDown",
        "CertManagerCAInjectorDown",
        "FlaggerDown",
        "AlertmanagerDown",
        "PrometheusTargetsDown",
        "LinkerdIdentityIssuerExpiring",
        "CertificateNotReady",
        "CertificateRenewalOverdue",
        "TrustAnchorExpiring",
        "WebhookCertificateExpiring",
        "ProxyCertificatesNotRenewed",
        "CanaryFailed",
        "CanaryStuck",
        "CanaryGateWaiting",
        "PrometheusDiskFillingUp",
        "PrometheusDiskAlmostFull",
        "PrometheusVolumeStatsMissing",
    }
    assert rules["LinkerdIdentityIssuerExpiring"]["expr"] == "issuer_cert_ttl_seconds < 24 * 3600"
    # The identity issuer (linkerd, 48 h by design) must not match: only webhook certificates.
    webhook = rules["WebhookCertificateExpiring"]["expr"]
    assert 'namespace=~"linkerd|linkerd-viz"' in webhook
    assert 'issuer_name="webhook-issuer"' in webhook
    # No metric carries the anchor's expiry: the rule holds the anchor's own expiry time.
    anchor = rules["TrustAnchorExpiring"]
    expiry = dt.datetime.fromisoformat(runs["prod"].outputs["trustAnchorExpiry"])
    assert anchor["expr"] == f"vector({int(expiry.timestamp())} - time()) < 60 * 86400"
    assert anchor["labels"]["generation"] == "1"


def test_every_alert_links_its_runbook_section(stack_run: Run) -> None:
    for rule in alert_rules(stack_run):
        url = rule["annotations"]["runbook_url"]
        assert url == f"docs/runbook.md#{rule['alert'].lower()}", rule["alert"]
    custom = run_program(
        "dev", {"runbookUrl": "https://git.example.com/p/blob/main/docs/runbook.md"}
    )
    (heartbeat,) = [r for r in alert_rules(custom) if r["alert"] == "Heartbeat"]
    assert heartbeat["annotations"]["runbook_url"].startswith("https://git.example.com/p/blob/")


def test_disk_rules_only_where_there_is_a_volume(runs: dict[str, Run]) -> None:
    for stack, has_volume in (("dev", False), ("local", False), ("prod", True)):
        names = {rule["alert"] for rule in alert_rules(runs[stack])}
        assert ("PrometheusDiskFillingUp" in names) is has_volume, stack


def test_a_rotation_alerts_on_both_anchors() -> None:
    run = run_program("dev", {"trustAnchorGenerations": [1, 2]})
    anchors = [r for r in alert_rules(run) if r["alert"] == "TrustAnchorExpiring"]
    assert sorted(r["labels"]["generation"] for r in anchors) == ["1", "2"]
