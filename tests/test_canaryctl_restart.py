"""canaryctl restart-mesh: new proxies for every meshed workload, one at a time, and no release.

Against the fake API server with meshed workloads (tests/fake_workloads.py): namespaces annotated
for Linkerd's injector, its webhook configuration as the chart renders it, pods with or without
the proxy, a Canary as the platform renders it (target podinfo/podinfo), and workloads that roll
out as the apps controllers report it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from canaryctl.cli import main
from canaryctl.kube import RESTARTED_AT
from canaryctl.restart import has_proxy, injected, label_selector, rollout_status
from tests.fake_kube_api import Frame
from tests.fake_workloads import INJECTOR_WEBHOOK, FakeMeshApi


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
    assert "forbidden (403): user ci-bot may not list deployments.apps across all namespaces" in err
    assert not [w for w in api.workloads.values() if w.patches]


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


# ---- which workloads: the injector's own rules ----


def test_a_workload_whose_pods_started_unmeshed_is_found_and_gets_its_proxy(api, tmp_path, capsys):
    """Pods created while the injector was away (failure policy Ignore) carry no proxy and none
    of its labels; their namespace still asks for one."""
    api.add_workload("Deployment", "shop", "orders", replicas=2, pods_meshed=False)
    code, out, _ = canaryctl(api, tmp_path, capsys)
    assert code == 0, out
    assert api.patched("Deployment", "shop", "orders") == 1
    assert all(has_proxy(pod) for pod in api.workloads[("Deployment", "shop", "orders")].pods)


def test_pods_that_come_back_without_a_proxy_fail_the_command(api, tmp_path, capsys):
    api.injector_up = False
    code, out, _ = canaryctl(api, tmp_path, capsys)
    assert code == 3
    # The first in namespace order; it stops there: restarting more would unmesh them too.
    assert "deployment flagger-system/flagger: restarting ... FAILED: rolled out" in out
    assert "pod(s) flagger-1-0 run without a linkerd-proxy container" in out
    assert "the proxy injector did not inject them" in out
    assert sum(w.patches for w in api.workloads.values()) == 1
    assert "Restarted 0 of 6; stopped at deployment flagger-system/flagger" in out


@pytest.mark.parametrize("native_sidecar", [True, False])
def test_the_proxy_counts_as_a_native_sidecar_or_a_container(
    api, tmp_path, capsys, native_sidecar: bool
):
    api.native_sidecar = native_sidecar
    code, out, _ = canaryctl(api, tmp_path, capsys)
    assert code == 0, out


def test_an_init_container_named_like_the_proxy_that_exits_is_no_proxy() -> None:
    pod = {"spec": {"initContainers": [{"name": "linkerd-proxy"}], "containers": [{"name": "a"}]}}
    assert not has_proxy(pod)
    pod["spec"]["initContainers"][0]["restartPolicy"] = "Always"
    assert has_proxy(pod)


HOOK = INJECTOR_WEBHOOK["webhooks"][0]


def _ns(name: str, inject: str | None = None, **labels: str) -> dict:
    return {
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/metadata.name": name, **labels},
            "annotations": {"linkerd.io/inject": inject} if inject else {},
        }
    }


def _template(inject: str | None = None, host_network: bool = False, **labels: str) -> dict:
    return {
        "metadata": {
            "labels": {"app": "a", **labels},
            "annotations": {"linkerd.io/inject": inject} if inject else {},
        },
        "spec": {"hostNetwork": host_network, "containers": [{"name": "a"}]},
    }


@pytest.mark.parametrize(
    ("namespace", "template", "meshed"),
    [
        # linkerd2 edge-26.8.3 pkg/inject/report.go disabledByAnnotation, webhook rows
        (_ns("a", "enabled"), _template(), True),
        (_ns("a", "enabled"), _template("enabled"), True),
        (_ns("a", "enabled"), _template("disabled"), False),
        (_ns("a", "disabled"), _template("enabled"), True),
        (_ns("a"), _template("enabled"), True),
        (_ns("a"), _template("ingress"), True),
        (_ns("a", "ingress"), _template(), True),
        (_ns("a", "disabled"), _template("disabled"), False),
        (_ns("a"), _template("disabled"), False),
        (_ns("a", "disabled"), _template(), False),
        (_ns("a"), _template(), False),
        (_ns("a", "yes"), _template("enabled"), False),  # invalid namespace value
        (_ns("a", "enabled"), _template("true"), False),  # invalid pod value
        # Injectable: hostNetwork
        (_ns("a", "enabled"), _template(host_network=True), False),
        # the webhook's selectors (chart defaults)
        (_ns("a", "enabled", **{"config.linkerd.io/admission-webhooks": "disabled"}),
         _template("enabled"), False),
        (_ns("kube-system", "enabled"), _template("enabled"), False),
        (_ns("cert-manager"), _template("enabled"), False),
        (_ns("a", "enabled"), _template(**{"linkerd.io/control-plane-component": "x"}), False),
        (_ns("a", "enabled"), _template(**{"linkerd.io/cni-resource": "true"}), False),
    ],
)  # fmt: skip
def test_a_workload_is_meshed_where_the_injector_would_inject_it(
    namespace: dict, template: dict, meshed: bool
) -> None:
    assert injected(namespace, template, HOOK) is meshed


def test_a_template_that_carries_its_own_proxy_is_left_to_its_owner() -> None:
    """`linkerd inject` output: the injector skips it (HasExistingSidecars) and a restart would
    not change the proxy it carries."""
    template = _template()
    template["spec"]["containers"].append({"name": "linkerd-proxy"})
    assert not injected(_ns("a", "enabled"), template, HOOK)


def test_pod_selectors_are_sent_as_the_api_reads_them() -> None:
    selector = {
        "matchLabels": {"app": "web", "tier": "front"},
        "matchExpressions": [
            {"key": "track", "operator": "In", "values": ["stable", "canary"]},
            {"key": "legacy", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "NotIn", "values": ["x"]},
            {"key": "owner", "operator": "Exists"},
        ],
    }
    assert label_selector(selector) == (
        "app=web,tier=front,track in (stable,canary),!legacy,zone notin (x),owner"
    )


def test_without_the_injector_nothing_is_restarted(api, tmp_path, capsys):
    api.webhook = None
    code, _, err = canaryctl(api, tmp_path, capsys)
    assert code == 3
    assert "linkerd-proxy-injector-webhook-config) is not installed" in err
    assert not [w for w in api.workloads.values() if w.patches]


def test_a_namespace_opted_out_or_a_pod_template_disabled_is_left_alone(api, tmp_path, capsys):
    api.add_workload(
        "Deployment", "shop", "batch", template_annotations={"linkerd.io/inject": "disabled"}
    )
    api.add_namespace("tools", inject=None)
    api.add_workload(
        "Deployment", "tools", "meshed-one", template_annotations={"linkerd.io/inject": "enabled"}
    )
    api.add_workload("Deployment", "tools", "plain", meshed=False)
    code, _, _ = canaryctl(api, tmp_path, capsys)
    assert code == 0
    assert api.patched("Deployment", "shop", "batch") == 0
    assert api.patched("Deployment", "tools", "meshed-one") == 1
    assert api.patched("Deployment", "tools", "plain") == 0


# ---- a release under way ----


def test_a_namespace_with_a_release_under_way_is_skipped_and_named(api, tmp_path, capsys):
    api.canaries.clear()
    api.add_canary([Frame("Progressing", weight=20)])
    code, out, _ = canaryctl(api, tmp_path, capsys)
    assert code == 3
    assert "Skipping namespace podinfo: Canary podinfo is Progressing." in out
    assert api.patched("Deployment", "podinfo", "flagger-loadtester") == 0
    assert api.patched("Deployment", "podinfo", "podinfo-primary") == 0
    assert api.patched("Deployment", "linkerd-viz", "web") == 1
    assert out.rstrip().endswith(
        "Restarted 4 workload(s); not restarted, a release is under way there: deployment "
        "podinfo/flagger-loadtester, deployment podinfo/podinfo-primary. Run restart-mesh again "
        "when it is over."
    )


def test_force_restarts_there_too(api, tmp_path, capsys):
    api.canaries.clear()
    api.add_canary([Frame("WaitingPromotion")])
    api.add_workload("Deployment", "podinfo", "podinfo", replicas=2)  # mid-release: the canary
    code, out, _ = canaryctl(api, tmp_path, capsys, "--force")
    assert code == 0, out
    assert "Restarting in podinfo although Canary podinfo is WaitingPromotion (--force)." in out
    assert api.patched("Deployment", "podinfo", "flagger-loadtester") == 1
    assert api.patched("Deployment", "podinfo", "podinfo") == 0, "still never the target"
