"""Telemetry layer, alerting rules: the platform's own health, as Prometheus rule groups.

Every rule reads a metric the platform scrapes (stacks/telemetry/promql.py checks each one) and
links a section of docs/runbook.md (`runbook_url`). Sources at the pinned versions: Linkerd's
identity controller (issuer_cert_ttl_seconds, pkg/identity/service.go) and proxies
(identity_cert_expiration_timestamp_seconds, linkerd2-proxy v2.366.0 linkerd/identity/src/
metrics.rs), cert-manager v1.21.1 (internal/collectors/certificate_collector.go), Flagger v1.44.0
(pkg/metrics/recorder.go), kube-state-metrics v2.20.0's custom-resource metrics for the Canary's
phase, Alertmanager v0.34.0 (notify/metrics.go), Prometheus's own metrics and `up`. No metric
carries a trust anchor's expiry (Linkerd has a TODO for it, pkg/identity/service.go), so that
rule holds the anchor's own expiry time. Component, watcher and disk rules: stacks/telemetry/alerts_health.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pulumi

from stacks.components.certificates import WEBHOOK_ISSUER
from stacks.telemetry.alerts_health import component_rules, disk_rules, target_rules, watcher_rules
from stacks.telemetry.alerts_rule import rule

# Linkerd's identity issues proxies 24 h certificates (chart values identity.issuer.
# issuanceLifetime) and a proxy renews at 70% of the lifetime (linkerd2-proxy v2.366.0
# linkerd/proxy/identity-client/src/certify.rs, refresh_in): a healthy proxy always has more than
# 7.2 h left, so under 6 h means renewals have failed for over an hour.
PROXY_CERT_MIN_HOURS = 6
# A gate (confirm-rollout, confirm-promotion) left closed this long is forgotten, not deliberate.
GATE_WAITING_HOURS = 24
# The Canary's phases (Flagger v1.44.0 pkg/apis/flagger/v1beta1/status.go) that must end by
# themselves; Progressing has Flagger's own status metric.
FINISHING_PHASES = ("Initializing", "Promoting", "Finalising", "Terminating")
GATE_PHASES = ("Waiting", "WaitingPromotion")
CANARY_PHASES = (
    "Initializing",
    "Initialized",
    "Waiting",
    "Progressing",
    "WaitingPromotion",
    "Promoting",
    "Finalising",
    "Succeeded",
    "Failed",
    "Terminating",
    "Terminated",
)
# kube-state-metrics custom-resource metric of the Canary's status.phase (a StateSet: one series
# per phase, 1 for the current one; pkg/customresourcestate/registry_factory.go, v2.20.0).
CANARY_PHASE_METRIC = "kube_flagger_canary_phase"


@dataclass(frozen=True)
class CanaryWatch:
    """One Canary whose stalls are alerted: Flagger's `name` label is its target's name."""

    namespace: str
    target: str
    stuck_after_seconds: int
    """Progressing longer than this is stuck: its slowest planned outcome plus three runs."""
    finishing_after_seconds: int
    """Initializing, Promoting, Finalising or Terminating longer than this is stuck."""


@dataclass(frozen=True)
class Watched:
    """What the rules watch besides the fixed components."""

    webhook_namespaces: list[str]
    canaries: list[CanaryWatch]
    persistent_volume_claim: str | None
    """Prometheus's volume claim; None when its data is on an emptyDir."""
    storage_bytes: int
    """Size of Prometheus's volume, or of its emptyDir's sizeLimit."""
    retention: str
    """Prometheus's retention time ("15d"): how long its largest blocks are."""


def rules(
    anchor_expiries: dict[int, pulumi.Output[str]], watched: Watched, runbook: str
) -> pulumi.Output[dict[str, Any]]:
    """`serverFiles."alerting_rules.yml"` for the Prometheus chart (anchor times resolve at up)."""
    generations = sorted(anchor_expiries)
    return pulumi.Output.all(*(anchor_expiries[g] for g in generations)).apply(
        lambda expiries: rule_groups(
            dict(zip(generations, expiries, strict=True)), watched, runbook
        )
    )


def rule_groups(expiries: dict[int, str], watched: Watched, runbook: str) -> dict[str, Any]:
    """Every rule group, from plain values (what `rules` renders once the anchors are known)."""
    groups = {
        "platform-watchers": watcher_rules(runbook),
        "platform-components": component_rules(runbook),
        "platform-targets": target_rules(runbook),
        "platform-certificates": _certificate_rules(expiries, watched.webhook_namespaces, runbook),
        "platform-delivery": _delivery_rules(watched.canaries, runbook),
        "platform-storage": disk_rules(
            watched.persistent_volume_claim, watched.storage_bytes, watched.retention, runbook
        ),
    }
    return {"groups": [{"name": name, "rules": found} for name, found in groups.items() if found]}


