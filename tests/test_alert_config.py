"""Where alerts go is chosen in every stack: prod is refused without a receiver that reaches a
person and a dead man's switch; dev and local may say `none`, never by default."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from stacks import schema
from stacks.config import ConfigError
from tests.harness import NAME, WEBHOOK_SECRETS, Run, run_program, source


def refusal(stack: str, overrides: dict[str, Any], secrets: dict[str, str] | None = None) -> str:
    run = Run(stack=stack)
    with pytest.raises(ConfigError) as raised:
        run_program(stack, overrides, secrets=secrets, run=run)
    assert run.resources == [], "resources registered despite bad config"
    return str(raised.value)


def line(message: str, key: str) -> str:
    found = [ln for ln in message.splitlines() if f"{NAME}:{key}:" in ln]
    assert found, f"{key} not named in:\n{message}"
    return found[0]


def test_prod_refuses_to_send_alerts_nowhere() -> None:
    message = refusal("prod", {"alertReceiver": "none"})
    assert "got 'none'" in line(message, "alertReceiver")
    assert "when environment is prod: its alerts must reach a person" in message
    assert "slack | msteams | webhook | pagerduty | opsgenie" in message


def test_prod_refuses_a_receiver_without_its_secret_and_no_switch() -> None:
    message = refusal("prod", {"alertReceiverSecret": None, "deadMansSwitchUrl": None})
    assert "the Slack incoming-webhook URL" in line(message, "alertReceiverSecret")
    assert "pulumi config set --secret alertReceiverSecret" in message
    assert "an outside service that pages" in line(message, "deadMansSwitchUrl")
    assert "2 problem(s)" in message, "both problems at once"


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_no_stack_gets_a_silent_default(stack: str) -> None:
    message = refusal(stack, {"alertReceiver": ""})  # Pulumi.yaml's default
    assert "it must be chosen explicitly" in line(message, "alertReceiver")
    assert "or none to send alerts nowhere" in message


def test_an_unknown_receiver_is_refused() -> None:
    message = refusal("dev", {"alertReceiver": "email"})
    assert "got 'email'" in line(message, "alertReceiver")


def test_a_stack_that_alerted_through_flaggers_webhook_is_told_how_to_keep_it() -> None:
    message = refusal(
        "dev", {"alertReceiver": "", "alertProvider": "slack"}, secrets=WEBHOOK_SECRETS
    )
    assert (
        "to keep them there, set alertReceiver slack and alertReceiverSecret to alertWebhookUrl"
        in line(message, "alertReceiver")
    )


def test_secrets_must_be_encrypted_and_are_never_echoed() -> None:
    plain = "https://hooks.slack.com/services/T000/B000/PLAINTOKEN"
    run = Run(stack="dev")
    with pytest.raises(ConfigError) as raised:
        run_program("dev", {"alertReceiver": "slack", "alertReceiverSecret": plain}, run=run)
    assert "got a plain-text value" in line(str(raised.value), "alertReceiverSecret")
    assert "PLAINTOKEN" not in str(raised.value)


@pytest.mark.parametrize(
    ("kind", "bad", "allowed"),
    [
        ("pagerduty", "not-a-routing-key", "routing) key, 32 letters or digits"),
        ("opsgenie", "0f1e2d3c-not-a-guid", "the Opsgenie API key (a GUID)"),
        ("slack", "http://hooks.slack.com/x", "an https:// webhook URL"),
    ],
)
def test_a_malformed_credential_is_refused_without_showing_it(
    kind: str, bad: str, allowed: str
) -> None:
    message = refusal(
        "dev",
        {"alertReceiver": kind},
        secrets={"alertReceiverSecret": bad},
    )
    assert allowed in line(message, "alertReceiverSecret")
    assert bad not in message


def test_a_runbook_address_with_a_section_is_refused() -> None:
    message = refusal("dev", {"runbookUrl": "docs/runbook.md#heartbeat"})
    assert "without a #section" in line(message, "runbookUrl")


@pytest.mark.parametrize(
    ("stack", "url", "warned"),
    [
        ("prod", "docs/runbook.md", True),
        ("prod", "https://git.example.com/platform/-/blob/main/docs/runbook.md", False),
        ("prod", "http://wiki.internal/runbook", False),
        ("dev", "docs/runbook.md", False),
    ],
)
def test_prod_warns_when_its_alerts_would_link_a_runbook_nobody_can_open(
    stack: str, url: str, warned: bool
) -> None:
    """Warned, not refused: the alerts still fire; their link is what would not open."""
    settings = schema.load_source(source(stack, {"runbookUrl": url}, today=date(2026, 9, 1)))
    found = [w for w in settings.warnings if w.startswith("runbookUrl:")]
    assert bool(found) is warned, settings.warnings
    if warned:
        assert "is not an http(s) address" in found[0]
        assert "`pulumi config set runbookUrl https://" in found[0]


@pytest.mark.slow  # several program runs: make test-slow
def test_every_receiver_is_accepted_in_prod() -> None:
    for kind, secret in (
        ("msteams", "https://prod-00.westeurope.logic.azure.com/workflows/x"),
        ("webhook", "https://alerts.example.com/hook"),
        ("pagerduty", "0123456789abcdef0123456789ABCDEF"),
        ("opsgenie", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
    ):
        run = run_program("prod", {"alertReceiver": kind}, secrets={"alertReceiverSecret": secret})
        assert run.release("prometheus"), kind
