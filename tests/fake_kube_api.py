"""A fake Kubernetes API server for canaryctl's tests: real HTTP on 127.0.0.1, scripted Flagger.

It answers the calls canaryctl makes (discovery, canaries, events, the service proxy to the load
tester) as kube-apiserver does, Status bodies for 401/403/404 included. Each Canary replays a
recorded list of frames: every GET of that Canary serves the current frame and then moves to the
next (the last one repeats), so a test replays a release in as many polls as it has frames. A
frame can hold until a load tester gate is open, as Flagger would wait for its webhook.
"""

from __future__ import annotations

import functools
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from stacks.services.manifests import render
from stacks.telemetry.layer import PROMETHEUS_URL
from tests.fake_prometheus import FakePrometheus
from tests.services_fixture import podinfo

TOKEN = "canaryctl-test-token"
USER = "ci-bot"
Query = dict[str, list[str]]
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{{name: fake, cluster: {{server: "{server}"}}}}]
contexts: [{{name: fake, context: {{cluster: fake, user: fake, namespace: "{namespace}"}}}}]
current-context: fake
users: [{{name: fake, user: {{token: "{token}"}}}}]
"""
CONDITIONS = {  # Flagger's Promoted condition: (status, message) per phase
    "Initialized": ("True", "Deployment initialization completed."),
    "Succeeded": ("True", "Canary analysis completed successfully, promotion finished."),
    "Failed": ("False", "Canary analysis failed, Deployment scaled to zero."),
    "WaitingPromotion": ("Unknown", "Waiting for approval."),
}


@dataclass(frozen=True)
class Frame:
    """One observed state of a Canary, and the events Flagger records on reaching it."""

    phase: str
    weight: int = 0
    """status.canaryWeight, as Flagger writes it (0 at the promotion gate, status.go)."""
    failed_checks: int = 0
    revision: str = "rev-2"
    """status.lastAppliedSpec; a new value means Flagger started on a new pod template."""
    events: tuple[str, ...] = ()
    """Event messages; a "Warning: " prefix makes a Warning event."""
    message: str = ""
    hold_until: str | None = None
    """Stay on this frame until this load tester gate ("rollback" or "gate") is open."""
    iterations: int = 0
    """status.iterations (analysis.iterations - 1 at the promotion gate, status.go)."""
    promoted: str = "rev-1"
    """status.lastPromotedSpec: the pod template the primary runs."""
    checks: dict[str, float] | None = None
    """Values Flagger records for its checks in the run that reaches this frame
    (flagger_canary_metric_analysis, scraped into the fake Prometheus)."""
    events_age: int = 0
    """Seconds before this frame's status write (lastTransitionTime) that Flagger recorded its
    events: a release that ran between two polls, whose runs are an interval apart."""


@dataclass(frozen=True)
class ProxyCall:
    namespace: str
    service: str
    path: str
    body: Any


@dataclass
class _Canary:
    obj: dict[str, Any]
    frames: list[Frame]
    index: int = 0
    reached: set[int] = field(default_factory=set)
    since: str = ""
    """When the current frame was reached: status.lastTransitionTime."""


class FakeKubeApi:
    """The fake API server; use as a context manager, then write_kubeconfig() for canaryctl."""

    def __init__(self) -> None:
        self.flagger_installed = True
        self.forbidden: set[str] = set()
        """Resources ("canaries", "events", "services/proxy") answered with 403."""
        self.unavailable: set[int] = set()
        """Which GETs of a Canary (1 is the first) answer 503, as during an API server upgrade."""
        self.canaries: dict[tuple[str, str], _Canary] = {}
        self.events: list[dict[str, Any]] = []
        self.services: set[tuple[str, str]] = set()
        self.open_gates: set[str] = set()
        self.proxy_calls: list[ProxyCall] = []
        self.requests: list[str] = []
        self.prometheus = FakePrometheus()
        """The platform's Prometheus behind Service monitoring/prometheus-server."""
        self.services.add(("monitoring", "prometheus-server"))
        self.server_version = "v1.33.2"
        self.cluster_admin = True
        """What SelfSubjectAccessReviews answer: `* * *` allowed, and any resource not refused."""
        self.refused: set[str] = set()
        self.routes: list[tuple[str, str, Any]] = list(ROUTES)
        """What the server answers; a subclass adds its own (tests/fake_workloads.py)."""
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        # A short poll interval: shutdown() waits up to one of them, once per test.
        serve = functools.partial(self._server.serve_forever, poll_interval=0.01)
        self._thread = threading.Thread(target=serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeKubeApi:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def write_kubeconfig(self, path: Path, token: str = TOKEN, namespace: str = "") -> Path:
        """A kubeconfig whose only context, fake, points at this server."""
        path.write_text(KUBECONFIG.format(server=self.url, token=token, namespace=namespace))
        return path

    def add_canary(
        self,
        frames: list[Frame],
        name: str = "podinfo",
        namespace: str = "podinfo",
        manual_promotion: bool = False,
        step_weight: int = 10,
    ) -> None:
        """A Canary as the platform renders it (stacks/services/manifests.py), replaying `frames`."""
        settings = podinfo(
            namespace=namespace,
            interval_seconds=60,
            threshold=5,
            max_weight=50,
            step_weight=step_weight,
            manual_promotion=manual_promotion,
        )
        obj = render(settings, PROMETHEUS_URL, platform_alerts=False).canary
        obj["metadata"]["name"] = name
        self.canaries[(namespace, name)] = _Canary(obj, frames)
        self.services.add((namespace, "flagger-loadtester"))

    def gets(self, namespace: str = "podinfo", name: str = "podinfo") -> int:
        """How often canaryctl fetched this one Canary."""
        path = f"GET /apis/flagger.app/v1beta1/namespaces/{namespace}/canaries/{name}"
        return self.requests.count(path)

    # ---- what the handler calls, under the lock ----

    def serve_canary(self, canary: _Canary, advance: bool) -> dict[str, Any]:
        frame = canary.frames[canary.index]
        moment = datetime.now(UTC)
        now = _stamp(moment)
        if canary.index not in canary.reached:
            canary.reached.add(canary.index)
            canary.since = now
            for message in frame.events:
                self._record(canary.obj, message, _stamp(moment, frame.events_age))
            for metric, value in (frame.checks or {}).items():
                self.prometheus.record(
                    {**FLAGGER_SCRAPE, **_analysis_labels(canary.obj), "metric": metric},
                    time.time(),
                    value,
                )
        condition, default = CONDITIONS.get(
            frame.phase, ("Unknown", "New revision detected, progressing canary analysis.")
        )
        obj = dict(canary.obj)
        promoted = {"type": "Promoted", "status": condition, "reason": frame.phase}
        promoted |= {"message": frame.message or default, "lastTransitionTime": canary.since}
        obj["status"] = {
            "phase": frame.phase,
            "canaryWeight": frame.weight,
            "failedChecks": frame.failed_checks,
            "iterations": frame.iterations,
            "lastAppliedSpec": frame.revision,
            "lastPromotedSpec": frame.promoted,
            "lastTransitionTime": canary.since,
            "conditions": [promoted],
        }
        if not frame.phase:  # a Canary Flagger has not seen yet has no status
            del obj["status"]
        meta = obj["metadata"]
        gate = frame.hold_until and _gate_key(frame.hold_until, meta["name"], meta["namespace"])
        held = bool(gate) and gate not in self.open_gates
        if advance and not held:
            canary.index = min(canary.index + 1, len(canary.frames) - 1)
        return obj

    def _record(self, obj: dict[str, Any], message: str, now: str) -> None:
        warning = message.startswith("Warning: ")
        text = message.removeprefix("Warning: ")
        meta = {k: obj["metadata"][k] for k in ("name", "namespace")}
        for event in self.events:  # the API server's aggregation: a repeat counts up
            if event["message"] == text and event["involvedObject"]["name"] == meta["name"]:
                event.update(count=event["count"] + 1, lastTimestamp=now)
                return
        self.events.append(
            {
                "metadata": {
                    "name": f"{meta['name']}.{len(self.events)}",
                    "namespace": meta["namespace"],
                },
                "involvedObject": {"kind": "Canary", "apiVersion": GV, **meta},
                "type": "Warning" if warning else "Normal",
                "reason": "Synced",
                "message": text,
                "count": 1,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "source": {"component": "flagger"},
            }
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real API server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without this, Nagle's algorithm meets the
        # client's delayed ACK and every response takes 40 ms or more.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *_: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        fake: FakeKubeApi = self.server.fake  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        path = unquote(url.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        with fake._lock:
            fake.requests.append(f"{method} {path}")
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._status(401, "Unauthorized", "Unauthorized")
            if path.startswith("/apis/flagger.app") and not fake.flagger_installed:
                return self._status(404, "NotFound", NOT_FOUND)
            for verb, pattern, handle in fake.routes:
                match = re.fullmatch(pattern, path)
                if verb == method and match:
                    return handle(self, fake, *match.groups(), query=parse_qs(url.query), body=body)
            self._status(404, "NotFound", NOT_FOUND)

    def _api(self, fake: FakeKubeApi, **_: Any) -> None:
        self._json({"kind": "APIVersions", "versions": ["v1"]})

    def _apis(self, fake: FakeKubeApi, **_: Any) -> None:
        groups = [FLAGGER_GROUP] if fake.flagger_installed else []
        self._json({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    def _version(self, fake: FakeKubeApi, **_: Any) -> None:
        minor = fake.server_version.split(".")[1]
        self._json({"major": "1", "minor": minor, "gitVersion": fake.server_version})

    def _readyz(self, fake: FakeKubeApi, **_: Any) -> None:
        self._reply(200, b"ok", "text/plain")

    def _access_review(self, fake: FakeKubeApi, body: Any, **_: Any) -> None:
        asked = body["spec"]["resourceAttributes"]
        resource = asked["resource"]
        allowed = fake.cluster_admin or (resource != "*" and resource not in fake.refused)
        self._reply(201, json.dumps({**body, "status": {"allowed": allowed}}).encode())

    def _crd(self, fake: FakeKubeApi, plural: str, **_: Any) -> None:
        if not fake.flagger_installed or plural not in (
            "canaries",
            "metrictemplates",
            "alertproviders",
        ):
            return self._status(404, "NotFound", f'customresourcedefinitions "{plural}" not found')
        self._json(
            {"kind": "CustomResourceDefinition", "metadata": {"name": f"{plural}.flagger.app"}}
        )

    def _flagger_resources(self, fake: FakeKubeApi, **_: Any) -> None:
        self._json({"kind": "APIResourceList", "groupVersion": GV, "resources": [CANARIES]})

    def _canaries(self, fake: FakeKubeApi, ns: str | None, name: str | None, **_: Any) -> None:
        if "canaries" in fake.forbidden:
            subject = f'canaries.flagger.app "{name}"' if name else "canaries.flagger.app"
            return self._forbidden(subject, "get" if name else "list", "canaries", ns)
        if name is None:
            found = sorted(fake.canaries.items())
            items = [fake.serve_canary(c, advance=False) for (n, _), c in found if ns in (None, n)]
            return self._json({"kind": "CanaryList", "apiVersion": GV, "items": items})
        canary = fake.canaries.get((ns or "", name))
        if canary is None:
            return self._status(404, "NotFound", f'canaries.flagger.app "{name}" not found')
        if fake.gets(ns or "", name) in fake.unavailable:
            return self._status(503, "ServiceUnavailable", "the server is currently unable")
        self._json(fake.serve_canary(canary, advance=True))

    def _events(self, fake: FakeKubeApi, ns: str | None, query: Query, **_: Any) -> None:
        if "events" in fake.forbidden:
            return self._forbidden("events", "list", "events", ns)
        selector = query.get("fieldSelector", [""])[0]
        wanted = [term.split("=", 1) for term in selector.split(",") if term]
        items = [
            event
            for event in fake.events
            if ns in (None, event["metadata"]["namespace"])
            and all(_field(event, key) == value for key, value in wanted)
        ]
        self._json({"kind": "EventList", "apiVersion": "v1", "items": items})

    def _proxy(
        self, fake: FakeKubeApi, ns: str, service: str, path: str, body: Any, **_: Any
    ) -> None:
        if "services/proxy" in fake.forbidden:
            return self._forbidden(f'services "{service}"', "create", "services/proxy", ns)
        name = service.split(":")[0]
        if (ns, name) not in fake.services:
            return self._status(404, "NotFound", f'services "{name}" not found')
        fake.proxy_calls.append(ProxyCall(ns, service, path, body))
        gate = re.fullmatch(r"(rollback|gate)/(open|close)", path)
        if gate is None or not isinstance(body, dict):
            return self._reply(404, b"404 page not found\n", "text/plain")
        key = _gate_key(gate[1], body["name"], body["namespace"])
        (fake.open_gates.add if gate[2] == "open" else fake.open_gates.discard)(key)
        self._reply(202, b"", "text/plain")

    def _proxy_get(
        self, fake: FakeKubeApi, ns: str, service: str, path: str, query: Query, **_: Any
    ) -> None:
        if "services/proxy" in fake.forbidden:
            return self._forbidden(f'services "{service}"', "get", "services/proxy", ns)
        name = service.split(":")[0]
        if (ns, name) not in fake.services:
            return self._status(404, "NotFound", f'services "{name}" not found')
        if (ns, name) != ("monitoring", "prometheus-server"):
            return self._reply(404, b"404 page not found\n", "text/plain")
        # The API server passes the proxied answer through, status and body.
        code, body = fake.prometheus.answer(path, query, time.time())
        self._reply(code, body)

    def _forbidden(self, subject: str, verb: str, resource: str, ns: str | None) -> None:
        """403 worded as the API server's RBAC authorizer words it."""
        group = "flagger.app" if resource == "canaries" else ""
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        self._status(
            403,
            "Forbidden",
            f'{subject} is forbidden: User "{USER}" cannot {verb} resource "{resource}" in API group "{group}" {scope}',
        )

    def _status(self, code: int, reason: str, message: str) -> None:
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code}
        self._reply(code, json.dumps({**status, "reason": reason, "message": message}).encode())

    def _json(self, data: Any) -> None:
        self._reply(200, json.dumps(data).encode())

    def _reply(self, code: int, payload: bytes, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


GV = "flagger.app/v1beta1"
NOT_FOUND = "the server could not find the requested resource"
FLAGGER_GROUP = {"name": "flagger.app", "versions": [{"groupVersion": GV, "version": "v1beta1"}]}
CANARIES = {"name": "canaries", "namespaced": True, "kind": "Canary", "verbs": ["get", "list"]}
# (method, path pattern, handler): the pattern's groups are the handler's positional arguments.
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", r"/api", _Handler._api),
    ("GET", r"/version", _Handler._version),
    ("GET", r"/readyz", _Handler._readyz),
    ("POST", r"/apis/authorization\.k8s\.io/v1/selfsubjectaccessreviews", _Handler._access_review),
    (
        "GET",
        r"/apis/apiextensions\.k8s\.io/v1/customresourcedefinitions/([^/.]+)\.flagger\.app",
        _Handler._crd,
    ),
    ("GET", r"/apis", _Handler._apis),
    ("GET", r"/apis/flagger\.app/v1beta1", _Handler._flagger_resources),
    (
        "GET",
        r"/apis/flagger\.app/v1beta1(?:/namespaces/([^/]+))?/canaries(?:/([^/]+))?",
        _Handler._canaries,
    ),
    ("GET", r"/api/v1(?:/namespaces/([^/]+))?/events", _Handler._events),
    ("POST", r"/api/v1/namespaces/([^/]+)/services/([^/]+)/proxy/(.*)", _Handler._proxy),
    ("GET", r"/api/v1/namespaces/([^/]+)/services/([^/]+)/proxy/(.*)", _Handler._proxy_get),
]
# How Prometheus's kubernetes-pods job labels Flagger's own metrics (honor_labels keeps Flagger's
# `namespace` and `name`; prometheus chart 29.27.0 values.yaml kubernetes-pods).
FLAGGER_SCRAPE = {
    "__name__": "flagger_canary_metric_analysis",
    "job": "kubernetes-pods",
    "instance": "10.244.0.12:8080",
    "pod": "flagger-5c4f6d8b9-7hx2p",
    "app_kubernetes_io_name": "flagger",
}


def _analysis_labels(canary: dict[str, Any]) -> dict[str, str]:
    """recorder.go SetAnalysis: name is the target's name, namespace the Canary's."""
    return {
        "name": canary["spec"]["targetRef"]["name"],
        "namespace": canary["metadata"]["namespace"],
    }


def _field(obj: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None  # type: ignore[assignment]
    return obj


def _gate_key(gate: str, name: str, namespace: str) -> str:
    # The load tester's keys: "rollback.<name>.<ns>", and "<name>.<ns>" for the promotion gate.
    return f"rollback.{name}.{namespace}" if gate == "rollback" else f"{name}.{namespace}"


def _stamp(moment: datetime, ago: int = 0) -> str:
    """`ago` seconds before `moment`, as the API server serialises metav1.Time: whole seconds."""
    return (moment - timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
