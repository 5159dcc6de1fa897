"""Flagger's event texts for tests: its format strings verbatim, formatted the way Go formats them.

Copied from fluxcd/flagger at tag v1.44.0 (commit 15bd6ad5); each names its file and line. Tests
build event messages only from these, never from paraphrases, so a test can only pass against
what Flagger really prints.
"""

from __future__ import annotations

import re
from typing import Any

# pkg/controller/scheduler.go
NEW_REVISION = "New revision detected! Scaling up %s.%s"  # :910
STARTING = "Starting canary analysis for %s.%s"  # :451
ADVANCE = "Advance %s.%s canary weight %v"  # :612
COPYING = "Copying %s.%s template spec to %s.%s"  # :624
ROUTING_ALL = "Routing all traffic to primary"  # :520
PROMOTED = "Promotion completed! Scaling down %s.%s"  # :422
THRESHOLD = "Rolling back %s.%s failed checks threshold reached %v"  # :951
MANUAL_ROLLBACK = "Rolling back %s.%s manual webhook invoked"  # :373
SCALED_DOWN = "Canary failed! Scaling down %s.%s"  # :967
EXTERNAL_CHECK = "Halt %s.%s advancement external check %s failed %v"  # :758
PROMOTION_FAILED = "Promotion of %s.%s failed, primary not ready: %v"  # :1006
PROVIDERS = "Error checking metric providers: %v"  # :208
# pkg/controller/scheduler_hooks.go
PRE_ROLLOUT = "Halt %s.%s advancement pre-rollout check %s failed %v"  # :100
WAITING_PROMOTION = "Halt %s.%s advancement waiting for promotion approval %s"  # :76
WAITING_ROLLOUT = "Halt %s.%s advancement waiting for approval %s"  # :53
# pkg/controller/scheduler_metrics.go
NO_VALUES_CUSTOM = "Halt advancement no values found for custom metric: %s: %v"  # :319
NO_VALUES_QUERY = "Halt advancement no values found for metric: %s"  # :229
QUERY_FAILED = "Metric query failed for %s: %v"  # :322
BELOW_MIN = "Halt %s.%s advancement %s %.2f < %v"  # :332
ABOVE_MAX = "Halt %s.%s advancement %s %.2f > %v"  # :337
# pkg/canary/deployment_ready.go: the scheduler records these errors as they are (scheduler.go:356)
CANARY_NOT_READY = "canary deployment %s.%s not ready: %w"  # :64-66
PRIMARY_NOT_READY = "%s.%s not ready: %w"  # :42
WAITING_REPLICAS = "waiting for rollout to finish: %d of %d (readyThreshold %d%%) updated replicas are available"  # :101
DEADLINE_EXCEEDED = "deployment %q exceeded its progress deadline"  # :93
# pkg/router/gateway_api.go (the gatewayapi:v1 router)
ROUTE_NOT_READY = (
    "HTTPRoute %s.%s parent %s is not ready (status: %s, observed generation: %d, "
    "current generation: %d)"
)  # :280-283
# pkg/providers/errors.go:22 (ErrNoValuesFound)
NO_VALUES_FOUND = "no values found"

_VERB = re.compile(r"%%|%\.2f|%[svwdq]")


def sprintf(go_format: str, *args: Any) -> str:
    """Go's fmt.Sprintf for the verbs Flagger's events use (%s %v %w %d %q %.2f %%)."""
    values = iter(args)

    def one(match: re.Match[str]) -> str:
        verb = match.group()
        if verb == "%%":
            return "%"
        value = next(values)
        if verb == "%.2f":
            return f"{value:.2f}"
        if verb == "%q":
            return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        if verb == "%v" and isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    text = _VERB.sub(one, go_format)
    if next(values, None) is not None:
        raise ValueError(f"too many arguments for {go_format!r}")
    return text
