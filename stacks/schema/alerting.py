"""Config schema, alerting section: where Alertmanager reaches a person, and who watches it."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import SecretStr, ValidationInfo, field_validator, model_validator

from stacks.schema.base import Section, refuse, setting
from stacks.schema.cli import ENCRYPTED
from stacks.schema.cluster import GUID
from stacks.schema.delivery import https_url
from stacks.schema.problems import Rules

RECEIVERS = ("slack", "msteams", "webhook", "pagerduty", "opsgenie")
# What alertReceiverSecret holds for each receiver (Alertmanager v0.34.0 reads it from a file:
# api_url_file, webhook_url_file, url_file, routing_key_file, api_key_file).
RECEIVER_SECRETS = {
    "slack": "the Slack incoming-webhook URL (https)",
    "msteams": "the Teams Workflows webhook URL (https)",
    "webhook": "the webhook URL (https)",
    "pagerduty": "the PagerDuty Events API v2 integration (routing) key, 32 letters or digits",
    "opsgenie": "the Opsgenie API key (a GUID)",
}
PAGERDUTY_KEY = re.compile(r"^[A-Za-z0-9]{32}$")


def _readable(secret: SecretStr | None) -> str | None:
    """The secret's text, or None when it is unset or only its ciphertext is at hand (canaryctl
    reads stack files without the passphrase: the content is then the CLI's to check)."""
    if secret is None or secret.get_secret_value() == ENCRYPTED:
        return None
    return secret.get_secret_value()


def receiver_secret_problem(kind: str, value: str) -> str | None:
    if kind == "pagerduty":
        return None if PAGERDUTY_KEY.match(value) else RECEIVER_SECRETS[kind]
    if kind == "opsgenie":
        return None if GUID.match(value) else RECEIVER_SECRETS[kind]
    return https_url(value)


def _runbook_url(value: str) -> str | None:
    """A link people can open: a path in the repository, or an http(s) address; no #section."""
    if "#" in value or not value.strip():
        return "the runbook's address without a #section, e.g. docs/runbook.md"
    return None


class AlertingConfig(Section):
    """Where Alertmanager sends the platform's alerts, and the dead man's switch watching it."""

    alert_receiver: Literal["", "none", "slack", "msteams", "webhook", "pagerduty", "opsgenie"] = (
        setting(
            "",
            "Where Alertmanager sends the platform's alerts: slack, msteams (a Teams Workflows "
            "URL), webhook, pagerduty or opsgenie; none sends them nowhere (dev and local only). "
            "No default on purpose: every stack says where its alerts go, prod to a person.",
            allowed=" | ".join(RECEIVERS) + ", or none to send alerts nowhere (not in prod)",
        )
    )
    alert_receiver_secret: SecretStr | None = setting(
        None,
        "The receiver's credential, a secret: the webhook URL (slack, msteams, webhook; https), "
        "the PagerDuty Events API v2 routing key, or the Opsgenie API key "
        "(`pulumi config set --secret alertReceiverSecret <value>`).",
        secret=True,
    )
    dead_mans_switch_url: SecretStr | None = setting(
        None,
        "URL (https, a secret) of an outside dead man's switch that pages when the platform's "
        "always-firing heartbeat stops arriving (Alertmanager posts to it every one to two "
        "minutes). Required in prod (`pulumi config set --secret deadMansSwitchUrl <url>`).",
        secret=True,
    )
    runbook_url: str = setting(
        "docs/runbook.md",
        "Where people open docs/runbook.md (e.g. its address in your Git host); each alert's "
        "runbook_url is this plus #<section>. prod warns unless it is an http(s) address.",
        check=_runbook_url,
        allowed="a path or an http(s) address, without a #section",
    )

    @field_validator("dead_mans_switch_url", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or (value != ENCRYPTED and https_url(value)):
            raise refuse("an https:// URL")
        return value

    @field_validator("alert_receiver_secret", mode="before")
    @classmethod
    def _empty_secret(cls, value: Any) -> Any:
        return None if value in (None, "") else value

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> AlertingConfig:
        rules = Rules(info)
        prod = rules.context.get("environment") == "prod"
        kind = self.alert_receiver
        allowed = " | ".join(RECEIVERS) + ("" if prod else ", or none to send alerts nowhere")
        if rules.valid("alertReceiver") and kind == "":
            provider = rules.context.get("flagger_alert_provider", "none")
            # Before alertReceiver existed, Alertmanager posted where Flagger does.
            hint = (
                f" (alerts used to follow alertProvider {provider}: to keep them there, set "
                f"alertReceiver {provider} and alertReceiverSecret to alertWebhookUrl's URL)"
                if provider in ("slack", "msteams")
                else ""
            )
            must = "prod's alerts must reach a person" if prod else "it must be chosen explicitly"
            rules.refuse("alertReceiver", kind, f"{allowed}; {must}{hint}")
        elif rules.valid("alertReceiver") and kind == "none" and prod:
            rules.refuse(
                "alertReceiver",
                kind,
                f"{allowed} when environment is prod: its alerts must reach a person",
            )
        if kind in RECEIVERS and rules.valid("alertReceiver", "alertReceiverSecret"):
            secret = self.alert_receiver_secret
            text = _readable(secret)
            if secret is None:
                rules.refuse(
                    "alertReceiverSecret",
                    None,
                    f"{RECEIVER_SECRETS[kind]} when alertReceiver is {kind}, set with "
                    "`pulumi config set --secret alertReceiverSecret <value>`",
                )
            elif text is not None and (problem := receiver_secret_problem(kind, text)):
                rules.refuse("alertReceiverSecret", secret, problem)
        if kind == "none" and self.alert_receiver_secret is not None:
            rules.context.setdefault("warnings", []).append(
                "alertReceiverSecret: is set, but alertReceiver is none: nothing reads it"
            )
        runbook = self.runbook_url
        if prod and rules.valid("runbookUrl") and not runbook.startswith(("https://", "http://")):
            rules.context.setdefault("warnings", []).append(
                f"runbookUrl: {runbook!r} is not an http(s) address: prod's alerts link "
                f"{runbook}#<alert>, which nobody paged in Slack, Teams or PagerDuty can open. Set "
                "where people read the runbook, e.g. `pulumi config set runbookUrl "
                "https://github.com/<org>/<repo>/blob/main/docs/runbook.md`."
            )
        if prod and rules.valid("deadMansSwitchUrl") and self.dead_mans_switch_url is None:
            rules.refuse(
                "deadMansSwitchUrl",
                None,
                "a secret https URL when environment is prod: an outside service that pages when "
                "the heartbeat stops (`pulumi config set --secret deadMansSwitchUrl <url>`)",
            )
        rules.done(self)
        return self
