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
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from stacks.components.teardown import FORMER_GUARD_NAME, GUARD_NAME
from stacks.schema.services import SERVICES_DIR_ENV
from tests.harness import FIXTURES, ROOT, Run, run_program
from tests.lifecycle.aks import live_cluster
from tests.lifecycle.engine import Res, State, changed_keys, destroy, ignoring, plan_update
from tests.lifecycle.flagger import FINALIZER
from tests.lifecycle.world import FOREIGN_NAMESPACES, World, dynamic_provider
from tests.render_check import committed, render_stack

# A long analysis (the engine's update and destroy walked over several program runs per stack): `make test-slow`, which CI runs too.
pytestmark = pytest.mark.slow

SERVICES = {"podinfo": {"version": "6.14.1"}, "catalog": {"version": "6.14.1"}}
RELEASED = {**SERVICES, "podinfo": {"version": "6.14.0"}}
REMOVED = {"podinfo": {"version": "6.14.0"}}
KEPT_ON_PURPOSE = ("CustomResourceDefinition",)
GUARD = "platform:teardown:TeardownGuard"
LOCK = "pulumi-python:dynamic/teardown:TeardownLock"


@pytest.fixture(scope="module", autouse=True)
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """services/ with the catalog example added (namespace shop), as a user would have it."""
    directory = tmp_path_factory.mktemp("lifecycle") / "services"
    directory.mkdir()
    for path in [FIXTURES / "services/podinfo.yaml", ROOT / "examples/services/catalog.yaml"]:
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
    services = {n: {"version": v} for n, v in _services(run)}
    again = run_program(stack, {"services": services}, fresh=True)
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
    if old.type == LOCK:  # its own provider's diff, as the dynamic provider host calls it
        return list(dynamic_provider(new).diff(f"{old.name}-id", old.inputs, new.inputs).replaces)
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
    # The preview stops at the guard, whose name says what to do.
    assert f"{GUARD}::{GUARD_NAME} cannot be deleted" in result.preview_error
    assert result.preview_error.count("cannot be deleted") == 1
    # With --skip-preview the lock refuses first, alone: nothing is deleted or skipped.
    ((lock, why),) = [(o.res, o.detail) for o in result.outcomes]
    assert lock.type == LOCK and "`pulumi config set allowDestroy true`" in why
    assert {r.urn for r in result.left_in_state} == {r.urn for r in run.resources}
    assert w.cluster.objects and len(w.azure) == len(
        [r for r in run.resources if r.type.startswith("azure-native:")]
    )


@pytest.mark.parametrize("continue_on_error", [False, True])
def test_only_the_guard_unprotected_nothing_leaves_state(continue_on_error: bool) -> None:
    """What the engine's message for the guard offers: `pulumi state unprotect <guard>`, then
    `pulumi destroy` again (with --skip-preview, or the Automation API's destroy). The cluster
    is still protected; the armed lock refuses before anything goes with the cluster."""
    run = stage("prod", services_of(REMOVED))
    w = world("prod", run)
    state = _unprotected(run, lambda r: r.type == GUARD)
    result = destroy(state, w.provider_delete, continue_on_error=continue_on_error)
    assert not result.of("skipped"), "dropped from the state while still running"
    assert not result.of("deleted") and not kubernetes_calls(w)
    assert [o.res.type for o in result.errors] == [LOCK]
    assert {r.urn for r in result.left_in_state} == {r.urn for r in run.resources}
    # The preview (which calls no provider) now names the cluster: nothing happens there either.
    assert "cluster-aks" in result.preview_error


def test_unprotect_all_without_allow_destroy_still_stops_at_the_lock() -> None:
    """`pulumi state unprotect --all` changes protect bits, not the lock's state: the lock
    refuses and names the way that lifts both at once."""
    run = stage("prod", services_of(REMOVED))
    w = world("prod", run)
    result = destroy(_unprotected(run, lambda r: True), w.provider_delete)
    assert not result.preview_error, "the preview calls no provider: it shows the full delete"
    ((lock, why),) = [(o.res, o.detail) for o in result.outcomes]
    assert lock.type == LOCK and "then `pulumi up`" in why
    assert w.calls == [f"delete {lock}"] and w.cluster.objects


def test_prod_destroy_after_allow_destroy_and_up_behaves_as_dev() -> None:
    """`pulumi config set allowDestroy true`, `pulumi up`, then `pulumi destroy`."""
    before = stage("prod", services_of(REMOVED))
    after = run_program("prod", {"services": REMOVED, "allowDestroy": True})
    w = world("prod", before)
    plan = plan_update(
        State.of(before),
        State.of(after),
        replace_keys,
        w.provider_delete,
        generated=generated("prod", before),
    )
    # That `pulumi up` only disarms the lock (in place) and lifts the protect bits.
    assert [(s.op, State.of(after).by_urn[s.urn].type) for s in plan.steps] == [("update", LOCK)]
    assert not plan.deletes.outcomes and not plan.errors
    result = destroy(State.of(after), w.provider_delete)
    assert not result.preview_error
    assert not result.errors, [o.detail for o in result.errors]
    assert not result.left_in_state
    assert kubernetes_calls(w) == [] and not w.azure


