"""Telemetry layer, Alertmanager: where the platform's alerts go, and the dead man's switch.

Every field is one Alertmanager v0.34.0 reads (the version the prometheus chart 29.27.0's
alertmanager subchart 1.42.0 runs; config/config.go and notify/<integration>/config.go). Secret
URLs and keys are never written into the configuration: each receiver reads its credential from a
file of the mounted Secret (`api_url_file`, `webhook_url_file`, `url_file`, `routing_key_file`,
`api_key_file`). Teams goes through Workflows (`msteamsv2_configs`): Office 365 connectors,
which `msteams_configs` posts to, are retired.
"""

from __future__ import annotations

from typing import Any

from stacks.telemetry.alerts_health import HEARTBEAT, NOTIFICATIONS_FAILING

SECRET_NAME = "alertmanager-receivers"
RECEIVER_KEY = "receiver"
DEAD_MANS_SWITCH_KEY = "dead-mans-switch"
SECRETS_PATH = "/etc/alertmanager/secrets"
PERSON = "platform"
SWITCH = "dead-mans-switch"
NOWHERE = "nowhere"
# The alert's description and runbook link, for integrations whose default text leaves them out.
_TEXT = (
    "{{ range .Alerts }}{{ .Annotations.description }}\n"
    "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
)
# PagerDuty's incident summary is one line.
_SUMMARY = "{{ .CommonLabels.alertname }}: {{ .CommonAnnotations.description }}"


def alertmanager_values(kind: str, dead_mans_switch: bool) -> dict[str, Any]:
    """The alertmanager subchart's values: the person's receiver (`kind`), the heartbeat's route,
    and the Secret holding their credentials mounted (when there is one)."""
    switch = SWITCH if dead_mans_switch else NOWHERE
    receivers = [{"name": PERSON, **_integration(kind)}] if kind != "none" else []
    if dead_mans_switch:
        receivers.append(
            {
                "name": SWITCH,
                "webhook_configs": [
                    {"url_file": f"{SECRETS_PATH}/{DEAD_MANS_SWITCH_KEY}", "send_resolved": False}
                ],
            }
        )
    if kind == "none" or not dead_mans_switch:
        receivers.append({"name": NOWHERE})  # no integration: alerts stay in Alertmanager's UI
    values: dict[str, Any] = {
        "enabled": True,
        "config": {
            "route": {
                "receiver": PERSON if kind != "none" else NOWHERE,
                "group_by": ["alertname", "namespace"],
                "group_wait": "30s",
                # group_interval stays the subchart's 5m (alertmanager 1.42.0 values.yaml): a
                # failed notification is retried that often (AlertmanagerNotificationsFailing).
                "repeat_interval": "4h",
                "routes": [
                    {
                        # Re-sent once a minute has passed since the last send, checked every
                        # minute: a post every one to two minutes (v0.34.0 dedup_stage.go).
                        "matchers": [f'alertname="{HEARTBEAT}"'],
                        "receiver": switch,
                        "group_wait": "0s",
                        "group_interval": "1m",
                        "repeat_interval": "1m",
                    }
                ],
            },
            "receivers": receivers,
            # A receiver that keeps failing holds the heartbeat back: the switch pages instead.
            "inhibit_rules": [
                {
                    "source_matchers": [f'alertname="{NOTIFICATIONS_FAILING}"'],
                    "target_matchers": [f'alertname="{HEARTBEAT}"'],
                }
            ],
        },
    }
    if kind != "none" or dead_mans_switch:
        values["extraSecretMounts"] = [
            {
                "name": "receivers",
                "mountPath": SECRETS_PATH,
                "secretName": SECRET_NAME,
                "readOnly": True,
            }
        ]
    return values


def _integration(kind: str) -> dict[str, Any]:
    """The person's integration; field names from Alertmanager v0.34.0."""
    credential = f"{SECRETS_PATH}/{RECEIVER_KEY}"
    if kind == "slack":  # config/notifiers.go SlackConfig
        return {
            "slack_configs": [{"api_url_file": credential, "send_resolved": True, "text": _TEXT}]
        }
    if kind == "msteams":  # notify/msteamsv2/config.go MSTeamsV2Config
        return {
            "msteamsv2_configs": [
                {"webhook_url_file": credential, "send_resolved": True, "text": _TEXT}
            ]
        }
    if kind == "webhook":  # notify/webhook/config.go WebhookConfig
        return {"webhook_configs": [{"url_file": credential, "send_resolved": True}]}
    if kind == "pagerduty":  # notify/pagerduty/config.go PagerdutyConfig (Events API v2)
        return {
            "pagerduty_configs": [
                {"routing_key_file": credential, "send_resolved": True, "description": _SUMMARY}
            ]
        }
    if kind == "opsgenie":  # notify/opsgenie/config.go OpsGenieConfig
        return {
            "opsgenie_configs": [
                {"api_key_file": credential, "send_resolved": True, "description": _TEXT}
            ]
        }
    return {}


def secret_data(receiver: Any | None, dead_mans_switch: Any | None) -> dict[str, Any]:
    """The mounted Secret's keys: only those that are set."""
    data = {}
    if receiver is not None:
        data[RECEIVER_KEY] = receiver
    if dead_mans_switch is not None:
        data[DEAD_MANS_SWITCH_KEY] = dead_mans_switch
    return data
