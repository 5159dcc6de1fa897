"""The access wait: polls the API server's own answer, bounded, and names the role and principal."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from pulumi.runtime.rpc import UNKNOWN

from stacks.components import access_wait
from stacks.components.access_wait import AccessNotGranted, Attempt, wait_for_access

PRINCIPAL = "00000000-0000-0000-0000-0000000000d2"
ROLE = "Azure Kubernetes Service RBAC Cluster Admin"


def kubeconfig(server: str, user: dict | None = None) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "aks", "cluster": {"server": server}}],
            "contexts": [{"name": "aks", "context": {"cluster": "aks", "user": "me"}}],
            "current-context": "aks",
            "users": [{"name": "me", "user": user or {"token": "t"}}],
        }
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_waits_until_every_required_access_is_allowed() -> None:
    clock = FakeClock()
    answers = iter([Attempt(error="HTTP 401"), Attempt(refused=("create namespaces",)), Attempt()])
    waited = wait_for_access(
        kubeconfig("https://aks"),
        principal=PRINCIPAL,
        role=ROLE,
        check=lambda _: next(answers),
        sleep=clock.sleep,
        clock=clock,
    )
    assert waited == 2 * access_wait.POLL_SECONDS


def test_gives_up_after_ten_minutes_naming_role_principal_and_what_was_refused() -> None:
    clock = FakeClock()
    looks = []

    def refused(_: dict) -> Attempt:
        looks.append(clock.now)
        return Attempt(refused=("create namespaces",))

    with pytest.raises(AccessNotGranted) as raised:
        wait_for_access(
            kubeconfig("https://aks"),
            principal=PRINCIPAL,
            role=ROLE,
            check=refused,
            sleep=clock.sleep,
            clock=clock,
        )
    assert access_wait.TIMEOUT_SECONDS == 600
    assert looks[-1] <= 600 and len(looks) > 50, "it must poll, not sleep once"
    message = str(raised.value)
    for part in (PRINCIPAL, ROLE, "create namespaces", "clusterAdmins", "az role assignment list"):
        assert part in message


def test_a_missing_login_plugin_fails_at_once() -> None:
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "no-such-kubelogin",
        }
    }
    with pytest.raises(AccessNotGranted, match=r"no-such-kubelogin.*not on PATH"):
        wait_for_access(
            kubeconfig("https://aks", user),
            principal=PRINCIPAL,
            role=ROLE,
            check=lambda _: pytest.fail("must not poll"),
        )


class _Reviews(BaseHTTPRequestHandler):
    """SelfSubjectAccessReview as kube-apiserver answers it: allowed only after `denials` asks."""

    def do_POST(self) -> None:
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        attributes = body["spec"]["resourceAttributes"]
        server.asked.append(
            (attributes["verb"], attributes["resource"], self.headers["Authorization"])
        )
        allowed = len(server.asked) > server.denials
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": body["spec"],
            "status": {"allowed": allowed, **({} if allowed else {"reason": "Azure RBAC"})},
        }
        data = json.dumps(review).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Reviews)
    server.asked = []  # type: ignore[attr-defined]
    server.denials = 1  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_asks_the_api_server_with_self_subject_access_reviews(
    api_server: ThreadingHTTPServer,
) -> None:
    document = yaml.safe_load(kubeconfig(f"http://127.0.0.1:{api_server.server_address[1]}"))
    first = access_wait._check_access(document)
    assert first.refused == ("create namespaces",)
    assert access_wait._check_access(document).granted
    asked = api_server.asked  # type: ignore[attr-defined]
    assert {(verb, resource) for verb, resource, _ in asked} == {
        ("create", "namespaces"),
        ("create", "customresourcedefinitions"),
        ("create", "clusterrolebindings"),
    }
    assert all(token == "Bearer t" for _, _, token in asked)


def test_an_unreachable_api_server_is_an_attempt_to_retry() -> None:
    attempt = access_wait._check_access(yaml.safe_load(kubeconfig("http://127.0.0.1:9")))
    assert not attempt.granted and attempt.error


def test_only_new_grants_or_another_api_server_wait_again() -> None:
    provider = access_wait._AccessWaitProvider()
    olds = {"grants": ["a", "b"], "server": "https://aks", "principal": "person"}
    news = {"grants": ["b", "a"], "kubeconfig": kubeconfig("https://aks"), "principal": "ci"}
    assert not provider.diff("id", olds, news).changes, "another deployer needs no new wait"
    grown = provider.diff("id", olds, {**news, "grants": ["a", "b", "c"]})
    assert grown.changes and grown.replaces == ["grants"]
    moved = provider.diff("id", olds, {**news, "kubeconfig": kubeconfig("https://other")})
    assert moved.replaces == ["server"]


def test_a_preview_with_unknown_credentials_or_grants_is_a_possible_change() -> None:
    # The engine hands a dynamic provider unknown inputs as this sentinel (pulumi.runtime.rpc).
    provider = access_wait._AccessWaitProvider()
    olds = {"grants": ["a"], "server": "https://aks", "principal": "person"}
    for news in (
        {"grants": ["a"], "kubeconfig": UNKNOWN, "principal": "ci"},
        {"grants": ["a", UNKNOWN], "kubeconfig": kubeconfig("https://aks"), "principal": "ci"},
    ):
        assert provider.diff("id", olds, news).changes is None
