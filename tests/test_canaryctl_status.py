"""canaryctl status against the fake API server: the table, the events, and the installed command."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from canaryctl.cli import main
from tests.canary_recordings import NEW, manual, new_version_after_failure, ran_before, rollback
from tests.console_script import canaryctl
from tests.fake_kube_api import FakeKubeApi, Frame

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi() as fake:
        fake.add_canary(rollback())
        fake.add_canary(
            [Frame("Succeeded", events=("Promotion completed! Scaling down cart.shop",))],
            name="cart",
            namespace="shop",
        )
        yield fake


def advance(api: FakeKubeApi, polls: int) -> None:
    """Let Flagger get `polls` frames into the podinfo release."""
    for _ in range(polls):
        api.serve_canary(api.canaries[("podinfo", "podinfo")], advance=True)


def status(api: FakeKubeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str):
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    code = main(["status", "--kubeconfig", str(kubeconfig), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table_has_every_canary_with_weight_checks_and_age(api, tmp_path, capsys):
    advance(api, 6)  # 20% with 3 failed checks
    code, out, err = status(api, tmp_path, capsys)
    assert (code, err) == (0, "")
    header, first, second = out.splitlines()[:3]
    assert header.split() == ["CANARY", "PHASE", "WEIGHT", "FAILED", "CHECKS", "LAST", "TRANSITION"]
    assert first.split()[:4] == ["podinfo/podinfo", "Progressing", "20/50%", "3/5"]
    assert second.split()[:4] == ["shop/cart", "Succeeded", "0/50%", "0/5"]
    # lastTransitionTime has whole seconds: a second boundary may pass before `status` reads it.
    assert first.split()[4:] in (["0s", "ago"], ["1s", "ago"])
    assert second.split()[4:] in (["0s", "ago"], ["1s", "ago"])


def test_events_are_the_last_few_of_each_canary_newest_last(api, tmp_path, capsys):
    advance(api, 7)
    _, out, _ = status(api, tmp_path, capsys, "--events", "3")
    section = out[
        out.index("podinfo/podinfo: New revision detected, progressing") : out.index("shop/cart:")
    ]
    lines = [line for line in section.splitlines()[1:] if line.strip()]
    events = [line.split("  ")[-1].strip() for line in lines if " ago " in line]
    assert events == [
        "Advance podinfo.podinfo canary weight 10",
        "Advance podinfo.podinfo canary weight 20",
        "Halt podinfo.podinfo advancement success-rate 71.43 < 99 (x4)",
    ]
    assert "Warning" in lines[-2]
    # ...and what the newest known Warning means, in one line.
    assert lines[-1].strip().startswith("means  the canary missed its SLO")
    assert "Promotion completed! Scaling down cart.shop" in out[out.index("shop/cart:") :]


def test_namespace_flag_lists_only_that_namespace(api, tmp_path, capsys):
    code, out, _ = status(api, tmp_path, capsys, "-n", "shop")
    assert code == 0
    assert "shop/cart" in out
    assert "podinfo/podinfo" not in out
    assert "GET /apis/flagger.app/v1beta1/namespaces/shop/canaries" in api.requests
    assert "GET /api/v1/namespaces/shop/events" in api.requests


def test_no_canaries(tmp_path, capsys):
    with FakeKubeApi() as empty:
        code, out, _ = status(empty, tmp_path, capsys)
    assert (code, out) == (0, "No canaries in any namespace.\n")


def test_the_installed_canaryctl_command_runs(api, tmp_path):
    """`make install` puts `canaryctl` in venv/bin, the one form the README and docs use."""
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    result = subprocess.run(
        canaryctl("status", "--kubeconfig", str(kubeconfig)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert "podinfo/podinfo" in result.stdout
    assert "shop/cart" in result.stdout


def test_table_still_shows_when_events_are_forbidden(api, tmp_path, capsys):
    api.forbidden.add("events")
    code, out, _ = status(api, tmp_path, capsys)
    assert code == 0
    assert "podinfo/podinfo" in out.splitlines()[1]
    assert (
        "(events not shown: forbidden (403): user ci-bot may not list events across all namespaces"
        in out
    )


def test_each_check_shows_flaggers_last_value_against_its_threshold(api, tmp_path, capsys):
    advance(api, 6)  # at 20%, the success rate failing: Flagger stopped before latency
    _, out, _ = status(api, tmp_path, capsys)
    section = out[out.index("podinfo/podinfo: New revision") : out.index("shop/cart:")]
    names = ("request-volume", "success-rate", "latency")
    rows = [line.split() for line in section.splitlines() if line.strip().startswith(names)]
    assert rows == [
        ["request-volume", "176", ">=", "100", "pass"],
        ["success-rate", "71.43%", ">=", "99%", "FAIL"],
        ["latency", "8.3", "ms", "<=", "500", "ms", "not", "evaluated"],
    ]
    assert "checks (last measured by Flagger):" in section
    # A Canary Flagger never analysed has nothing recorded yet.
    cart = out[out.index("shop/cart:") :]
    assert "checks: nothing measured yet" in cart


def test_the_promotion_gate_row_shows_routed_traffic(tmp_path, capsys):
    with FakeKubeApi() as fake:
        fake.add_canary(manual(), manual_promotion=True)
        for _ in range(len(manual()) - 3):  # up to the gate
            fake.serve_canary(fake.canaries[("podinfo", "podinfo")], advance=True)
        _, out, _ = status(fake, tmp_path, capsys)
    row = out.splitlines()[1].split()
    assert row[:5] == ["podinfo/podinfo", "WaitingPromotion", "(awaiting", "promotion)", "50/50%"]


def test_a_new_revision_noticed_after_a_failure_is_not_shown_as_failed(tmp_path, capsys):
    # Flagger records "New revision detected! Scaling up" before it writes Progressing
    # (scheduler.go:910-925): in between the status is still rev-2's rollback.
    frames = [*ran_before(rollback()), *new_version_after_failure()]
    with FakeKubeApi() as fake:
        fake.add_canary(frames)
        noticed = len(rollback()) + 2
        for _ in range(noticed):
            fake.serve_canary(fake.canaries[("podinfo", "podinfo")], advance=True)
        _, out, _ = status(fake, tmp_path, capsys)
        assert frames[noticed].events == (NEW,)
    row = out.splitlines()[1]
    assert row.split()[:6] == [
        "podinfo/podinfo",
        "Failed",
        "(previous",
        "release;",
        "new",
        "revision",
    ]
    assert (
        "podinfo/podinfo: new revision detected, Flagger is scaling it up; phase and message are "
        "still the previous release's: Canary analysis failed, Deployment scaled to zero." in out
    )
    # rev-2's rollback is still among the events, but its meaning is not the new release's.
    assert "Rolling back podinfo.podinfo failed checks threshold reached 5" in out
    assert "means " not in out


def test_a_failed_release_is_failed_with_its_reason(tmp_path, capsys):
    # Its Failed was written runs after its new-revision event: the release's own end.
    with FakeKubeApi() as fake:
        fake.add_canary(ran_before(rollback()))
        for _ in range(len(rollback())):
            fake.serve_canary(fake.canaries[("podinfo", "podinfo")], advance=True)
        _, out, _ = status(fake, tmp_path, capsys)
    assert out.splitlines()[1].split()[:2] == ["podinfo/podinfo", "Failed"]
    assert "previous release" not in out
    assert "means  rolled back: the failed checks of this release reached the threshold" in out


def test_checks_need_prometheus_the_table_does_not(api, tmp_path, capsys):
    api.forbidden.add("services/proxy")
    advance(api, 6)
    code, out, _ = status(api, tmp_path, capsys)
    assert code == 0
    assert "podinfo/podinfo" in out.splitlines()[1]
    assert (
        "(check values not shown: forbidden (403): user ci-bot may not get services/proxy in "
        "namespace monitoring" in out
    )
