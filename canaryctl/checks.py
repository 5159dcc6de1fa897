"""A Canary's checks as Flagger judged them: the value it last measured, the threshold, pass or fail.

Flagger v1.44.0 exports the last value of each check it evaluated as
flagger_canary_metric_analysis{name=<target>, namespace, metric=<check>} (pkg/metrics/recorder.go
SetAnalysis). It evaluates the checks in the Canary's order and stops at the first that fails, and
it records nothing for a query that returned no value (pkg/controller/scheduler_metrics.go
runMetricChecks): so a check after a failing one still shows what it measured before, and
`judge` marks it "not evaluated" instead of passing it on an old value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from canaryctl.canary import Check
from canaryctl.kube import Event
from canaryctl.prometheus import Prometheus

ANALYSIS_METRIC = "flagger_canary_metric_analysis"
PASS, FAIL, NOT_EVALUATED, NO_DATA, UNKNOWN = "pass", "FAIL", "not evaluated", "no data", "-"
# pkg/controller/scheduler_metrics.go:319, "Halt advancement no values found for custom metric".
_NO_VALUES = re.compile(r"^Halt advancement no values found for (?:custom )?metric: (\S+?):? ")


@dataclass(frozen=True)
class Reading:
    """One check at one moment."""

    check: Check
    value: float | None
    state: str
    """pass, FAIL, not evaluated (an earlier check failed), no data (Flagger found no value) or
    - (nothing recorded yet)."""

    def text(self) -> str:
        """request-volume 182 (>= 65) pass"""
        value = "-" if self.value is None else number(self.check, self.value)
        return f"{self.check.name} {value} ({bound(self.check)}) {self.state}"

    def as_json(self) -> dict[str, object]:
        return {
            "value": None if self.value is None or math.isnan(self.value) else self.value,
            "verdict": self.state.lower(),
        }


def values_by_canary(
    prometheus: Prometheus, namespace: str | None
) -> dict[tuple[str, str], dict[str, float]]:
    """(namespace, target) -> check -> last value, for every Canary Flagger has analysed."""
    selector = f'{{namespace="{namespace}"}}' if namespace else ""
    found: dict[tuple[str, str], dict[str, float]] = {}
    for sample in prometheus.query(f"{ANALYSIS_METRIC}{selector}"):
        labels = sample.labels
        key = (labels.get("namespace", ""), labels.get("name", ""))
        found.setdefault(key, {})[labels.get("metric", "")] = sample.value
    return found


def judge(
    checks: Sequence[Check], values: Mapping[str, float], no_data: str | None = None
) -> list[Reading]:
    """Each check in Flagger's order; `no_data`: a check whose last query found nothing (from
    Flagger's event), which fails without changing its recorded value."""
    readings, stopped = [], False
    for check in checks:
        value = values.get(check.name)
        if stopped:
            state = NOT_EVALUATED
        elif check.name == no_data:
            state, stopped = NO_DATA, True
        elif value is None:
            state = UNKNOWN
        elif math.isnan(value) or not check.passes(value):
            state, stopped = FAIL, True
        else:
            state = PASS
        readings.append(Reading(check, value, state))
    return readings


def no_data_check(events: Sequence[Event]) -> str | None:
    """The check Flagger's newest analysis event says had no values, if it says so."""
    for event in reversed(events):
        if event.message.startswith(("Advance ", "Halt ", "Starting canary analysis")):
            found = _NO_VALUES.match(event.message + " ")
            return found[1] if found else None
    return None


def number(check: Check, value: float) -> str:
    """A measured value in the check's unit: 182, 99.80%, 12 ms, 0.31 queued."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if check.unit == "%":
        return f"{value:.2f}%"
    if check.unit == "ms":
        return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"
    if check.unit == "requests":
        return f"{value:.0f}"
    return f"{value:.4g}{_suffix(check.unit)}"


def _suffix(unit: str) -> str:
    """How a unit follows a number: 99%, 500 ms, 3 jobs."""
    return "%" if unit == "%" else f" {unit}" if unit and unit != "requests" else ""


def bound(check: Check) -> str:
    """The threshold in the check's unit: >= 65, >= 99%, <= 500 ms."""
    suffix = _suffix(check.unit)
    low, high = check.minimum, check.maximum
    if low is not None and high is not None:
        return f"{low:g}-{high:g}{suffix}"
    if low is not None:
        return f">= {low:g}{suffix}"
    return f"<= {high:g}{suffix}" if high is not None else "no threshold"
