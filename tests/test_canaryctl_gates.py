"""canaryctl abort, promote and reset: the load tester gates they open and close, and refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from canaryctl.cli import main
from tests.canary_recordings import manual, progressing
from tests.fake_kube_api import FakeKubeApi, Frame, ProxyCall

PROXY = "flagger-loadtester:80"
BODY = {"name": "podinfo", "namespace": "podinfo"}


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi() as fake:
        yield fake


def canaryctl(api: FakeKubeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str):
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    code = main([*argv, "podinfo", "-n", "podinfo", "--kubeconfig", str(kubeconfig)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def aborting() -> list[Frame]:
    """A healthy release at 20% that Flagger rolls back once the rollback gate is open."""
    under_way = Frame("Progressing", 20, hold_until="rollback")
    rolled_back = Frame(
        "Failed", events=("Warning: Rolling back podinfo.podinfo manual webhook invoked",)
    )
    return [under_way, rolled_back]


def test_abort_opens_the_rollback_gate_then_closes_it(api, tmp_path, capsys):
    api.add_canary(aborting())
    code, out, err = canaryctl(api, tmp_path, capsys, "abort", "--poll", "0.01")
    assert (code, err) == (0, "")
    assert api.proxy_calls == [
        ProxyCall("podinfo", PROXY, "rollback/open", BODY),
        ProxyCall("podinfo", PROXY, "rollback/close", BODY),
    ]
    assert (
        "POST /api/v1/namespaces/podinfo/services/flagger-loadtester:80/proxy/rollback/open"
        in api.requests
    )
    assert "Flagger rolls it back at its next analysis run (within 1:00)" in out
    assert "Rolled back podinfo/podinfo; the rollback gate is closed again." in out
    assert not api.open_gates


def test_abort_without_waiting_leaves_the_gate_open_and_says_how_to_close_it(api, tmp_path, capsys):
    api.add_canary(aborting())
    code, out, _ = canaryctl(api, tmp_path, capsys, "abort", "--no-wait")
    assert code == 0
    assert api.proxy_calls == [ProxyCall("podinfo", PROXY, "rollback/open", BODY)]
    assert "stays OPEN: while it is, every new release is rolled back at once" in out
    assert "`canaryctl reset podinfo -n podinfo`" in out


def test_abort_times_out_with_2_and_the_gate_left_open(api, tmp_path, capsys):
    api.add_canary([Frame("Progressing", 20)])  # Flagger never acts on the gate
    code, out, _ = canaryctl(api, tmp_path, capsys, "abort", "--poll", "0.01", "--timeout", "0.1")
    assert code == 2
    assert api.open_gates == {"rollback.podinfo.podinfo"}
    assert "stays OPEN" in out


def test_abort_is_refused_when_no_release_is_under_way(api, tmp_path, capsys):
    api.add_canary([Frame("Succeeded")])
    code, out, err = canaryctl(api, tmp_path, capsys, "abort")
    assert (code, out) == (3, "")
    assert (
        err
        == "canaryctl: cannot abort podinfo/podinfo: no release is under way (phase Succeeded)\n"
    )
    assert api.proxy_calls == []


def test_promote_opens_the_promotion_gate_then_closes_it(api, tmp_path, capsys):
    api.add_canary(manual()[-4:], manual_promotion=True)  # waiting at the gate
    code, out, err = canaryctl(api, tmp_path, capsys, "promote", "--poll", "0.01")
    assert (code, err) == (0, "")
    assert api.proxy_calls == [
        ProxyCall("podinfo", PROXY, "gate/open", BODY),
        ProxyCall("podinfo", PROXY, "gate/close", BODY),
    ]
    assert "Flagger promotes it at its next analysis run" in out
    assert "Promotion of podinfo/podinfo under way (phase Promoting)" in out
    assert "the next release waits for approval" in out


def test_promote_is_refused_without_a_confirm_promotion_webhook(api, tmp_path, capsys):
    api.add_canary(progressing(), manual_promotion=False)
    code, _, err = canaryctl(api, tmp_path, capsys, "promote")
    assert code == 3
    assert err.startswith("canaryctl: podinfo/podinfo has no confirm-promotion webhook")
    assert "canaryManualPromotion=true" in err
    assert api.proxy_calls == []


def test_reset_closes_both_gates(api, tmp_path, capsys):
    api.add_canary([Frame("Succeeded")], manual_promotion=True)
    code, out, _ = canaryctl(api, tmp_path, capsys, "reset")
    assert code == 0
    assert [call.path for call in api.proxy_calls] == ["rollback/close", "gate/close"]
    assert out == (
        "Closed the rollback gate of podinfo/podinfo.\nClosed the promotion gate of podinfo/podinfo.\n"
    )


def test_forbidden_service_proxy_names_the_verb_and_resource(api, tmp_path, capsys):
    api.add_canary(aborting())
    api.forbidden.add("services/proxy")
    code, _, err = canaryctl(api, tmp_path, capsys, "abort")
    assert code == 3
    assert err == (
        "canaryctl: forbidden (403): user ci-bot may not create services/proxy in namespace "
        "podinfo; ask a cluster admin for RBAC that allows it "
        "(check: `kubectl auth can-i create services/proxy -n podinfo`)\n"
    )
