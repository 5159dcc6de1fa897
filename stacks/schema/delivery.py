"""Config schema, delivery section: Flagger, where its events go, and the stack's release pacing."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import SecretStr, StrictBool, ValidationInfo, field_validator, model_validator

from stacks.schema.base import Section, refuse, setting
from stacks.schema.problems import Rules
from stacks.services.analysis import SCRAPE_INTERVAL_SECONDS

# Flagger's CRD accepts durations of seconds or minutes only (pattern ^[0-9]+(m|s)).
FLAGGER_DURATION = re.compile(r"^([1-9]\d*)(s|m)$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# A query window of one scrape comes back empty (flagger#1123), and a check is never judged on
# fewer than 3 samples.
MIN_METRIC_WINDOW_SECONDS = 3 * SCRAPE_INTERVAL_SECONDS


def flagger_seconds(value: str) -> int:
    """Seconds in a Flagger duration such as 30s or 2m (value must match FLAGGER_DURATION)."""
    match = FLAGGER_DURATION.match(value)
    if match is None:
        raise ValueError(f"not a Flagger duration: {value!r}")
    return int(match[1]) * (60 if match[2] == "m" else 1)


def flagger_duration(seconds: int) -> str:
    """30 -> "30s", 120 -> "2m": the shortest Flagger duration for `seconds`."""
    return f"{seconds // 60}m" if seconds % 60 == 0 and seconds >= 60 else f"{seconds}s"


def duration_between(low: int, high: int, example: str = "30s or 1m"):  # type: ignore[no-untyped-def]
    """A check for a Flagger duration within [low, high] seconds."""

    def check(value: str) -> str | None:
        allowed = (
            f"seconds or minutes like {example}, from {flagger_duration(low)} to "
            f"{flagger_duration(high)}"
        )
        if FLAGGER_DURATION.match(value) is None:
            return allowed
        return None if low <= flagger_seconds(value) <= high else allowed

    return check


def https_url(value: str) -> str | None:
    """Checks a webhook URL without ever echoing it (it is a credential)."""
    parsed = urlparse(value)
    return None if parsed.scheme == "https" and parsed.netloc else "an https:// webhook URL"


class DeliveryConfig(Section):
    """Flagger itself and where it sends canary events."""

    flagger_replicas: int = setting(
        1, "Flagger replicas; more than one turns on leader election.", ge=1, le=3
    )
    alert_provider: Literal["none", "slack", "msteams"] = setting(
        "none", "Where Flagger posts canary events."
    )
    alert_channel: str = setting(
        "deployments",
        "Slack channel for canary events (slack only), without the leading '#'.",
        pattern=DNS_LABEL,
        allowed="a Slack channel name",
    )
    alert_webhook_url: SecretStr | None = setting(
        None,
        "Incoming-webhook URL of Slack or Teams (https), a secret: "
        "`pulumi config set --secret alertWebhookUrl <url>`. Empty means no webhook.",
        secret=True,
    )

    @field_validator("alert_webhook_url", mode="before")
    @classmethod
    def _webhook(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or https_url(value):
            raise refuse("an https:// webhook URL")
        return value

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> DeliveryConfig:
        rules = Rules(info)
        provider = self.alert_provider
        if provider != "none" and rules.valid("alertWebhookUrl") and not self.alert_webhook_url:
            rules.refuse(
                "alertWebhookUrl", None, f"a secret webhook URL when alertProvider is {provider}"
            )
        rules.done(self)
        return self


class PacingConfig(Section):
    """Release pacing for every service that does not set its own (services/<name>.yaml,
    release). The defaults are the fast dev loop; prod sets longer, safer steps."""

    canary_interval: str = setting(
        "20s",
        "Time between canary analysis steps (one Flagger run).",
        check=duration_between(10, 3600),
        allowed="seconds or minutes, 10s to 60m",
        unit="Flagger duration",
    )
    canary_threshold: int = setting(
        3, "Failed checks in total (not in a row) that roll the release back.", ge=1, le=100
    )
    canary_max_weight: int = setting(
        50,
        "Largest share of traffic the canary gets before promotion.",
        unit="percent",
        ge=1,
        le=100,
    )
    canary_step_weight: int = setting(
        10,
        "Traffic share added at each successful step, a divisor of canaryMaxWeight.",
        unit="percent",
        ge=1,
        le=100,
    )
    canary_metric_interval: str = setting(
        "30s",
        "Window of each analysis query (at least 3 scrapes of 10s).",
        check=duration_between(MIN_METRIC_WINDOW_SECONDS, 3600),
        allowed="seconds or minutes, 30s to 60m",
        unit="Flagger duration",
    )
    canary_progress_deadline_seconds: int = setting(
        600,
        "How long the canary Deployment may take to become ready before rollback (the Canary's "
        "and the Deployment's progressDeadlineSeconds).",
        unit="seconds",
        ge=60,
        le=3600,
    )
    canary_manual_promotion: StrictBool = setting(
        False, "Hold a healthy canary at max weight until an operator promotes it (canary gate)."
    )

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> PacingConfig:
        rules = Rules(info)
        step, top = self.canary_step_weight, self.canary_max_weight
        if rules.valid("canaryMaxWeight", "canaryStepWeight"):
            if step > top:
                rules.refuse("canaryStepWeight", step, f"1 to canaryMaxWeight ({top})")
            elif top % step:
                # Flagger steps on while below maxWeight (scheduler.go:570-599): 20 up to 50 goes
                # to 60.
                rules.refuse(
                    "canaryStepWeight",
                    step,
                    f"a divisor of canaryMaxWeight ({top}); Flagger would go past it to "
                    f"{min(100, -(-top // step) * step)}%",
                )
        rules.done(self)
        return self

    @property
    def interval_seconds(self) -> int:
        return flagger_seconds(self.canary_interval)

    @property
    def metric_interval_seconds(self) -> int:
        return flagger_seconds(self.canary_metric_interval)
