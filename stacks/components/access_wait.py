"""Building block: wait, polling and bounded, until the cluster's RBAC lets this deployment act.

Azure documents that "role assignments can take up to 10 minutes to take effect" (Azure RBAC
troubleshooting); AKS with Azure RBAC answers 403 until then, so the first `pulumi up` of a new
cluster would fail on its first Kubernetes object. This resource asks the API server itself, with
SelfSubjectAccessReviews through the stack's own kubeconfig, whether the identity running Pulumi
may do what the platform needs, every POLL_SECONDS until it may or TIMEOUT_SECONDS have passed.
When no attempt got any answer at all, the wait blames the network, and with
apiServerAuthorizedIpRanges set, those ranges: AKS blocks every other address before HTTP ("The API
server blocks requests from IP addresses that aren't included in the authorized ranges", AKS
docs api-server-authorized-ip-ranges.md; such a client sees connection timeouts, Azure/AKS#4085),
so a deployer outside them would otherwise be told about RBAC after ten minutes.

It is a Pulumi dynamic resource: `pulumi up` runs `create` in the dynamic provider host, with the
project's virtualenv. It runs again (a replacement) whenever the role assignments it is given or
the API server change; everything in the cluster depends on it through the Kubernetes provider.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic
import yaml
from pulumi.runtime.rpc import UNKNOWN

from stacks.components.access_review import REQUIRED_ACCESS, allowed

TIMEOUT_SECONDS = 600
POLL_SECONDS = 10


class AccessNotGranted(Exception):
    """The identity running Pulumi still may not act in the cluster after the whole wait."""


@dataclass(frozen=True)
class Attempt:
    """One look at the cluster: which required accesses were refused, or why nothing answered."""

    refused: tuple[str, ...] = ()
    error: str = ""
    unreachable: bool = False
    """No HTTP answer: the connection failed (refused, timed out, name not resolved)."""

    @property
    def granted(self) -> bool:
        return not self.refused and not self.error


def wait_for_access(
    kubeconfig: str,
    *,
    principal: str,
    role: str,
    authorized_ip_ranges: Sequence[str] = (),
    timeout_seconds: float = TIMEOUT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    check: Callable[[dict[str, Any]], Attempt] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> float:
    """Seconds it took until every REQUIRED_ACCESS is allowed; AccessNotGranted past the timeout."""
    document = _parse(kubeconfig)
    look = check or _check_access
    started = clock()
    answered = False
    while True:
        attempt = look(document)
        waited = clock() - started
        if attempt.granted:
            return waited
        answered = answered or not attempt.unreachable
        if waited + poll_seconds > timeout_seconds:
            raise AccessNotGranted(
                _not_granted(waited, principal, role, attempt)
                if answered
                else _unreachable(waited, _server(kubeconfig), attempt, authorized_ip_ranges)
            )
        sleep(poll_seconds)


def _not_granted(waited: float, principal: str, role: str, attempt: Attempt) -> str:
    """The API server answered, but never allowed everything: the role has not taken effect."""
    why = (
        f"it refused {', '.join(attempt.refused)}"
        if attempt.refused
        else f"the last attempt failed: {attempt.error}"
    )
    return (
        f"after {waited:.0f} s the cluster's API server still does not let {principal} act "
        f"({why}). The Azure role {role!r} for {principal} on the cluster has not taken "
        "effect. Check it with `az role assignment list --scope <cluster id> --assignee "
        f"{principal}`; if another identity created the cluster, add yours to config "
        "clusterAdmins; then run `pulumi up` again."
    )


def _unreachable(waited: float, server: str | None, attempt: Attempt, ranges: Sequence[str]) -> str:
    """Why nothing ever answered: the authorized ranges when there are any, else the network."""
    never = (
        f"after {waited:.0f} s the cluster's API server {server or ''} never answered: every "
        f"attempt failed to connect (the last: {attempt.error})."
    )
    if not ranges:
        return (
            f"{never} Nothing in the stack keeps this machine out (apiServerAuthorizedIpRanges "
            "is empty): check its network, proxy (HTTPS_PROXY) and DNS, then run `pulumi up` again."
        )
    return (
        f"{never} The API server admits only apiServerAuthorizedIpRanges ({', '.join(ranges)}) "
        "and drops everything else unanswered: the address this machine reaches Azure from is "
        "most likely outside them. `curl -s https://api.ipify.org` shows it (`canaryctl doctor` "
        "compares it with the ranges); add it with `pulumi config set --path "
        f"'apiServerAuthorizedIpRanges[{len(ranges)}]' <address>/32`, or run `pulumi up` from a "
        "listed network, then run `pulumi up` again."
    )


def _parse(kubeconfig: str) -> dict[str, Any]:
    document = yaml.safe_load(kubeconfig)
    if not isinstance(document, dict) or not document.get("users"):
        raise AccessNotGranted("the cluster's kubeconfig has no user to log in with")
    for user in document["users"]:
        command = ((user.get("user") or {}).get("exec") or {}).get("command")
        if command and shutil.which(command) is None:
            raise AccessNotGranted(
                f"{command}, the login plugin of the cluster's kubeconfig, is not on PATH: "
                "install it (`az aks install-cli`) and run `pulumi up` again"
            )
    return document


def _check_access(document: dict[str, Any]) -> Attempt:
    """Ask the API server about every REQUIRED_ACCESS (imports the client only when it runs)."""
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    configuration.retries = 0
    try:
        # A fresh login per attempt: the exec plugin (kubelogin) fetches the current token.
        config.load_kube_config_from_dict(
            document, client_configuration=configuration, persist_config=False
        )
        with client.ApiClient(configuration) as api:
            authorization = client.AuthorizationV1Api(api)
            refused = []
            for access in REQUIRED_ACCESS:
                # The same review doctor posts; the client sends a dict body as it is
                # (ApiClient.sanitize_for_serialization).
                answer = authorization.create_self_subject_access_review(
                    access.review(),  # type: ignore[arg-type]
                    _request_timeout=(10, 30),
                )
                if not allowed(answer):
                    refused.append(str(access))
    except ApiException as error:  # 401/403 while the login itself is not yet accepted
        return Attempt(error=f"HTTP {error.status} {error.reason}")
    except (ConfigException, OSError) as error:
        return Attempt(error=f"{type(error).__name__}: {error}")
    except Exception as error:  # urllib3 errors: the API server is not reachable yet
        return Attempt(error=f"{type(error).__name__}: {error}", unreachable=_no_connection(error))
    return Attempt(refused=tuple(refused))


def _no_connection(error: Exception) -> bool:
    """Whether the client never got a connection: urllib3 wraps the reason in MaxRetryError
    (retries are off); NewConnectionError (refused, name not resolved) is a ConnectTimeoutError.
    A read timeout or a TLS failure comes from a server that did answer the connection."""
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

    reason = error.reason if isinstance(error, MaxRetryError) else error
    return isinstance(reason, ConnectTimeoutError)


def _server(kubeconfig: Any) -> str | None:
    """The API server's address; None while the kubeconfig is not known (a preview)."""
    if not isinstance(kubeconfig, str) or kubeconfig == UNKNOWN:
        return None
    document = yaml.safe_load(kubeconfig)
    if not isinstance(document, dict):
        return None
    clusters = document.get("clusters") or [{}]
    return str((clusters[0].get("cluster") or {}).get("server") or "")


