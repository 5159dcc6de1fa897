"""Every path after the first `pulumi up`: each stack walked through create -> release -> remove a
service -> destroy under the engines' real rules (tests/lifecycle/: the Pulumi engine's delete
and replace planning, Kubernetes' garbage collection, Flagger's finalizer, Azure's deletes),
applied to the registrations the program really makes. Nothing may wait on something already
gone, nothing foreign may be deleted, nothing running may be dropped from state.

docs/lifecycle.md names the test that pins each row.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from stacks.config_services import SERVICES_DIR_ENV
from tests.harness import ROOT, Run, run_program
from tests.lifecycle.aks import live_cluster
from tests.lifecycle.engine import Res, State, changed_keys, destroy, ignoring, plan_update
from tests.lifecycle.flagger import FINALIZER
from tests.lifecycle.world import FOREIGN_NAMESPACES, World
from tests.render_check import committed, render_stack

SERVICES = {"podinfo": {"version": "6.14.1"}, "catalog": {"version": "6.14.1"}}
RELEASED = {**SERVICES, "podinfo": {"version": "6.14.0"}}
REMOVED = {"podinfo": {"version": "6.14.0"}}
KEPT_ON_PURPOSE = ("CustomResourceDefinition",)


@pytest.fixture(scope="module", autouse=True)
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """services/ with the catalog example added (namespace shop), as a user would have it."""
    directory = tmp_path_factory.mktemp("lifecycle") / "services"
    directory.mkdir()
    for path in [ROOT / "services/podinfo.yaml", ROOT / "examples/services/catalog.yaml"]:
        shutil.copy(path, directory)
    patch = pytest.MonkeyPatch()
    patch.setenv(SERVICES_DIR_ENV, str(directory))
    yield directory
    patch.undo()


@cache
def stage(stack: str, services: tuple[tuple[str, str], ...]) -> Run:
    """The program's registrations for `stack` running these (name, version) services."""
    return run_program(stack, {"services": {n: {"version": v} for n, v in services}})


def generated(stack: str, run: Run) -> set[str]:
    """What differs between two identical runs: keys, certificates and passwords the mocks
    generate anew each time (an engine keeps them in state), and whatever embeds them."""
    again = run_program(stack, {"services": {n: {"version": v} for n, v in _services(run)}})
    same = {r.urn: r.inputs for r in again.resources}
    noise = {r.urn for r in run.resources if same.get(r.urn) != r.inputs}
    assert all(
        State.of(run)
        .by_urn[u]
        .type.startswith(("tls:", "random:", "kubernetes:core/v1:Secret", "kubernetes:helm"))
        for u in noise
    ), noise
    return noise


def _services(run: Run) -> list[tuple[str, str]]:
    return [(name, entry["version"]) for name, entry in run.outputs["services"].items()]


def services_of(spec: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, entry["version"]) for name, entry in spec.items()))


def world(stack: str, run: Run) -> World:
    """The cluster (and Azure) as `pulumi up` of `run` leaves it, Helm releases rendered."""
    return World.of(run, render_stack(stack, run, reuse=committed(stack)))


def replace_keys(old: Res, new: Res) -> list[str]:
    """What each provider's Diff calls a replacement (the keys this program can change)."""
    if old.type.startswith("kubernetes:"):
        a, b = old.inputs.get("metadata") or {}, new.inputs.get("metadata") or {}
        moved = [k for k in ("name", "namespace") if a.get(k) != b.get(k)]
        return [f"metadata.{k}" for k in moved] + [
            k for k in ("kind", "apiVersion") if old.inputs.get(k) != new.inputs.get(k)
        ]
    force_new = {  # pulumi-azure-native provider/pkg/gen/replacement.go, plus the URL's names
        "azure-native:containerservice:ManagedCluster": (
            "resourceName", "resourceGroupName", "location", "dnsPrefix", "networkProfile",
        ),
        "azure-native:containerservice:AgentPool": (
            "agentPoolName", "resourceName", "resourceGroupName", "vmSize",
        ),
        "azure-native:resources:ResourceGroup": ("resourceGroupName", "location"),
        "azure-native:authorization:RoleAssignment": ("principalId", "scope"),
    }.get(old.type, ())  # fmt: skip
    return [k for k in force_new if old.inputs.get(k) != new.inputs.get(k)]


