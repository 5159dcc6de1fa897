"""`abort`, `promote` and `reset`: the load tester's gates that Flagger's webhooks consult.

Flagger asks the load tester at every analysis run while a release is under way: a `rollback`
webhook on /rollback/check (200 means roll back now) and, with manual promotion, a
`confirm-promotion` webhook on /gate/check (200 means promote once at max weight). The load tester
keeps a gate open until told otherwise, and an open gate also applies to the *next* release: it
would be rolled back at once, or promoted without approval. So `abort` and `promote` open the
gate, wait until Flagger has acted on it, and close it again. With --no-wait, on a timeout, or when
interrupted they leave it open and say so; `reset` closes both gates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import urlsplit

from canaryctl.canary import GATED_PHASES, PROMOTION_HOOK, ROLLBACK_HOOK, Canary
from canaryctl.errors import FAILED, OK, ROLLED_BACK, TIMED_OUT, CanaryctlError
from canaryctl.kube import Cluster
from canaryctl.timefmt import clock


@dataclass(frozen=True)
class Gate:
    """One gate of the load tester, reached through the API server's service proxy."""

    what: str
    """Which gate, for messages: rollback or promotion."""
    namespace: str
    service: str
    """The Service and port as the proxy names them: "flagger-loadtester:80"."""
    path: str
    """The gate's base path: "/rollback" for /rollback/check, /open and /close."""


def abort(
    cluster: Cluster, canary: Canary, wait: bool, timeout: float | None, poll: float, out: TextIO
) -> int:
    gate = _gate(canary, ROLLBACK_HOOK, "rollback")
    _require_gated_phase(canary, "abort")
    _post(cluster, gate, canary, "open")
    out.write(
        f"Opened the rollback gate of {canary.key}: Flagger rolls it back at its next analysis "
        f"run (within {clock(canary.interval_seconds)}).\n"
    )
    limit = timeout if timeout is not None else 2 * canary.interval_seconds + 60
    final = _see_through(
        cluster, canary, gate, wait, limit, poll, out, "every new release is rolled back at once"
    )
    if isinstance(final, int):
        return final
    if final.phase == "Failed":
        out.write(f"Rolled back {canary.key}; the rollback gate is closed again.\n")
        return OK
    out.write(
        f"{canary.key} reached {final.phase} before Flagger acted on the gate; the gate is closed again.\n"
    )
    return FAILED


def promote(
    cluster: Cluster, canary: Canary, wait: bool, timeout: float | None, poll: float, out: TextIO
) -> int:
    gate = _gate(canary, PROMOTION_HOOK, "promotion")
    _require_gated_phase(canary, "promote")
    done, total = canary.progress()
    _post(cluster, gate, canary, "open")
    when = (
        f"at its next analysis run (within {clock(canary.interval_seconds)})"
        if canary.phase == "WaitingPromotion"
        else f"once it reaches {canary.max_weight}% ({total - done} more step(s))"
    )
    out.write(f"Opened the promotion gate of {canary.key}: Flagger promotes it {when}.\n")
    limit = timeout if timeout is not None else (total - done + 2) * canary.interval_seconds + 60
    final = _see_through(
        cluster,
        canary,
        gate,
        wait,
        limit,
        poll,
        out,
        "the next release is promoted without approval",
    )
    if isinstance(final, int):
        return final
    if final.phase == "Failed":
        out.write(
            f"{canary.key} was rolled back before it could be promoted; the gate is closed again.\n"
        )
        return ROLLED_BACK
    out.write(
        f"Promotion of {canary.key} under way (phase {final.phase}); the gate is closed again, "
        f"so the next release waits for approval. Follow it with "
        f"`canaryctl wait {canary.name} -n {canary.namespace}`.\n"
    )
    return OK


def reset(cluster: Cluster, canary: Canary, out: TextIO) -> int:
    """Close every gate the Canary has; harmless when they are closed already."""
    gates = [
        _gate(canary, hook_type, what)
        for hook_type, what in ((ROLLBACK_HOOK, "rollback"), (PROMOTION_HOOK, "promotion"))
        if canary.webhook(hook_type) is not None
    ]
    if not gates:
        raise CanaryctlError(
            f"{canary.key} has no rollback or confirm-promotion webhook: no gate to close"
        )
    for gate in gates:
        _post(cluster, gate, canary, "close")
        out.write(f"Closed the {gate.what} gate of {canary.key}.\n")
    return OK