def _certificate_rules(
    expiries: dict[int, str], webhook_namespaces: list[str], runbook: str
) -> list[dict[str, Any]]:
    webhooks = "|".join(webhook_namespaces)
    found = [
        rule(
            "LinkerdIdentityIssuerExpiring",
            "issuer_cert_ttl_seconds < 24 * 3600",
            "10m",
            "critical",
            "Linkerd's identity issuer expires in {{ $value | humanizeDuration }}: cert-manager "
            "has not renewed it (it renews 25h before expiry). Proxies get no new certificates "
            "once it expires.",
            runbook,
        ),
        rule(
            "CertificateNotReady",
            'certmanager_certificate_ready_status{condition="True"} == 0',
            "15m",
            "warning",
            "cert-manager Certificate {{ $labels.namespace }}/{{ $labels.name }} is not Ready: "
            "`kubectl -n {{ $labels.namespace }} describe certificate {{ $labels.name }}`.",
            runbook,
        ),
        rule(
            "CertificateRenewalOverdue",
            # status.renewalTime moves ahead at every successful renewal; a CA whose renewal fails
            # stays Ready until it expires, so only this catches it (webhook CA included).
            "time() - certmanager_certificate_renewal_timestamp_seconds > 3600",
            "15m",
            "critical",
            "cert-manager should have renewed {{ $labels.namespace }}/{{ $labels.name }} "
            "{{ $value | humanizeDuration }} ago and has not: `kubectl -n {{ $labels.namespace }} "
            "describe certificate {{ $labels.name }}`.",
            runbook,
        ),
        rule(
            "WebhookCertificateExpiring",
            # Only the serving certificates (issuer label, cert-manager v1.21.1
            # internal/collectors/certificate_collector.go): the identity issuer in `linkerd`
            # lives 48 h by design and would keep this firing.
            "certmanager_certificate_expiration_timestamp_seconds"
            f'{{namespace=~"{webhooks}",issuer_name="{WEBHOOK_ISSUER}"}} - time() < 30 * 86400',
            "1h",
            "critical",
            "The serving certificate {{ $labels.namespace }}/{{ $labels.name }} expires in "
            "{{ $value | humanizeDuration }} (it is renewed 90 days ahead): the webhooks refuse "
            "new pods and HTTPRoute changes once it expires.",
            runbook,
        ),
        rule(
            "ProxyCertificatesNotRenewed",
            f"min(identity_cert_expiration_timestamp_seconds) - time() < {PROXY_CERT_MIN_HOURS} "
            "* 3600",
            "10m",
            "critical",
            "The earliest meshed proxy certificate expires in {{ $value | humanizeDuration }}: "
            "proxies have not renewed for over an hour (identity down, issuer or anchor invalid). "
            "Expired proxies refuse mTLS.",
            runbook,
        ),
    ]
    for generation, expiry in expiries.items():
        epoch = int(datetime.fromisoformat(expiry.replace("Z", "+00:00")).timestamp())
        found.append(
            rule(
                "TrustAnchorExpiring",
                f"vector({epoch} - time()) < 60 * 86400",
                "1h",
                "critical",
                f"Linkerd trust anchor generation {generation} expires in "
                "{{ $value | humanizeDuration }}: rotate it before then.",
                runbook,
                {"generation": str(generation)},
            )
        )
    return found


def _delivery_rules(canaries: list[CanaryWatch], runbook: str) -> list[dict[str, Any]]:
    found = [
        rule(
            "CanaryFailed",
            # Only the transition: Flagger keeps the status at 2 until the next release
            # (pkg/metrics/recorder.go SetStatus, called every run), which would notify for days.
            "flagger_canary_status == 2 and on (namespace, name) "
            "changes(flagger_canary_status[15m]) > 0",
            "0s",
            "warning",
            "The release of {{ $labels.namespace }}/{{ $labels.name }} failed and was rolled "
            "back: `canaryctl status -n {{ $labels.namespace }}`. This alert resolves "
            "by itself after 15 minutes; the service stays on its previous version.",
            runbook,
        )
    ]
    for c in canaries:
        where = f'namespace="{c.namespace}", name="{c.target}"'
        found.append(
            rule(
                "CanaryStuck",
                f"flagger_canary_status{{{where}}} == 0",
                f"{c.stuck_after_seconds}s",
                "warning",
                f"The release of {c.namespace}/{c.target} has been progressing longer than its "
                "slowest planned outcome: `canaryctl status "
                f"-n {c.namespace}` says what Flagger waits for.",
                runbook,
                {"phase": "Progressing"},
            )
        )
        for phase in FINISHING_PHASES:
            found.append(
                rule(
                    "CanaryStuck",
                    f'{CANARY_PHASE_METRIC}{{{where}, phase="{phase}"}} == 1',
                    f"{c.finishing_after_seconds}s",
                    "warning",
                    f"The Canary {c.namespace}/{c.target} has been {phase} longer than Flagger "
                    "needs for it: `kubectl -n "
                    f"{c.namespace} describe canary {c.target}`; Flagger's log names the error.",
                    runbook,
                    {"phase": phase},
                )
            )
        found.append(
            rule(
                "CanaryGateWaiting",
                f'{CANARY_PHASE_METRIC}{{{where}, phase=~"{"|".join(GATE_PHASES)}"}} == 1',
                f"{GATE_WAITING_HOURS}h",
                "warning",
                f"The release of {c.namespace}/{c.target} has waited at a gate "
                "({{ $labels.phase }}) for a day: open it or roll back (`canaryctl "
                f"status -n {c.namespace}`).",
                runbook,
            )
        )
    return found