def kubernetes_calls(w: World) -> list[str]:
    return [c for c in w.calls if "kubernetes:" in c]


# ---- the walk, per stack ----


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_release_changes_only_the_services_deployment(stack: str) -> None:
    before, after = stage(stack, services_of(SERVICES)), stage(stack, services_of(RELEASED))
    w = world(stack, before)
    plan = plan_update(
        State.of(before),
        State.of(after),
        replace_keys,
        w.provider_delete,
        generated=generated(stack, before),
    )
    changed = [(s.op, State.of(after).by_urn[s.urn].name) for s in plan.steps]
    assert changed == [("update", "services-podinfo-deployment")], changed
    assert not plan.deletes.outcomes and not plan.errors


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_removing_a_service_deletes_it_and_everything_flagger_made_for_it(stack: str) -> None:
    before, after = stage(stack, services_of(RELEASED)), stage(stack, services_of(REMOVED))
    w = world(stack, before)
    generated = [o.key for o in w.created_by("flagger") if o.namespace == "shop"]
    assert generated, "Flagger generated nothing for catalog: the model is not seeded"
    plan = plan_update(State.of(before), State.of(after), replace_keys, w.provider_delete)
    assert not plan.deletes.errors, [o.detail for o in plan.deletes.errors]
    assert not plan.deletes.not_attempted
    gone = {State.of(before).by_urn[u].name for u in plan.ops("delete")}
    assert {
        "services-catalog-canary",
        "services-shop-namespace",
        "services-shop-loadtester",
    } <= gone
    for key in generated:
        assert not w.cluster.exists(key), f"{key} outlived its Canary"
    assert not w.cluster.in_namespace("shop") and not w.cluster.get("Namespace", "", "shop")
    # podinfo and its namespace are untouched, and so is everything that is not the stack's.
    assert w.cluster.get("Canary", "podinfo", "podinfo") is not None
    assert w.cluster.get("Service", "podinfo", "podinfo") is not None
    _foreign_untouched(w)


def test_local_destroy_removes_what_the_stack_created_and_nothing_else() -> None:
    run = stage("local", services_of(REMOVED))
    w = world("local", run)
    result = destroy(State.of(run), w.provider_delete)
    assert not result.errors, [o.detail for o in result.errors]
    assert not result.left_in_state
    left = [o for o in w.cluster.objects.values() if o.created_by not in ("foreign",)]
    kept = [o for o in left if o.kind in KEPT_ON_PURPOSE]
    assert [o for o in left if o not in kept] == [], "left behind in the cluster"
    # The CRDs kept on purpose: shared with other software, Gateway API and Flagger's (retained
    # by the program) and cert-manager's (its chart keeps them).
    names = {o.name for o in kept}
    assert {"httproutes.gateway.networking.k8s.io", "canaries.flagger.app"} <= names
    assert "certificates.cert-manager.io" in names
    _foreign_untouched(w)


def test_local_destroy_leaves_no_alertmanager_volume_claim() -> None:
    run = stage("local", services_of(REMOVED))
    w = world("local", run)
    claims = [o.key for o in w.cluster.objects.values() if o.kind == "PersistentVolumeClaim"]
    assert claims, "the Alertmanager StatefulSet's claim is not modelled"
    destroy(State.of(run), w.provider_delete)
    assert not [k for k in claims if w.cluster.exists(k)]


def test_dev_destroy_deletes_the_cluster_and_touches_nothing_inside_it() -> None:
    run = stage("dev", services_of(REMOVED))
    w = world("dev", run)
    result = destroy(State.of(run), w.provider_delete)
    assert not result.errors, [o.detail for o in result.errors]
    assert not result.left_in_state
    assert kubernetes_calls(w) == [], "an in-cluster delete would wait on a cluster being deleted"
    deleted = [r.type for r in result.of("deleted")]
    assert deleted[-2:] == [
        "azure-native:containerservice:ManagedCluster",
        "azure-native:resources:ResourceGroup",
    ]
    # The cluster's children in Azure go with it: nothing drains a pool one by one.
    skipped = {r.type for r in result.of("skipped")}
    assert {
        "azure-native:containerservice:AgentPool",
        "azure-native:containerservice:MaintenanceConfiguration",
        "azure-native:authorization:RoleAssignment",
    } <= skipped
    assert not w.azure