class _AccessWaitProvider(pulumi.dynamic.ResourceProvider):
    """create waits; a change of grants or API server replaces (waits again); delete is a no-op."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        waited = wait_for_access(
            props["kubeconfig"],
            principal=props["principal"],
            role=props["role"],
            authorized_ip_ranges=props.get("authorizedIpRanges") or (),
        )
        outs = {**_trigger(props), "principal": props["principal"], "waitedSeconds": round(waited)}
        return pulumi.dynamic.CreateResult(id_=_identity(_trigger(props)), outs=outs)

    def diff(
        self, _id: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> pulumi.dynamic.DiffResult:
        # Only new grants or another API server can need a new wait. Who runs `pulumi up` does
        # not: an identity that was never granted access would wait in vain.
        trigger = _trigger(news)
        if trigger["server"] is None or UNKNOWN in trigger["grants"]:
            # A preview before the cluster's credentials or grants are known: say "unknown"
            # rather than guess (the engine shows it as a possible change).
            return pulumi.dynamic.DiffResult(changes=None)
        changed = [key for key, value in trigger.items() if olds.get(key) != value]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=changed)


def _trigger(props: dict[str, Any]) -> dict[str, Any]:
    """What decides whether to wait again. The kubeconfig itself is never an output."""
    return {"grants": sorted(props["grants"]), "server": _server(props["kubeconfig"])}


def _identity(trigger: dict[str, Any]) -> str:
    return hashlib.sha256(repr(sorted(trigger.items())).encode()).hexdigest()[:16]


class AccessWait(pulumi.dynamic.Resource, module="cluster", name="AccessWait"):
    """Done once the identity running Pulumi may create namespaces, CRDs and cluster RBAC."""

    def __init__(
        self,
        name: str,
        *,
        kubeconfig: pulumi.Input[str],
        grants: Sequence[pulumi.Input[str]],
        principal: pulumi.Input[str],
        role: str,
        authorized_ip_ranges: Sequence[str] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            _AccessWaitProvider(),
            name,
            {
                "kubeconfig": pulumi.Output.secret(kubeconfig),
                "grants": list(grants),
                "principal": principal,
                "role": role,
                # Only for the message when nothing ever answers; a change needs no new wait.
                "authorizedIpRanges": list(authorized_ip_ranges),
            },
            opts,
        )
