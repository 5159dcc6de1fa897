"""The Kubernetes API calls canaryctl makes, each failure turned into a one-line error."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from canaryctl.errors import CanaryctlError, Forbidden, Unavailable
from canaryctl.kubeconfig import Target
from canaryctl.timefmt import parse_time

GROUP = "flagger.app"
VERSION = "v1beta1"
PLURAL = "canaries"
CANARIES = f"{PLURAL}.{GROUP}"
PROXY = "services/proxy"
# Linkerd's proxy injector webhook (linkerd-control-plane chart, templates/proxy-injector-rbac.yaml).
INJECTOR_WEBHOOK = "linkerd-proxy-injector-webhook-config"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
WORKLOAD_PLURALS = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
}
# Connect and read timeouts of every call: an unreachable API server fails fast instead of hanging.
TIMEOUT = (10, 30)
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Event:
    """One Kubernetes Event about a Canary; Flagger records one per analysis decision."""

    namespace: str
    name: str
    """The Canary's name."""
    time: datetime | None
    type: str
    """Normal or Warning."""
    message: str
    count: int


class Cluster:
    """The few API calls canaryctl needs, on one cluster."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._custom = client.CustomObjectsApi(target.api)

    def list_canaries(self, namespace: str | None) -> list[dict[str, Any]]:
        """Every Canary in `namespace`, or in all namespaces when it is None."""
        found: Any  # the client types custom objects as `object`; they are JSON dicts
        with self._call("list", CANARIES, namespace):
            if namespace is None:
                found = self._custom.list_cluster_custom_object(
                    GROUP, VERSION, PLURAL, _request_timeout=TIMEOUT
                )
            else:
                found = self._custom.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, _request_timeout=TIMEOUT
                )
        return list(found.get("items") or [])

    def get_canary(self, namespace: str, name: str) -> dict[str, Any]:
        with self._call("get", CANARIES, namespace, name):
            found: Any = self._custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, _request_timeout=TIMEOUT
            )
        return dict(found)

    def canary_events(self, namespace: str | None, name: str | None = None) -> list[Event]:
        """Events about Canaries in `namespace` (all if None), of one Canary if named; oldest first."""
        selector = "involvedObject.kind=Canary" + (f",involvedObject.name={name}" if name else "")
        scope = f"/namespaces/{quote(namespace, safe='')}" if namespace else ""
        with self._call("list", "events", namespace):
            # A plain GET: CoreV1Api would add a second to every start just to import it, and
            # canaryctl reads five fields of each event without needing model validation.
            data = self._request(
                "GET", f"/api/v1{scope}/events", query=[("fieldSelector", selector)]
            )
            items = json.loads(data).get("items") or []
        return sorted((_event(item) for item in items), key=lambda e: e.time or _EPOCH)

    def post_to_service(self, namespace: str, service: str, path: str, body: Any) -> None:
        """POST JSON to an in-cluster Service ("name:port") through the API server's proxy."""
        # Built by hand: the generated proxy method sends no body and escapes the '/' in paths.
        resource = (
            f"/api/v1/namespaces/{quote(namespace, safe='')}/services/"
            f"{quote(service, safe=':')}/proxy/{quote(path.lstrip('/'), safe='/')}"
        )
        with self._call("create", PROXY, namespace, service):
            self._request("POST", resource, body)

    def get_from_service(
        self, namespace: str, service: str, path: str, query: list[tuple[str, str]], what: str
    ) -> bytes:
        """GET from an in-cluster Service ("name:port") through the API server's proxy; `what`
        names it in errors ("Prometheus")."""
        resource = (
            f"/api/v1/namespaces/{quote(namespace, safe='')}/services/"
            f"{quote(service, safe=':')}/proxy/{quote(path.lstrip('/'), safe='/')}"
        )
        with self._call("get", PROXY, namespace, service, what=what):
            return self._request("GET", resource, query=query)

    def flagger_installed(self) -> bool:
        """Whether the API server serves flagger.app/v1beta1 canaries, i.e. the CRD exists."""
        with self._call("get", f"{GROUP}/{VERSION} discovery", None):
            try:
                data = self._request("GET", f"/apis/{GROUP}/{VERSION}")
            except ApiException as error:
                if error.status == 404:
                    return False
                raise
        resources = json.loads(data).get("resources") or []
        return any(resource.get("name") == PLURAL for resource in resources)

    def namespaces(self, names: list[str]) -> list[dict[str, Any]]:
        """These namespaces (every one when `names` is empty), with their labels and annotations."""
        if not names:
            with self._call("list", "namespaces", None):
                data = self._request("GET", "/api/v1/namespaces")
            return list(json.loads(data).get("items") or [])
        found = []
        for name in names:
            with self._call("get", "namespaces", None, name):
                found.append(json.loads(self._request("GET", f"/api/v1/namespaces/{quote(name)}")))
        return found

    def workloads(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        """Every Deployment, StatefulSet or DaemonSet in `namespace` (all if None)."""
        plural = WORKLOAD_PLURALS[kind]
        scope = f"/namespaces/{quote(namespace, safe='')}" if namespace else ""
        with self._call("list", f"{plural}.apps", namespace):
            data = self._request("GET", f"/apis/apps/v1{scope}/{plural}")
        return list(json.loads(data).get("items") or [])

    def injector_webhook(self) -> dict[str, Any] | None:
        """Linkerd's proxy injector MutatingWebhookConfiguration; None when there is none."""
        resource = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
        with self._call("get", resource, None, INJECTOR_WEBHOOK):
            try:
                data = self._request(
                    "GET",
                    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/"
                    + INJECTOR_WEBHOOK,
                )
            except ApiException as error:
                if error.status == 404:
                    return None
                raise
        return dict(json.loads(data))

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The pods in `namespace` matching a label selector ("app=podinfo,tier in (web)")."""
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods"
        with self._call("list", "pods", namespace):
            data = self._request("GET", path, query=[("labelSelector", selector)])
        return list(json.loads(data).get("items") or [])

    def get_workload(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        plural = WORKLOAD_PLURALS[kind]
        with self._call("get", f"{plural}.apps", namespace, name):
            data = self._request("GET", _workload_path(plural, namespace, name))
        return dict(json.loads(data))

    def restart_workload(self, kind: str, namespace: str, name: str, at: str) -> dict[str, Any]:
        """What `kubectl rollout restart` does: stamp the pod template with the time, so the
        controller rolls every pod (kubectl polymorphichelpers/objectrestarter.go)."""
        plural = WORKLOAD_PLURALS[kind]
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}}
        with self._call("patch", f"{plural}.apps", namespace, name):
            data = self._request(
                "PATCH",
                _workload_path(plural, namespace, name),
                patch,
                content_type="application/merge-patch+json",
            )
        return dict(json.loads(data))

    def probe(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(HTTP status, body) of one call, for checks that judge the answer themselves.

        Success gives 200 and the JSON body (or its text, e.g. /readyz's "ok"); an HTTP error its
        status and the Status message. Raises Unavailable when the API cannot be reached at all.
        """
        try:
            data = self._request(method, path, body).decode()
        except ApiException as error:
            return int(error.status or 0), _status_message(error)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise self._unreachable(error) from None
        try:
            return 200, json.loads(data)
        except ValueError:
            return 200, data.strip()

    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> bytes:
        api = self.target.api
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        method, url, headers, body, _ = api.param_serialize(
            method,
            path,
            query_params=query,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = api.call_api(
            method, url, header_params=headers, body=body, _request_timeout=TIMEOUT
        )
        data: bytes = response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return data

    @contextmanager
    def _call(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        name: str | None = None,
        what: str = "the load tester",
    ) -> Iterator[None]:
        try:
            yield
        except ApiException as error:
            raise self._explain(error, verb, resource, namespace, name, what) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise self._unreachable(error) from None

    def _unreachable(self, error: Exception) -> Unavailable:
        return Unavailable(
            f"cannot reach the Kubernetes API at {self.target.server} ({_why(error)}): "
            f"check that the cluster is running and that {self.target.source} points at it"
        )

    def _explain(
        self,
        error: ApiException,
        verb: str,
        resource: str,
        namespace: str | None,
        name: str | None,
        what: str = "the load tester",
    ) -> CanaryctlError:
        status = int(error.status or 0)
        server = self.target.server
        detail = _status_message(error)
        if status == 0:  # the client reports TLS failures without an HTTP status
            return Unavailable(
                f"no secure connection to the Kubernetes API at {server} ({detail}): "
                f"check the server address and certificate data of {self.target.source}"
            )
        if status == 401:
            return CanaryctlError(
                f"the Kubernetes API at {server} did not accept your credentials (401): "
                "log in again (AKS: `az login`) or pick another --context/--stack"
            )
        if status == 403:
            user = re.search(r'User "([^"]+)"', detail)
            who = f"user {user[1]}" if user else "your identity"
            where = f"in namespace {namespace}" if namespace else "across all namespaces"
            scope = f"-n {namespace}" if namespace else "--all-namespaces"
            return Forbidden(
                f"forbidden (403): {who} may not {verb} {resource} {where}; ask a cluster admin "
                f"for RBAC that allows it (check: `kubectl auth can-i {verb} {resource} {scope}`)"
            )
        if status == 404 and resource == CANARIES:
            if not self.flagger_installed():
                return CanaryctlError(
                    f"Flagger is not installed on {server}: the API has no {GROUP}/{VERSION} "
                    "canaries (Canary CRD missing); deploy the platform with `pulumi up` or "
                    "point canaryctl at the cluster that runs it"
                )
            if name is not None:
                return CanaryctlError(
                    f"no Canary {namespace}/{name} on {server}: `canaryctl status` "
                    "lists them all (pass -n NAMESPACE if it lives elsewhere)"
                )
        if resource == PROXY and status in (404, 502, 503):
            return CanaryctlError(
                f"{what} {namespace}/{name} did not take the request ({status}: "
                f"{detail}): check it runs with `kubectl -n {namespace} get pods`"
            )
        if resource == PROXY and 400 <= status < 500 and verb == "get":
            # The proxied service's own answer (Prometheus: 400/422 with its JSON error).
            return ServiceRefused(status, _body(error))
        if status >= 500 or status == 429:
            return Unavailable(
                f"the Kubernetes API at {server} answered {status} to {verb} {resource} "
                f"({detail}): try again shortly"
            )
        return CanaryctlError(
            f"the Kubernetes API at {server} answered {status} to {verb} {resource}: {detail}"
        )


def _workload_path(plural: str, namespace: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{quote(namespace, safe='')}/{plural}/{quote(name, safe='')}"


# Flagger records events through client-go's broadcaster, whose correlator rewrites the 11th and
# later events of the same reason within 10 minutes (every Flagger event has reason Synced) with
# this prefix (k8s.io/client-go tools/record/events_cache.go); Flagger's own docs at v1.44.0 show
# it (docs/gitbook/tutorials/gatewayapi-progressive-delivery.md:408). The message after it is
# Flagger's, matched like any other.
COMBINED = "(combined from similar events): "


def _event(item: dict[str, Any]) -> Event:
    involved = item.get("involvedObject") or {}
    metadata = item.get("metadata") or {}
    # Core events carry lastTimestamp; events written through events.k8s.io only eventTime.
    stamp = (
        item.get("lastTimestamp")
        or item.get("eventTime")
        or item.get("firstTimestamp")
        or metadata.get("creationTimestamp")
    )
    return Event(
        namespace=involved.get("namespace") or metadata.get("namespace") or "",
        name=involved.get("name") or "",
        time=parse_time(stamp),
        type=item.get("type") or "Normal",
        message=" ".join(str(item.get("message") or "").split()).removeprefix(COMBINED),
        count=int(item.get("count") or 1),
    )


class ServiceRefused(CanaryctlError):
    """A proxied Service answered with an HTTP error of its own; `body` is its answer."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"answered {status}: {body[:200]}")
        self.status = status
        self.body = body


def _body(error: ApiException) -> str:
    return error.body.decode() if isinstance(error.body, bytes) else str(error.body or "")


def _status_message(error: ApiException) -> str:
    """The message of the Kubernetes Status in the body, else the body's first line."""
    body = error.body.decode() if isinstance(error.body, bytes) else error.body or ""
    try:
        status = json.loads(body)
    except ValueError:
        status = None
    if isinstance(status, dict) and status.get("message"):
        return str(status["message"])
    first = body.strip().splitlines()[0] if body.strip() else str(error.reason or "")
    return first[:200]


def _why(error: Exception) -> str:
    text = str(error)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("Name or service not known", "host name not found"),
        ("nodename nor servname", "host name not found"),
        ("Temporary failure in name resolution", "host name not found"),
        ("Connection reset", "connection reset"),
    ):
        if needle in text:
            return reason
    return type(error).__name__