def test_prod_destroy_stops_before_it_deletes_or_forgets_anything() -> None:
    run = stage("prod", services_of(REMOVED))
    w = world("prod", run)
    result = destroy(State.of(run), w.provider_delete)
    # The preview stops at the guard; and with --skip-preview nothing is deleted or skipped.
    assert "teardown-guard" in result.preview_error
    assert [o.res.name for o in result.outcomes] == ["teardown-guard"]
    assert {r.urn for r in result.left_in_state} == {r.urn for r in run.resources}
    assert w.calls == [] and w.cluster.objects and w.azure


def test_prod_destroy_after_unprotect_behaves_as_dev() -> None:
    """`pulumi state unprotect --all`, then `pulumi destroy`, as docs/operations.md says."""
    run = stage("prod", services_of(REMOVED))
    w = world("prod", run)
    state = State([dataclasses.replace(r, protect=False) for r in State.of(run).resources])
    result = destroy(state, w.provider_delete)
    assert not result.errors, [o.detail for o in result.errors]
    assert kubernetes_calls(w) == [] and not w.azure


# ---- the rules each fix rests on: the same walks fail without it ----


def test_a_canary_with_revert_on_deletion_never_goes_under_foreground_deletion() -> None:
    """The old Canary: Flagger's finalizer needs the apex Service, which Foreground deletion
    removes first (it is the Canary's): the delete waits until the provider gives up."""
    before, after = stage("local", services_of(RELEASED)), stage("local", services_of(REMOVED))
    w = _with_revert_on_deletion(before)
    plan = plan_update(State.of(before), State.of(after), replace_keys, w.provider_delete)
    (failure,) = plan.deletes.errors
    assert failure.res.name == "services-catalog-canary"
    assert "Foreground" in failure.detail and FINALIZER in failure.detail
    assert "services" in w.flagger.errors[-1] and "not found" in w.flagger.errors[-1]


def test_background_deletion_would_need_flagger_alive_until_the_end() -> None:
    """The other fix, not taken: Background propagation lets Flagger finish first, but only while
    Flagger runs; with Flagger gone (or down) the Canary and its namespace never go."""
    before = stage("local", services_of(RELEASED))
    w = _with_revert_on_deletion(before)
    canary = w.cluster.get("Canary", "shop", "catalog")
    assert canary is not None
    w.cluster.delete(("Deployment", "flagger-system", "flagger"))  # Flagger is down
    w.cluster.delete(canary.key, "Background")
    w.cluster.settle()
    assert w.cluster.exists(canary.key) and FINALIZER in canary.finalizers


def test_without_deleted_with_a_prod_user_pool_drain_stops_at_pod_disruption_budgets() -> None:
    run = stage("prod", services_of(REMOVED))
    w = world("prod", run)
    state = State(
        [
            dataclasses.replace(
                r, protect=False, deleted_with="" if "AgentPool" in r.type else r.deleted_with
            )
            for r in State.of(run).resources
        ]
    )
    result = destroy(state, w.provider_delete)
    (failure,) = result.errors
    assert "PodDisruptionBudgets" in failure.detail


def test_without_the_guard_a_protected_cluster_strands_everything_in_it() -> None:
    run = stage("prod", services_of(REMOVED))
    state = State([r for r in State.of(run).resources if r.name != "teardown-guard"])
    w = world("prod", run)
    result = destroy(state, w.provider_delete)
    dropped = result.of("skipped")
    assert dropped and all(r.deleted_with for r in dropped)
    assert w.cluster.objects, "...while everything still runs"


# ---- replacements and rotations ----


