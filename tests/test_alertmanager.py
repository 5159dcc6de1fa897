"""Alertmanager: prod reaches a person, every stack says where alerts go, credentials stay in a
Secret, the heartbeat reaches the dead man's switch, and the rendered configuration is one
Alertmanager accepts.

The configuration checked is the one the prometheus chart 29.27.0 writes (its alertmanager
subchart merges our values into its defaults), rendered by Helm's engine. Two checks apply:
- the field names of Alertmanager v0.34.0, the version that chart runs (subchart appVersion),
  copied below from its source with file and tag;
- `amtool check-config` (Debian's prometheus-alertmanager package, `.ci/run` installs it). That
  amtool is Alertmanager 0.25.0, older than the chart's: it has no `msteamsv2_configs` (added in
  0.28.0) and no webhook `url_file` (0.26.0). Before amtool reads the file, exactly those two are
  rewritten to their 0.25 form (a webhook `url`); the rest (routing tree, matchers, inhibition,
  Slack, PagerDuty and Opsgenie fields, templates) is checked as written. The two rewritten
  fields are checked against v0.34.0's field list only.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.telemetry.alertmanager import (
    DEAD_MANS_SWITCH_KEY,
    RECEIVER_KEY,
    SECRET_NAME,
    SECRETS_PATH,
)
from tests.harness import NAME, RECEIVER_SECRETS, Run, run_program
from tests.helm_render import declared_releases, kube_version, render

# A long analysis (Alertmanager's config checked with amtool, per receiver): `make test-slow`, which CI runs too.
pytestmark = pytest.mark.slow

# Alertmanager v0.34.0: the yaml keys of each integration we render (config/notifiers.go
# SlackConfig; notify/msteamsv2/config.go; notify/webhook/config.go; notify/pagerduty/config.go;
# notify/opsgenie/config.go) plus NotifierConfig's send_resolved (config/common/notifierconfig.go).
_NOTIFIER = {"send_resolved", "http_config"}
V034_FIELDS: dict[str, set[str]] = {
    "slack_configs": _NOTIFIER
    | set(
        [
            "api_url",
            "api_url_file",
            "app_token",
            "app_token_file",
            "app_url",
            "channel",
            "username",
            "color",
            "title",
            "title_link",
            "pretext",
            "text",
            "message_text",
            "fields",
            "short_fields",
            "footer",
            "fallback",
            "callback_id",
            "icon_emoji",
            "icon_url",
            "image_url",
            "thumb_url",
            "link_names",
            "mrkdwn_in",
            "actions",
            "update_message",
            "timeout",
        ]
    ),
    "msteamsv2_configs": _NOTIFIER | {"webhook_url", "webhook_url_file", "title", "text"},
    "webhook_configs": _NOTIFIER | {"url", "url_file", "max_alerts", "timeout", "payload"},
    "pagerduty_configs": _NOTIFIER
    | set(
        [
            "service_key",
            "service_key_file",
            "routing_key",
            "routing_key_file",
            "url",
            "client",
            "client_url",
            "description",
            "details",
            "images",
            "links",
            "source",
            "severity",
            "class",
            "component",
            "group",
            "timeout",
        ]
    ),
    "opsgenie_configs": _NOTIFIER
    | set(
        [
            "api_key",
            "api_key_file",
            "api_url",
            "message",
            "description",
            "source",
            "details",
            "entity",
            "responders",
            "actions",
            "tags",
            "note",
            "priority",
            "update_alerts",
        ]
    ),
}
# Where each integration may read its credential from a file (the inline field would put the
# secret into the ConfigMap).
CREDENTIAL_FILE = {
    "slack_configs": "api_url_file",
    "msteamsv2_configs": "webhook_url_file",
    "webhook_configs": "url_file",
    "pagerduty_configs": "routing_key_file",
    "opsgenie_configs": "api_key_file",
}
# config/config.go Config, Route, Receiver; config/common/inhibitrule.go InhibitRule (v0.34.0).
TOP_LEVEL = {
    "global",
    "route",
    "inhibit_rules",
    "receivers",
    "templates",
    "mute_time_intervals",
    "time_intervals",
    "tracing",
    "event_recorder",
}
ROUTE = set(
    [
        "receiver",
        "group_by",
        "match",
        "match_re",
        "matchers",
        "mute_time_intervals",
        "active_time_intervals",
        "continue",
        "routes",
        "group_wait",
        "group_interval",
        "repeat_interval",
        "labels",
    ]
)
INHIBIT = set(
    [
        "name",
        "source_match",
        "source_match_re",
        "source_matchers",
        "target_match",
        "target_match_re",
        "target_matchers",
        "equal",
    ]
)
KINDS = {
    "slack": ("slack_configs", RECEIVER_SECRETS["alertReceiverSecret"]),
    "msteams": ("msteamsv2_configs", "https://prod-00.westeurope.logic.azure.com/workflows/x"),
    "webhook": ("webhook_configs", "https://alerts.example.com/hook?token=SECRET"),
    "pagerduty": ("pagerduty_configs", "0123456789abcdef0123456789ABCDEF"),
    "opsgenie": ("opsgenie_configs", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
}


def dev_with(kind: str) -> Run:
    secret = KINDS[kind][1]
    return run_program(
        "dev",
        {"alertReceiver": kind},
        secrets={"alertReceiverSecret": secret, "deadMansSwitchUrl": "https://hc.example.com/p"},
    )


def rendered_config(run: Run) -> dict[str, Any]:
    """alertmanager.yml as the chart writes it into the alertmanager ConfigMap."""
    (release,) = [r for r in declared_releases(run) if r.name == "prometheus"]
    objects = render(release, kube_version(run.stack)).objects
    (config_map,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "prometheus-alertmanager"
    ]
    return yaml.safe_load(config_map["data"]["alertmanager.yml"])


@pytest.fixture(scope="module")
def by_kind() -> dict[str, tuple[Run, dict[str, Any]]]:
    runs = {kind: dev_with(kind) for kind in KINDS}
    return {kind: (run, rendered_config(run)) for kind, run in runs.items()}


def receiver(config: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in config["receivers"] if r["name"] == name]
    return found


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_receiver_reads_its_credential_from_the_mounted_secret(
    kind: str, by_kind: dict[str, tuple[Run, dict[str, Any]]]
) -> None:
    run, config = by_kind[kind]
    integration, secret = KINDS[kind]
    assert config["route"]["receiver"] == "platform"
    (entry,) = receiver(config, "platform")[integration]
    assert entry[CREDENTIAL_FILE[integration]] == f"{SECRETS_PATH}/{RECEIVER_KEY}", kind
    assert entry["send_resolved"] is True
    assert set(entry) <= V034_FIELDS[integration], f"{kind}: not Alertmanager 0.34 fields"
    values = run.release("prometheus").inputs["values"]
    assert secret not in yaml.safe_dump(values) and secret not in yaml.safe_dump(config)
    (mount,) = values["alertmanager"]["extraSecretMounts"]
    assert (mount["secretName"], mount["mountPath"]) == (SECRET_NAME, SECRETS_PATH)
    (stored,) = [
        r
        for r in run.of_type("kubernetes:core/v1:Secret")
        if r.inputs["metadata"]["name"] == SECRET_NAME
    ]
    assert stored.inputs["metadata"]["namespace"] == "monitoring"
    assert stored.inputs["stringData"][RECEIVER_KEY] == secret
    assert stored.is_secret(f"stringData/{RECEIVER_KEY}"), "the credential must stay secret"
    assert stored.inputs["stringData"][DEAD_MANS_SWITCH_KEY] == "https://hc.example.com/p"
    assert run.waits_for(run.release("prometheus"), stored), "Alertmanager would start without it"


def test_teams_goes_through_workflows(by_kind: dict[str, tuple[Run, dict[str, Any]]]) -> None:
    _, config = by_kind["msteams"]
    platform = receiver(config, "platform")
    assert "msteamsv2_configs" in platform and "msteams_configs" not in platform


def test_the_heartbeat_reaches_the_dead_mans_switch_every_minute(
    by_kind: dict[str, tuple[Run, dict[str, Any]]],
) -> None:
    _, config = by_kind["slack"]
    # The subchart's default, which AlertmanagerNotificationsFailing's windows are sized on.
    assert config["route"]["group_interval"] == "5m"
    (heartbeat,) = config["route"]["routes"]
    assert heartbeat["matchers"] == ['alertname="Heartbeat"']
    assert heartbeat["receiver"] == "dead-mans-switch"
    assert heartbeat["repeat_interval"] == heartbeat["group_interval"] == "1m"
    assert not heartbeat.get("continue"), "the heartbeat must not page the person"
    (switch,) = receiver(config, "dead-mans-switch")["webhook_configs"]
    assert switch["url_file"] == f"{SECRETS_PATH}/{DEAD_MANS_SWITCH_KEY}"
    (inhibit,) = config["inhibit_rules"]
    assert inhibit["source_matchers"] == ['alertname="AlertmanagerNotificationsFailing"']
    assert inhibit["target_matchers"] == ['alertname="Heartbeat"']


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_rendered_config_uses_only_alertmanager_fields(
    kind: str, by_kind: dict[str, tuple[Run, dict[str, Any]]]
) -> None:
    _, config = by_kind[kind]
    assert set(config) <= TOP_LEVEL
    routes = [config["route"], *config["route"].get("routes", [])]
    for route in routes:
        assert set(route) <= ROUTE, route
    for rule in config["inhibit_rules"]:
        assert set(rule) <= INHIBIT
    names = {r["name"] for r in config["receivers"]}
    assert {route["receiver"] for route in routes} <= names, "a route names no receiver"
    for r in config["receivers"]:
        for key, entries in r.items():
            if key != "name":
                assert all(set(e) <= V034_FIELDS[key] for e in entries), (kind, key)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_amtool_accepts_the_rendered_config(
    kind: str, by_kind: dict[str, tuple[Run, dict[str, Any]]]
) -> None:
    _, config = by_kind[kind]
    result = amtool_check(config)
    assert result.returncode == 0, f"amtool check-config:\n{result.stdout}"


def test_amtool_refuses_a_broken_config(by_kind: dict[str, tuple[Run, dict[str, Any]]]) -> None:
    _, config = by_kind["slack"]
    broken = copy.deepcopy(config)
    broken["route"]["receiver"] = "nobody"
    assert amtool_check(broken).returncode != 0, "amtool accepted a route to no receiver"


def test_dev_without_a_receiver_keeps_alerts_in_alertmanager(runs: dict[str, Run]) -> None:
    for stack in ("dev", "local"):
        config = runs[stack].release("prometheus").inputs["values"]["alertmanager"]["config"]
        assert config["route"]["receiver"] == "nowhere"
        assert config["receivers"] == [{"name": "nowhere"}], stack
        assert "extraSecretMounts" not in runs[stack].release("prometheus").inputs["values"]


def test_prod_has_a_person_and_a_switch(runs: dict[str, Run]) -> None:
    config = runs["prod"].release("prometheus").inputs["values"]["alertmanager"]["config"]
    assert config["route"]["receiver"] == "platform"
    assert receiver(config, "platform")["slack_configs"]
    assert config["route"]["routes"][0]["receiver"] == "dead-mans-switch"


def amtool_check(config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`amtool check-config` (Alertmanager 0.25.0 from Debian) on `config`, with the two fields
    0.25 predates rewritten to their 0.25 form (see the module docstring)."""
    binary = shutil.which("amtool")
    if binary is None:
        pytest.fail(
            "amtool is not installed: apt-get install -y --no-install-recommends "
            "prometheus-alertmanager (Debian)",
            pytrace=False,
        )
    older = copy.deepcopy(config)
    for r in older["receivers"]:
        hooks = r.pop("webhook_configs", []) + r.pop("msteamsv2_configs", [])
        if hooks:
            r["webhook_configs"] = [
                {"url": "https://placeholder.invalid/", "send_resolved": h["send_resolved"]}
                for h in hooks
            ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "alertmanager.yml"
        path.write_text(yaml.safe_dump(older, sort_keys=False))
        return subprocess.run(
            [binary, "check-config", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
            check=False,
        )


def test_the_secret_key_is_declared(runs: dict[str, Run]) -> None:
    # Pulumi.yaml declares the keys the user sets with --secret (untyped: see its comment).
    from tests.harness import PROJECT

    for key in ("alertReceiver", "alertReceiverSecret", "deadMansSwitchUrl", "runbookUrl"):
        assert key in PROJECT["config"], key
        assert "secret" not in PROJECT["config"][key], f"{NAME}:{key} would be required"
