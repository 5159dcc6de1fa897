"""Config schema, telemetry section: Prometheus's storage and sizing."""

from __future__ import annotations

import re

from pydantic import StrictBool

from stacks.schema.base import Section, setting

PROMETHEUS_DURATION = re.compile(r"^[1-9]\d*(h|d|w|y)$")
QUANTITY = re.compile(r"^[1-9]\d*(Mi|Gi|Ti)$")


class TelemetryConfig(Section):
    """Prometheus storage and sizing; Grafana and the Linkerd dashboard need no tuning."""

    prometheus_retention: str = setting(
        "24h",
        "How long Prometheus keeps samples (Prometheus duration), at least 1h.",
        pattern=PROMETHEUS_DURATION,
        allowed="a whole number of hours, days, weeks or years, e.g. 24h or 15d",
    )
    prometheus_persistence: StrictBool = setting(
        False,
        "Keep Prometheus data on a persistent volume (otherwise it is lost when the pod moves).",
    )
    prometheus_storage_size: str = setting(
        "20Gi",
        "Size of the Prometheus volume when prometheusPersistence is on.",
        pattern=QUANTITY,
        allowed="a size like 20Gi or 500Mi",
    )
    meshed_pods: int = setting(
        50,
        "How many meshed pods the cluster is expected to run; Prometheus's memory is sized from it "
        '(docs/architecture.md, "Prometheus sizing").',
        unit="pods",
        ge=1,
        le=5000,
    )
