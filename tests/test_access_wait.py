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
        status = getattr(server, "status", None)
        if status is not None:  # an HTTP error before any review, as a 401/403 from the API
            self.send_error(status)
            return
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
    # What every chart creates first, the same list doctor asks about (access_review.py).
    assert {(verb, resource) for verb, resource, _ in asked} == {
        ("create", "namespaces"),
        ("create", "customresourcedefinitions"),
        ("create", "clusterroles"),
        ("create", "clusterrolebindings"),
        ("create", "mutatingwebhookconfigurations"),
        ("create", "validatingwebhookconfigurations"),
        ("create", "apiservices"),
    }
    assert all(token == "Bearer t" for _, _, token in asked)


def test_an_unreachable_api_server_is_an_attempt_to_retry() -> None:
    attempt = access_wait._check_access(yaml.safe_load(kubeconfig("http://127.0.0.1:9")))
    assert not attempt.granted and attempt.error
    assert attempt.unreachable, f"a refused connection is no answer: {attempt}"
    # A name that does not resolve is no answer either (.invalid never resolves, RFC 6761).
    unknown = access_wait._check_access(yaml.safe_load(kubeconfig("https://aks.invalid:443")))
    assert unknown.unreachable, unknown


def test_an_http_error_is_an_answer(api_server: ThreadingHTTPServer) -> None:
    """A 401/403 or any HTTP status means the connection got through the authorized ranges."""
    api_server.status = 403  # type: ignore[attr-defined]
    port = api_server.server_address[1]
    attempt = access_wait._check_access(yaml.safe_load(kubeconfig(f"http://127.0.0.1:{port}")))
    assert attempt.error.startswith("HTTP 403") and not attempt.unreachable


def wait_seeing(answers: list[Attempt], ranges: tuple[str, ...]) -> str:
    clock = FakeClock()
    seen = iter(answers)
    last = answers[-1]
    with pytest.raises(AccessNotGranted) as raised:
        wait_for_access(
            kubeconfig("https://aks-dev.hcp.westeurope.azmk8s.io:443"),
            principal=PRINCIPAL,
            role=ROLE,
            authorized_ip_ranges=ranges,
            check=lambda _: next(seen, last),
            sleep=clock.sleep,
            clock=clock,
        )
    return str(raised.value)


TIMED_OUT = Attempt(
    error="MaxRetryError: ... ConnectTimeoutError(... 'Connection to aks timed out')",
    unreachable=True,
)


def test_only_connection_errors_name_the_authorized_ranges_not_rbac() -> None:
    message = wait_seeing([TIMED_OUT], ("203.0.113.0/24", "198.51.100.7/32"))
    assert "never answered" in message
    assert "apiServerAuthorizedIpRanges (203.0.113.0/24, 198.51.100.7/32)" in message
    assert "https://api.ipify.org" in message
    assert "pulumi config set --path 'apiServerAuthorizedIpRanges[2]' <address>/32" in message
    assert "ConnectTimeoutError" in message, "the last error is shown"
    for rbac in (ROLE, "clusterAdmins", "az role assignment"):
        assert rbac not in message, f"blames RBAC: {message}"


def test_connection_errors_without_ranges_blame_the_network() -> None:
    message = wait_seeing([TIMED_OUT], ())
    assert "apiServerAuthorizedIpRanges is empty" in message and "proxy" in message
    assert ROLE not in message


def test_one_answer_from_the_api_server_means_rbac_is_to_blame() -> None:
    """Once any attempt got through, the ranges admit this machine: later timeouts are transient."""
    message = wait_seeing([Attempt(error="HTTP 403 Forbidden"), TIMED_OUT], ("203.0.113.0/24",))
    assert ROLE in message and "clusterAdmins" in message
    assert "never answered" not in message


def test_the_program_hands_the_wait_its_authorized_ranges() -> None:
    from tests.harness import run_program

    ranges = ["203.0.113.0/24", "198.51.100.7/32"]
    run = run_program("dev", {"apiServerAuthorizedIpRanges": ranges})
    (wait,) = run.of_type("pulumi-python:dynamic/cluster:AccessWait")
    assert wait.inputs["authorizedIpRanges"] == ranges


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
