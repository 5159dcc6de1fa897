"""Cluster layer after the first `pulumi up`: counts, pool rotation, create-only settings, what
goes with the cluster, and the guard that stops a protected stack's destroy.

Each run here is the program against a cluster that already runs (tests/lifecycle/aks.py), as
getManagedCluster reports it; the engine's side of the same changes is walked in
tests/test_lifecycle.py.
"""

from __future__ import annotations

from datetime import date

import pytest

from stacks.cluster.create_only import changes
from stacks.cluster.live import LiveCluster, not_found
from stacks.cluster.pools import pool_name
from stacks.config import ConfigError
from stacks.schema import load_source
from stacks.schema.cluster import ClusterConfig
from tests.harness import Existing, Run, run_program, source
from tests.lifecycle.aks import live_cluster, pool

# A long analysis (the cluster's update and destroy paths over several program runs): `make test-slow`, which CI runs too.
pytestmark = pytest.mark.slow

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
MAINTENANCE = "azure-native:containerservice:MaintenanceConfiguration"
GUARD = "platform:teardown:TeardownGuard"
LOCK = "pulumi-python:dynamic/teardown:TeardownLock"
REGISTRY = (
    "/subscriptions/00000000-0000-0000-0000-000000000099/resourceGroups/acr/providers/"
    "Microsoft.ContainerRegistry/registries/acmeshop"
)


def user_pool(run: Run) -> dict:
    return run.one(AGENT_POOL, "cluster-user-pool").inputs


def system_profile(run: Run) -> dict:
    (profile,) = run.one(MANAGED_CLUSTER).inputs["agentPoolProfiles"]
    return profile


# ---- counts ----


def test_node_counts_reach_pools_that_do_not_autoscale() -> None:
    run = run_program("dev", {"nodeCount": 3, "systemNodeCount": 2}, existing=live_cluster())
    assert user_pool(run)["count"] == 3
    assert system_profile(run)["count"] == 2
    assert "count" not in run.one(AGENT_POOL, "cluster-user-pool").ignore_changes
    assert "agentPoolProfiles[*].count" not in run.one(MANAGED_CLUSTER).ignore_changes


@pytest.mark.parametrize(
    ("running", "sent"),
    [(7, 7), (2, 3), (12, 9)],  # the autoscaler's count, within nodeMinCount-nodeMaxCount (3-9)
)
def test_an_autoscaled_pool_is_sent_its_own_count_never_a_stale_one(
    running: int, sent: int
) -> None:
    autoscaled = {"autoscaling": True, "nodeMinCount": 3, "nodeMaxCount": 9, "nodeCount": 3}
    name = pool_name("user", "Standard_D4s_v5", ())
    cluster = live_cluster(
        [
            pool("system", "Standard_D2s_v5", 1, mode="System"),
            pool(name, "Standard_D4s_v5", running, enableAutoScaling=True),
        ]
    )
    assert user_pool(run_program("dev", autoscaled, existing=cluster))["count"] == sent


def test_a_new_autoscaled_pool_starts_at_node_count() -> None:
    run = run_program("prod")  # no cluster yet
    assert user_pool(run)["count"] == 3
    assert (user_pool(run)["minCount"], user_pool(run)["maxCount"]) == (3, 9)


# ---- rotating the system pool ----