def test_dev_create_only_change_replaces_the_cluster_and_everything_in_it() -> None:
    before = stage("dev", services_of(REMOVED))
    after = run_program(
        "dev",
        {"services": REMOVED, "networkPolicy": "azure"},
        existing=live_cluster(),
    )
    w = world("dev", before)
    plan = plan_update(State.of(before), State.of(after), replace_keys, w.provider_delete)
    old = State.of(before)
    cluster = next(r for r in old.resources if r.type.endswith("ManagedCluster"))
    assert ("delete-before-replace", cluster.urn) in [(s.op, s.urn) for s in plan.steps]
    in_cluster = [r for r in old.resources if r.deleted_with == cluster.urn]
    replaced = {s.urn for s in plan.steps if s.op == "create-replacement"}
    assert {r.urn for r in in_cluster} <= replaced, "left in state, gone with the old cluster"
    assert kubernetes_calls(w) == [], "deletes of what goes with the cluster are skipped"
    assert not plan.errors


def test_an_older_cli_keeps_what_went_with_a_replaced_cluster_in_state() -> None:
    """Why the program needs Pulumi CLI 3.260+: before #23818 a resource deleted with its
    replaced target is neither replaced nor deleted: the state describes objects that are gone."""
    before = stage("dev", services_of(REMOVED))
    after = run_program(
        "dev", {"services": REMOVED, "networkPolicy": "azure"}, existing=live_cluster()
    )
    w = world("dev", before)
    plan = plan_update(
        State.of(before), State.of(after), replace_keys, w.provider_delete, cli=(3, 259, 0)
    )
    replaced = {s.urn for s in plan.steps if s.op == "create-replacement"}
    namespace = next(r for r in State.of(before).resources if r.name == "mesh-namespace")
    assert namespace.urn not in replaced


def _with_revert_on_deletion(run: Run) -> World:
    for r in run.resources:
        if r.inputs.get("kind") == "Canary":
            r.inputs = {**r.inputs, "spec": {**r.inputs["spec"], "revertOnDeletion": True}}
    try:
        return world("local", run)
    finally:
        for r in run.resources:
            if r.inputs.get("kind") == "Canary":
                spec = dict(r.inputs["spec"])
                spec.pop("revertOnDeletion")
                r.inputs = {**r.inputs, "spec": spec}


def _foreign_untouched(w: World) -> None:
    for name in FOREIGN_NAMESPACES:
        if w.cluster_gone:
            return
        assert w.cluster.get("Namespace", "", name) is not None, f"deleted foreign namespace {name}"
    assert w.cluster.get("Deployment", "team-a", "their-app") is not None


def test_a_new_anchor_validity_never_swaps_a_running_anchor() -> None:
    """pulumi-tls replaces a certificate on any input change; the anchor ignores its validity,
    so the engine sends the old one (processIgnoreChanges) and the generation's anchor stays."""
    before = run_program("dev", {"trustAnchorValidityDays": 3650})
    after = run_program("dev", {"trustAnchorValidityDays": 1825})
    old = State.of(before).by_urn
    anchor = next(r for r in State.of(after).resources if r.name == "mesh-identity-anchor-g1")
    assert anchor.inputs["validityPeriodHours"] != old[anchor.urn].inputs["validityPeriodHours"]
    sent = ignoring(old[anchor.urn], anchor)
    # What still differs is the key the mocks generate anew each run (an engine keeps it).
    assert changed_keys(old[anchor.urn], sent) in ([], ["privateKeyPem"])


@pytest.mark.parametrize("key", ["clusterName", "resourceGroupName"])
def test_another_cluster_name_in_prod_is_refused_by_the_clusters_protection(key: str) -> None:
    """Another name is another cluster: a replacement, which `protect` refuses before it starts
    (step_generator.go continueStepsFromDiff)."""
    value = "aks-other" if key == "clusterName" else "rg-other"
    before, after = (
        stage("prod", services_of(REMOVED)),
        run_program("prod", {key: value, "services": REMOVED}),
    )
    w = world("prod", before)
    plan = plan_update(State.of(before), State.of(after), replace_keys, w.provider_delete)
    protected = "cluster-aks" if key == "clusterName" else "cluster-rg"
    assert any(protected in e and "protected" in e for e in plan.errors), plan.errors
    assert w.calls == [], "the engine bails before any step"