def test_protecting_prod_again_re_arms_the_lock_in_place() -> None:
    before = run_program("prod", {"services": REMOVED, "allowDestroy": True})
    after = stage("prod", services_of(REMOVED))
    w = world("prod", before)
    plan = plan_update(
        State.of(before),
        State.of(after),
        replace_keys,
        w.provider_delete,
        generated=generated("prod", after),
    )
    assert [(s.op, State.of(after).by_urn[s.urn].type) for s in plan.steps] == [("update", LOCK)]
    assert w.calls == [], "a replacement would delete the lock"


def test_a_stack_with_the_former_guard_takes_it_over_without_a_delete() -> None:
    """Stacks deployed with the guard named teardown-guard and no lock: the alias renames it in
    place (its delete would fail on its protection and stop `pulumi up`); the lock is created."""
    now = stage("prod", services_of(REMOVED))
    guard = next(r for r in State.of(now).resources if r.type == GUARD)
    former = guard.urn.rsplit("::", 1)[0] + f"::{FORMER_GUARD_NAME}"
    old = State(
        [
            dataclasses.replace(
                r,
                urn=former if r.urn == guard.urn else r.urn,
                name=FORMER_GUARD_NAME if r.urn == guard.urn else r.name,
                aliases=(),
            )
            for r in State.of(now).resources
            if r.type != LOCK
        ]
    )
    w = world("prod", now)
    plan = plan_update(
        old, State.of(now), replace_keys, w.provider_delete, generated=generated("prod", now)
    )
    assert ("rename", guard.urn) in [(s.op, s.urn) for s in plan.steps]
    assert [State.of(now).by_urn[u].type for u in plan.ops("create")] == [LOCK]
    assert not plan.ops("delete") and not plan.errors and w.calls == []


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
    run = run_program("prod", {"services": REMOVED, "allowDestroy": True})
    w = world("prod", run)
    state = State(
        [
            dataclasses.replace(r, deleted_with="" if "AgentPool" in r.type else r.deleted_with)
            for r in State.of(run).resources
        ]
    )
    result = destroy(state, w.provider_delete)
    (failure,) = result.errors
    assert "PodDisruptionBudgets" in failure.detail


def test_without_the_guard_a_protected_cluster_strands_everything_in_it() -> None:
    run = stage("prod", services_of(REMOVED))
    state = State([r for r in State.of(run).resources if r.type not in (GUARD, LOCK)])
    w = world("prod", run)
    result = destroy(state, w.provider_delete)
    dropped = result.of("skipped")
    assert dropped and all(r.deleted_with for r in dropped)
    assert w.cluster.objects, "...while everything still runs"


def test_a_guard_without_its_lock_strands_everything_once_unprotected_alone() -> None:
    """The guard's protection alone: `pulumi state unprotect <guard>`, as the engine's message
    offers, and the next `pulumi destroy --skip-preview` drops everything that goes with the
    still-protected cluster from the state (isDeletedWith), then fails on the cluster."""
    run = stage("prod", services_of(REMOVED))
    w = world("prod", run)
    state = _unprotected(run, lambda r: r.type == GUARD)
    result = destroy(State([r for r in state.resources if r.type != LOCK]), w.provider_delete)
    dropped = result.of("skipped")
    assert len(dropped) > 50 and all(r.deleted_with for r in dropped)
    assert [o.res.type for o in result.errors] == ["azure-native:containerservice:ManagedCluster"]
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


def _unprotected(run: Run, which: Callable[[Res], bool]) -> State:
    """The state after `pulumi state unprotect` of the resources `which` selects."""
    return State(
        [dataclasses.replace(r, protect=False) if which(r) else r for r in State.of(run).resources]
    )


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


SERVER_ERRORS = {
    "query": (
        'sum(rate(response_total{namespace="{{ namespace }}", deployment="{{ target }}", '
        'direction="inbound", status_code=~"5.."}[{{ interval }}]))'
    ),
    "max": 1,
}


def test_a_custom_check_comes_and_goes_with_its_template_and_no_release() -> None:
    """Adding a custom check creates its MetricTemplate and updates the Canary (a release does not
    start: the pod template is the same); removing it updates the Canary first, then deletes the
    template (the engine deletes last), so Flagger never reads a check whose template is gone."""
    with_check = {
        **SERVICES,
        "catalog": {**SERVICES["catalog"], "checks": {"server-errors": SERVER_ERRORS}},
    }
    before = run_program("local", {"services": SERVICES})
    after = run_program("local", {"services": with_check})
    w = world("local", before)
    noise = generated("local", before)
    added = plan_update(
        State.of(before), State.of(after), replace_keys, w.provider_delete, generated=noise
    )
    names = {State.of(after).by_urn[s.urn].name: s.op for s in added.steps}
    template = "services-catalog-metric-catalog-server-errors"
    assert names == {template: "create", "services-catalog-canary": "update"}, names
    removed = plan_update(
        State.of(after), State.of(before), replace_keys, w.provider_delete, generated=noise
    )
    ops = [(s.op, State.of(after).by_urn[s.urn].name) for s in removed.steps]
    assert ops == [("update", "services-catalog-canary"), ("delete", template)], ops
    assert not removed.deletes.errors and not removed.errors
