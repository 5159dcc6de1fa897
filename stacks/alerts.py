"""Telemetry layer, alerting: Prometheus rules on the platform's own health and Alertmanager's routing.

Every rule reads metrics the platform scrapes (tests/metric_catalogue.py checks each one): Linkerd's
identity controller (issuer_cert_ttl_seconds, pkg/identity/service.go:156-169), cert-manager's
certificate metrics (internal/collectors/certificate_collector.go), Flagger's
(pkg/metrics/recorder.go) and Prometheus's own `up`. No metric carries a trust anchor's expiry
(Linkerd has a TODO for it, pkg/identity/service.go:170), so that rule is generated from the
anchor's own expiry time. Alerts go to the stack's Slack or Teams webhook (alertWebhookUrl, read
from a mounted Secret, never written into the Alertmanager config); with none they stay silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pulumi

from stacks.components.certificates import WEBHOOK_ISSUER

DAY = 86400
WEBHOOK_SECRET = "alertmanager-webhook"
WEBHOOK_KEY = "url"
SECRETS_PATH = "/etc/alertmanager/secrets"


@dataclass(frozen=True)
class CanaryWatch:
    """One Canary whose stalls are alerted: Flagger's `name` label is its target's name."""

    namespace: str
    target: str
    stuck_after_seconds: int
    """Progressing longer than this is stuck: its slowest planned outcome plus three runs."""


def rules(
    anchor_expiries: dict[int, pulumi.Output[str]],
    webhook_namespaces: list[str],
    canaries: list[CanaryWatch],
) -> pulumi.Output[dict[str, Any]]:
    """`serverFiles."alerting_rules.yml"` for the Prometheus chart (anchor times resolve at up)."""
    generations = sorted(anchor_expiries)
    return pulumi.Output.all(*(anchor_expiries[g] for g in generations)).apply(
        lambda expiries: {
            "groups": [
                {
                    "name": "platform-certificates",
                    "rules": _certificate_rules(
                        dict(zip(generations, expiries, strict=True)), webhook_namespaces
                    ),
                },
                {"name": "platform-delivery", "rules": _delivery_rules(canaries)},
                {"name": "platform-targets", "rules": _target_rules()},
            ]
        }
    )


def _certificate_rules(
    expiries: dict[int, str], webhook_namespaces: list[str]
) -> list[dict[str, Any]]:
    webhooks = "|".join(webhook_namespaces)
    found = [
        _rule(
            "LinkerdIdentityIssuerExpiring",
            "issuer_cert_ttl_seconds < 24 * 3600",
            "10m",
            "critical",
            "Linkerd's identity issuer expires in {{ $value | humanizeDuration }}: cert-manager "
            "has not renewed it (it renews 25h before expiry). Proxies get no new certificates "
            "once it expires.",
        ),
        _rule(
            "CertificateNotReady",
            'certmanager_certificate_ready_status{condition="True"} == 0',
            "15m",
            "warning",
            "cert-manager Certificate {{ $labels.namespace }}/{{ $labels.name }} is not Ready: "
            "`kubectl -n {{ $labels.namespace }} describe certificate {{ $labels.name }}`.",
        ),
        _rule(
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
        ),
    ]
    for generation, expiry in expiries.items():
        epoch = int(datetime.fromisoformat(expiry.replace("Z", "+00:00")).timestamp())
        found.append(
            _rule(
                "TrustAnchorExpiring",
                f"vector({epoch} - time()) < 60 * 86400",
                "1h",
                "critical",
                f"Linkerd trust anchor generation {generation} expires in "
                "{{ $value | humanizeDuration }}: rotate it (README, Rotate the trust anchor).",
                {"generation": str(generation)},
            )
        )
    return found


def _delivery_rules(canaries: list[CanaryWatch]) -> list[dict[str, Any]]:
    found = [
        _rule(
            "CanaryFailed",
            "flagger_canary_status == 2",
            "1m",
            "warning",
            "The last release of {{ $labels.namespace }}/{{ $labels.name }} failed and was rolled "
            "back: `python -m canaryctl status -n {{ $labels.namespace }}`.",
        )
    ]
    for c in canaries:
        found.append(
            _rule(
                "CanaryStuck",
                f'flagger_canary_status{{namespace="{c.namespace}", name="{c.target}"}} == 0',
                f"{c.stuck_after_seconds}s",
                "warning",
                f"The release of {c.namespace}/{c.target} has been progressing longer than its "
                "slowest planned outcome: `python -m canaryctl status "
                f"-n {c.namespace}` says what Flagger waits for.",
            )
        )
    return found


def _target_rules() -> list[dict[str, Any]]:
    return [
        _rule(
            "LinkerdControlPlaneDown",
            'up{job="linkerd-controller"} == 0 or absent(up{job="linkerd-controller"})',
            "5m",
            "critical",
            "A Linkerd control-plane component is not answering Prometheus: "
            "`kubectl -n linkerd get pods`, `linkerd check`.",
        ),
        _rule(
            "FlaggerDown",
            'absent(up{job="kubernetes-pods", namespace="flagger-system"} == 1)',
            "5m",
            "critical",
            "Flagger is not answering Prometheus: no release is analysed, promoted or rolled "
            "back. `kubectl -n flagger-system get pods`.",
        ),
        _rule(
            "PrometheusTargetsDown",
            'up{job=~"prometheus|linkerd-proxy"} == 0',
            "10m",
            "warning",
            "Prometheus cannot scrape {{ $labels.job }} target {{ $labels.instance }}: canary "
            "analysis and dashboards lose its data.",
        ),
    ]


def _rule(
    alert: str,
    expr: str,
    for_: str,
    severity: str,
    description: str,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, **(labels or {})},
        "annotations": {"description": description},
    }


def alertmanager_values(provider: str, channel: str) -> dict[str, Any]:
    """The alertmanager subchart's values: one receiver that posts where Flagger posts, reading the
    webhook URL from the mounted Secret (Alertmanager's api_url_file / webhook_url_file)."""
    values: dict[str, Any] = {
        "enabled": True,
        "config": {
            "route": {
                "receiver": "platform",
                "group_by": ["alertname", "namespace"],
                "group_wait": "30s",
                "repeat_interval": "4h",
            },
            # Without a webhook the receiver has no target: alerts show in Alertmanager's UI only.
            "receivers": [{"name": "platform", **_receiver(provider, channel)}],
        },
    }
    if provider != "none":
        values["extraSecretMounts"] = [
            {
                "name": "webhook",
                "mountPath": SECRETS_PATH,
                "secretName": WEBHOOK_SECRET,
                "readOnly": True,
            }
        ]
    return values


def _receiver(provider: str, channel: str) -> dict[str, Any]:
    url_file = f"{SECRETS_PATH}/{WEBHOOK_KEY}"
    if provider == "slack":
        return {
            "slack_configs": [
                {"api_url_file": url_file, "channel": f"#{channel}", "send_resolved": True}
            ]
        }
    if provider == "msteams":
        return {"msteams_configs": [{"webhook_url_file": url_file, "send_resolved": True}]}
    return {}
