"""canaryctl restart-mesh: new proxies for every meshed workload, one at a time, and no release.

Against the fake API server with meshed workloads (tests/fake_workloads.py): pods labelled as
Linkerd's injector labels them, a Canary as the platform renders it (target podinfo/podinfo),
and workloads that roll out as the apps controllers report it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from canaryctl.cli import main
from canaryctl.kube import RESTARTED_AT
from canaryctl.restart import rollout_status
from tests.fake_kube_api import Frame
from tests.fake_workloads import FakeMeshApi


@pytest.fixture
def api() -> Iterator[FakeMeshApi]:
    with FakeMeshApi() as fake:
        # podinfo between releases: the target has no pods; the primary serves.
        fake.add_canary([Frame("Succeeded")])
        fake.add_workload("Deployment", "podinfo", "podinfo-primary", replicas=2)
        fake.add_workload("Deployment", "podinfo", "flagger-loadtester", replicas=1)
        fake.add_workload("Deployment", "flagger-system", "flagger", replicas=1)
        fake.add_workload("Deployment", "linkerd-viz", "web", replicas=1)
        fake.add_workload("StatefulSet", "shop", "cache", replicas=2)
        fake.add_workload("DaemonSet", "shop", "agent", replicas=3)
        # Linkerd's own control plane, and something that is not meshed at all.
        fake.add_workload("Deployment", "linkerd", "linkerd-destination", control_plane=True)
        fake.add_workload("Deployment", "monitoring", "prometheus-server", meshed=False)
        yield fake


def canaryctl(api: FakeMeshApi, tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str):
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    code = main(["restart-mesh", *argv, "--poll", "0.01", "--kubeconfig", str(kubeconfig)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


RESTARTED = [
    ("DaemonSet", "shop", "agent"),
    ("Deployment", "flagger-system", "flagger"),
    ("Deployment", "linkerd-viz", "web"),
    ("Deployment", "podinfo", "flagger-loadtester"),
    ("Deployment", "podinfo", "podinfo-primary"),
    ("StatefulSet", "shop", "cache"),
]


def test_restarts_every_meshed_workload_one_at_a_time(api, tmp_path, capsys):
    code, out, err = canaryctl(api, tmp_path, capsys)
    assert (code, err) == (0, "")
    for kind, namespace, name in RESTARTED:
        assert api.patched(kind, namespace, name) == 1, (kind, namespace, name)
        annotations = api.workloads[(kind, namespace, name)].annotations
        assert RESTARTED_AT in annotations
    # One at a time: each rollout is done before the next workload is touched.
    patches = [line for line in api.order if line.startswith("patch")]
    assert len(patches) == len(RESTARTED)
    for index, line in enumerate(api.order[:-1]):
        if line.startswith("patch"):
            assert api.order[index + 1] == line.replace("patch", "done"), api.order
    assert "Restarting 6 meshed workload(s) one at a time" in out
    assert "deployment podinfo/podinfo-primary: restarting ... rolled out in 0:00" in out
    assert out.rstrip().endswith("Restarted 6 workload(s): every meshed pod runs a new proxy.")


def test_a_flagger_target_is_never_restarted(api, tmp_path, capsys):
    """A restart changes the target's pod template: Flagger would start a release."""
    api.add_workload("Deployment", "podinfo", "podinfo", replicas=2)  # mid-release: it has pods
    code, out, _ = canaryctl(api, tmp_path, capsys)
    assert code == 0
    assert api.patched("Deployment", "podinfo", "podinfo") == 0
    assert api.patched("Deployment", "podinfo", "podinfo-primary") == 1
    assert "Flagger targets spared (a restart would start a release): podinfo/podinfo" in out
    assert not [
        r for r in api.requests if r == "PATCH /apis/apps/v1/namespaces/podinfo/deployments/podinfo"
    ]


def test_leaves_the_control_plane_and_unmeshed_workloads_alone(api, tmp_path, capsys):
    canaryctl(api, tmp_path, capsys)
    assert api.patched("Deployment", "linkerd", "linkerd-destination") == 0
    assert api.patched("Deployment", "monitoring", "prometheus-server") == 0


def test_only_the_namespaces_asked_for(api, tmp_path, capsys):
    code, _, _ = canaryctl(api, tmp_path, capsys, "-n", "shop", "-n", "linkerd-viz")
    assert code == 0
    patched = {key for key, w in api.workloads.items() if w.patches}
    assert patched == {
        ("DaemonSet", "shop", "agent"),
        ("StatefulSet", "shop", "cache"),
        ("Deployment", "linkerd-viz", "web"),
    }


def test_dry_run_lists_and_changes_nothing(api, tmp_path, capsys):
    code, out, _ = canaryctl(api, tmp_path, capsys, "--dry-run")
    assert code == 0
    assert not [w for w in api.workloads.values() if w.patches]
    assert "Would restart 6 meshed workload(s)" in out
    assert "  statefulset shop/cache\n" in out


def test_a_rollout_that_does_not_finish_stops_with_exit_2(api, tmp_path, capsys):
    api.workloads[("Deployment", "linkerd-viz", "web")].stall = True
    code, out, _ = canaryctl(api, tmp_path, capsys, "--timeout", "0.3")
    assert code == 2
    assert "deployment linkerd-viz/web: restarting ... TIMED OUT after 0:00" in out
    assert "Restarted 1 of 6; stopped at deployment linkerd-viz/web" in out
    # Nothing after the stuck one is touched.
    assert api.patched("Deployment", "podinfo", "podinfo-primary") == 0


def test_a_failed_rollout_stops_with_exit_3_and_names_it(api, tmp_path, capsys):
    api.workloads[("Deployment", "flagger-system", "flagger")].deadline_exceeded = True
    code, out, _ = canaryctl(api, tmp_path, capsys)
    assert code == 3
    assert "FAILED: the deployment exceeded its progress deadline" in out
    assert "`kubectl -n flagger-system describe deployment flagger` says why" in out


def test_missing_rbac_is_a_one_line_error(api, tmp_path, capsys):
    api.forbidden.add("deployments")
    code, _, err = canaryctl(api, tmp_path, capsys)
    assert code == 3
    assert "forbidden (403): user ci-bot may not patch deployments.apps in namespace" in err


@pytest.mark.parametrize(
    ("kind", "status", "done"),
    [
        ("Deployment", {"observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2}, True),
        ("Deployment", {"observedGeneration": 1, "updatedReplicas": 2, "replicas": 3, "availableReplicas": 2}, False),
        ("Deployment", {"observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 1}, False),
        ("Deployment", {"observedGeneration": 0, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2}, False),
        ("DaemonSet", {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}, False),
        ("StatefulSet", {"observedGeneration": 1, "readyReplicas": 2, "currentRevision": "a", "updateRevision": "b"}, False),
        ("StatefulSet", {"observedGeneration": 1, "readyReplicas": 2, "currentRevision": "b", "updateRevision": "b"}, True),
    ],
)  # fmt: skip
def test_rollout_status_judges_as_kubectl_does(kind: str, status: dict, done: bool) -> None:
    obj = {"metadata": {"generation": 1}, "spec": {"replicas": 2}, "status": status}
    assert rollout_status(kind, obj)[0] is done


def test_a_workload_that_never_rolls_by_itself_is_a_failure_not_a_wait() -> None:
    obj = {"metadata": {"generation": 2}, "spec": {"updateStrategy": {"type": "OnDelete"}}}
    done, why = rollout_status("StatefulSet", obj)
    assert not done and why.startswith("failed: its updateStrategy is OnDelete")