def test_system_pool_rotation_hands_the_role_over_after_the_new_pool_runs() -> None:
    run = run_program("dev", {"systemNodeVmSize": "Standard_D4s_v5"}, existing=live_cluster())
    new = run.one(AGENT_POOL, "cluster-system-pool")
    assert new.inputs["agentPoolName"] == pool_name("sys", "Standard_D4s_v5", ())
    assert new.inputs["mode"] == "System"
    assert new.inputs["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert new.inputs["vmSize"] == "Standard_D4s_v5"
    # The ManagedCluster's PUT, which hands the role over, comes after the new pool runs...
    cluster = run.one(MANAGED_CLUSTER)
    assert new.urn in cluster.dependencies
    # ...and names only `system`, which exists: a User pool with no nodes, its machines as AKS
    # has them (never "a new agent pool was introduced").
    assert system_profile(run)["count"] == 0
    assert system_profile(run)["name"] == "system"
    assert system_profile(run)["mode"] == "User"
    assert system_profile(run)["vmSize"] == "Standard_D2s_v5"


def test_a_second_rotation_replaces_the_system_pool_new_one_first() -> None:
    first = pool_name("sys", "Standard_D4s_v5", ())
    cluster = live_cluster(
        [
            pool("system", "Standard_D2s_v5", 0, mode="User"),
            pool(first, "Standard_D4s_v5", 1, mode="System"),
            pool("user32f4e8d4", "Standard_D4s_v5", 2),
        ]
    )
    run = run_program("dev", {"systemNodeVmSize": "Standard_D8s_v5"}, existing=cluster)
    new = run.one(AGENT_POOL, "cluster-system-pool")
    # Same resource, another AKS name: the engine replaces it, creating before deleting.
    assert new.inputs["agentPoolName"] == pool_name("sys", "Standard_D8s_v5", ())
    assert not new.delete_before_replace
    assert system_profile(run)["mode"] == "User" and system_profile(run)["count"] == 0


def test_asking_for_systems_own_machines_again_gives_it_the_role_back() -> None:
    cluster = live_cluster(
        [
            pool("system", "Standard_D2s_v5", 0, mode="User"),
            pool(pool_name("sys", "Standard_D4s_v5", ()), "Standard_D4s_v5", 1, mode="System"),
        ]
    )
    run = run_program("dev", existing=cluster)  # systemNodeVmSize is Standard_D2s_v5 again
    assert system_profile(run)["mode"] == "System" and system_profile(run)["count"] == 1
    assert run.of_type(AGENT_POOL) == [run.one(AGENT_POOL, "cluster-user-pool")]


def test_a_cluster_rotated_by_hand_gets_its_system_pool_back_under_pulumi() -> None:
    """`az aks nodepool delete --name system` (this README's old procedure): naming `system`
    would fail every PUT, so the ManagedCluster names no pool and the role gets an AgentPool."""
    cluster = live_cluster([pool("system2", "Standard_D4s_v5", 1, mode="System")])
    run = run_program("dev", existing=cluster)
    assert "agentPoolProfiles" not in run.one(MANAGED_CLUSTER).inputs
    assert run.one(AGENT_POOL, "cluster-system-pool").inputs["mode"] == "System"


# ---- create-only settings ----


def test_prod_refuses_a_create_only_change_naming_the_setting() -> None:
    cluster = live_cluster(network_policy="azure", dns_prefix="aks-prod")
    run = Run(stack="prod")
    with pytest.raises(ConfigError) as raised:
        run_program("prod", existing=cluster, run=run)
    message = str(raised.value)
    assert "progressive-delivery:networkPolicy: got 'calico'; the running cluster has 'azure'" in (
        message
    )
    assert "nothing was created" in message
    assert run.resources == [], "something was registered before the refusal"


def test_prod_lists_every_create_only_change_at_once() -> None:
    cluster = live_cluster(network_policy="azure", location="northeurope", dns_prefix="other")
    with pytest.raises(ConfigError) as raised:
        run_program("prod", existing=cluster)
    for key in ("location", "dnsPrefix", "networkPolicy"):
        assert f"progressive-delivery:{key}: got" in str(raised.value)


def test_dev_replaces_the_cluster_for_a_create_only_change() -> None:
    run = run_program("dev", {"networkPolicy": "azure"}, existing=live_cluster())
    cluster = run.one(MANAGED_CLUSTER)
    assert cluster.inputs["networkProfile"]["networkPolicy"] == "azure"
    assert cluster.delete_before_replace, "a same-named cluster cannot be created beside it"
    # The new cluster is planned from scratch: its own system pool, nodeCount for the user pool.
    assert system_profile(run)["mode"] == "System"
    assert run.of_type(AGENT_POOL) == [run.one(AGENT_POOL, "cluster-user-pool")]


@pytest.mark.parametrize(
    ("live", "key"),
    [
        ({"location": "northeurope"}, "location"),
        ({"dns_prefix": "another"}, "dnsPrefix"),
        ({"network": {"networkPolicy": "azure"}}, "networkPolicy"),
        ({"network": {"networkPluginMode": ""}}, None),  # not reported: not compared
        ({"network": {"networkDataplane": "cilium"}}, "networkDataplane"),
        ({"network": {"networkPlugin": "kubenet"}}, "networkPlugin"),
        ({"location": "West Europe"}, None),  # the same region, as a display name
    ],
)
def test_each_create_only_setting_is_compared_with_the_running_cluster(
    live: dict, key: str | None
) -> None:
    s = _settings()
    running = LiveCluster(
        location=live.get("location", s.location),
        dns_prefix=live.get("dns_prefix", s.dns_prefix),
        network={
            "networkPlugin": "azure",
            "networkPluginMode": "overlay",
            "networkDataplane": "azure",
            "networkPolicy": s.network_policy,
            **live.get("network", {}),
        },
        pools=(),
    )
    assert [c.key for c in changes(s, running)] == ([key] if key else [])
    assert changes(s, None) == []


def test_a_cluster_azure_cannot_read_stops_the_program() -> None:
    denied = Existing(aks_error="RESPONSE 403: 403 Forbidden\nERROR CODE: AuthorizationFailed")
    run = Run(stack="dev")
    with pytest.raises(ConfigError, match="could not read AKS cluster aks-dev"):
        run_program("dev", existing=denied, run=run)
    assert run.resources == []
    assert not_found(Exception("RESPONSE 404: 404 Not Found\nERROR CODE: ResourceGroupNotFound"))


# ---- what goes with the cluster ----


def test_the_clusters_children_in_azure_go_with_it() -> None:
    run = run_program("dev", {"containerRegistry": REGISTRY}, existing=live_cluster())
    cluster = run.one(MANAGED_CLUSTER)
    with_cluster = [
        run.one(AGENT_POOL, "cluster-user-pool"),
        *run.of_type(MAINTENANCE),
        *[g for g in run.of_type(ROLE_ASSIGNMENT) if "acr" not in g.name],
        run.one("pulumi-python:dynamic/cluster:AccessWait"),
    ]
    for resource in with_cluster:
        assert resource.deleted_with == cluster.urn, f"{resource} is deleted one by one"
    # The registry outlives the cluster: its grant is revoked on its own.
    (pull,) = [g for g in run.of_type(ROLE_ASSIGNMENT) if "acr" in g.name]
    assert pull.deleted_with == ""


def test_the_guard_depends_on_everything_and_is_protected_with_the_cluster() -> None:
    for stack, protected in (("dev", False), ("prod", True), ("local", False)):
        run = run_program(stack)
        guard, lock = run.one(GUARD), run.one(LOCK)
        assert guard.protect is protected, stack
        # The lock is the guard's child (deleted before it), armed where the cluster is
        # protected, and not protected itself: its refusal is what a destroy reports.
        assert lock.parent == guard.urn and lock.inputs["armed"] is protected, stack
        assert lock.protect is False, stack
        custom = {r.urn for r in run.resources if not r.type.startswith("platform:")}
        assert custom - {lock.urn} <= set(guard.dependencies), f"{stack}: not deleted first"


def test_allow_destroy_lifts_prods_protection_and_disarms_the_lock() -> None:
    run = run_program("prod", {"allowDestroy": True})
    protected = [str(r) for r in run.resources if r.protect]
    assert protected == [], "nothing may stay protected: destroy would strand what goes with it"
    assert run.one(LOCK).inputs["armed"] is False
    # Elsewhere nothing is protected in the first place; the key changes nothing there.
    assert not [r for r in run_program("dev", {"allowDestroy": True}).resources if r.protect]


def test_allow_destroy_in_prod_is_warned_about_on_every_run() -> None:
    allowed = load_source(source("prod", {"allowDestroy": True}, today=date(2026, 9, 1)))
    assert allowed.protect is False
    (warning,) = [w for w in allowed.warnings if "allowDestroy" in w]
    assert "`pulumi destroy` then deletes the whole stack" in warning
    protected = load_source(source("prod", today=date(2026, 9, 1)))
    assert protected.protect is True
    assert not [w for w in protected.warnings if "allowDestroy" in w]


def _settings() -> ClusterConfig:
    """dev's cluster settings, read by the program's own config schema."""
    settings = load_source(source("dev", today=date(2026, 9, 1)))
    assert settings.cluster is not None
    return settings.cluster