def _gate(canary: Canary, hook_type: str, what: str) -> Gate:
    hook = canary.webhook(hook_type)
    if hook is None and hook_type == PROMOTION_HOOK:
        raise CanaryctlError(
            f"{canary.key} has no confirm-promotion webhook, so there is nothing to approve: "
            "Flagger promotes it by itself when the analysis passes (canaryManualPromotion=true "
            "adds the gate)"
        )
    if hook is None:
        raise CanaryctlError(
            f"{canary.key} has no `type: {hook_type}` webhook, so it cannot be aborted from "
            "outside: add one pointing at the load tester's /rollback/check"
        )
    url = urlsplit(hook.url)
    labels = (url.hostname or "").split(".")
    in_cluster = len(labels) <= 2 or labels[2] == "svc"  # name, name.ns, name.ns.svc[.cluster...]
    if not in_cluster or not url.path.endswith("/check"):
        raise CanaryctlError(
            f"the {hook_type} webhook of {canary.key} ({hook.url}) is not a load tester gate "
            "(http://<service>.<namespace>/<gate>/check): open or close it by hand"
        )
    port = url.port or (443 if url.scheme == "https" else 80)
    scheme = "https:" if url.scheme == "https" else ""  # the proxy's way to say https
    return Gate(
        what=what,
        namespace=labels[1] if len(labels) > 1 else canary.namespace,
        service=f"{scheme}{labels[0]}:{port}",
        path=url.path[: -len("/check")],
    )


def _require_gated_phase(canary: Canary, action: str) -> None:
    if canary.phase in GATED_PHASES:
        return
    if canary.phase in ("Promoting", "Finalising"):
        why = "it is being promoted already" + (
            "; release the previous version to undo it" if action == "abort" else ""
        )
    else:
        why = f"no release is under way (phase {canary.phase or 'none'})"
    raise CanaryctlError(f"cannot {action} {canary.key}: {why}")


def _post(cluster: Cluster, gate: Gate, canary: Canary, action: str) -> None:
    # The load tester keys its gates by the Canary's name and namespace, as Flagger sends them.
    body = {"name": canary.name, "namespace": canary.namespace}
    cluster.post_to_service(gate.namespace, gate.service, f"{gate.path}/{action}", body)


def _see_through(
    cluster: Cluster,
    canary: Canary,
    gate: Gate,
    wait: bool,
    limit: float,
    poll: float,
    out: TextIO,
    consequence: str,
) -> Canary | int:
    """After opening `gate`: the Canary once Flagger acted on it, with the gate closed again; or
    the exit code when the gate is left open (--no-wait: OK, no action in time: TIMED_OUT)."""
    if not wait:
        out.write(_left_open(gate, canary, consequence))
        return OK
    final = _await_phase(cluster, canary, limit, poll, out, gate, consequence)
    if final is None:
        return TIMED_OUT
    _post(cluster, gate, canary, "close")
    return final


def _await_phase(
    cluster: Cluster,
    canary: Canary,
    limit: float,
    poll: float,
    out: TextIO,
    gate: Gate,
    consequence: str,
) -> Canary | None:
    """The Canary once Flagger has left the gated phases, or None (gate left open) on timeout."""
    deadline = time.monotonic() + limit
    current = canary
    try:
        while current.phase in GATED_PHASES:
            if time.monotonic() >= deadline:
                out.write(f"Flagger has not acted within {clock(limit)} (phase {current.phase}).\n")
                out.write(_left_open(gate, canary, consequence))
                return None
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
            current = Canary.from_object(cluster.get_canary(canary.namespace, canary.name))
    except KeyboardInterrupt:
        out.write(_left_open(gate, canary, consequence))
        raise
    return current


def _left_open(gate: Gate, canary: Canary, consequence: str) -> str:
    return (
        f"The {gate.what} gate stays OPEN: while it is, {consequence}. Close it once Flagger has "
        f"acted: `canaryctl reset {canary.name} -n {canary.namespace}`.\n"
    )
