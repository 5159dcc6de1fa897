"""Cluster layer: hardened AKS defaults per stack, one secret kubeconfig, one provider for everyone."""

from __future__ import annotations

import re

import pytest
import yaml

from stacks.cluster.kubeconfig import AKS_SERVER_ID, non_interactive
from tests.harness import AKS_USER_KUBECONFIG, Run, run_program

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
MAINTENANCE = "azure-native:containerservice:MaintenanceConfiguration"
ACCESS_WAIT = "pulumi-python:dynamic/cluster:AccessWait"
K8S_PROVIDER = "pulumi:providers:kubernetes"
ADMIN = "11111111-2222-3333-4444-555555555555"


def cluster_of(run: Run) -> dict:
    return run.one(MANAGED_CLUSTER).inputs


def test_entra_id_with_azure_rbac_and_no_local_accounts(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod"):
        cluster = cluster_of(runs[stack])
        assert cluster["aadProfile"]["managed"] is True, stack
        assert cluster["aadProfile"]["enableAzureRBAC"] is True, stack
        assert cluster["disableLocalAccounts"] is True, stack
        assert cluster["enableRBAC"] is True, stack


def test_dev_may_enable_local_accounts_when_its_stack_says_so() -> None:
    cluster = cluster_of(run_program("dev", {"disableLocalAccounts": False}))
    assert cluster["disableLocalAccounts"] is False


def test_oidc_issuer_and_workload_identity(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod"):
        cluster = cluster_of(runs[stack])
        assert cluster["oidcIssuerProfile"] == {"enabled": True}, stack
        assert cluster["securityProfile"]["workloadIdentity"] == {"enabled": True}, stack
        assert runs[stack].outputs["oidcIssuerUrl"].startswith("https://"), stack


def test_system_pool_is_tainted_and_user_workloads_get_their_own_pool(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod"):
        (system,) = cluster_of(runs[stack])["agentPoolProfiles"]
        assert system["mode"] == "System"
        assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"], stack
        user = runs[stack].one(AGENT_POOL).inputs
        assert user["mode"] == "User", stack
        assert not user.get("nodeTaints"), f"{stack}: user pool must accept platform pods"


def test_prod_autoscales_across_zones_and_dev_does_not(runs: dict[str, Run]) -> None:
    prod = runs["prod"].one(AGENT_POOL).inputs
    assert prod["enableAutoScaling"] is True
    assert (prod["minCount"], prod["maxCount"]) == (3, 9)
    assert prod["availabilityZones"] == ["1", "2", "3"]
    assert cluster_of(runs["prod"])["agentPoolProfiles"][0]["availabilityZones"] == ["1", "2", "3"]
    dev = runs["dev"].one(AGENT_POOL).inputs
    assert dev["enableAutoScaling"] is False
    assert "minCount" not in dev and "availabilityZones" not in dev


def test_tier_is_standard_in_prod_and_free_in_dev(runs: dict[str, Run]) -> None:
    assert cluster_of(runs["prod"])["sku"]["tier"] == "Standard"
    assert cluster_of(runs["dev"])["sku"]["tier"] == "Free"


def test_upgrade_channels_are_set(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod"):
        profile = cluster_of(runs[stack])["autoUpgradeProfile"]
        assert profile == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}, stack


def test_azure_cni_overlay_without_cilium_dataplane(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod"):
        network = cluster_of(runs[stack])["networkProfile"]
        assert network["networkPlugin"] == "azure", stack
        assert network["networkPluginMode"] == "overlay", stack
        # Cilium's socket load balancing would bypass Linkerd's traffic split.
        assert network["networkDataplane"] == "azure", stack
        assert network["networkPolicy"] in ("calico", "azure"), stack


def test_api_server_allow_list_only_when_given(runs: dict[str, Run]) -> None:
    assert "apiServerAccessProfile" not in cluster_of(runs["dev"])
    ranges = ["203.0.113.0/24"]
    cluster = cluster_of(run_program("dev", {"apiServerAuthorizedIpRanges": ranges}))
    assert cluster["apiServerAccessProfile"]["authorizedIPRanges"] == ranges


def test_deployer_gets_aks_rbac_cluster_admin_on_the_cluster(runs: dict[str, Run]) -> None:
    run = runs["dev"]
    grant = run.one(ROLE_ASSIGNMENT)
    assert grant.inputs["roleDefinitionId"].endswith(
        "/roleDefinitions/b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
    )
    assert grant.inputs["principalId"] == "00000000-0000-0000-0000-0000000000d2"
    assert grant.inputs["scope"].endswith("cluster-aks")
    # The SDK would send User, which ARM refuses for a service principal (UnmatchedPrincipalType).
    assert grant.inputs["principalType"] == "User"
    # A later `pulumi up` by someone else must not move (replace) the first deployer's grant.
    assert {"principalId", "principalType"} <= set(grant.ignore_changes)


def test_ci_declares_a_service_principal_and_admins_come_from_config() -> None:
    admins = [
        {"objectId": ADMIN, "principalType": "Group"},
        {"objectId": ADMIN.replace("1", "9"), "principalType": "ServicePrincipal"},
    ]
    run = run_program("dev", {"deployerPrincipalType": "ServicePrincipal", "clusterAdmins": admins})
    grants = {g.inputs["principalId"]: g.inputs for g in run.of_type(ROLE_ASSIGNMENT)}
    assert grants["00000000-0000-0000-0000-0000000000d2"]["principalType"] == "ServicePrincipal"
    for admin in admins:
        grant = grants[admin["objectId"]]
        assert grant["principalType"] == admin["principalType"]
        assert grant["roleDefinitionId"].endswith("b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b")


def test_nothing_reaches_the_cluster_before_access_has_propagated(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod"):
        run = runs[stack]
        wait = run.one(ACCESS_WAIT)
        for grant in run.of_type(ROLE_ASSIGNMENT):
            assert run.waits_for(wait, grant), f"{stack}: the wait does not follow {grant}"
        assert wait.is_secret("kubeconfig"), f"{stack}: kubeconfig passed in plain text"
        provider = run.one(K8S_PROVIDER)
        assert {wait.urn, run.one(AGENT_POOL).urn} <= set(provider.dependencies)
        # ...and every object of every layer goes through that provider (test_platform.py).
    assert runs["local"].of_type(ACCESS_WAIT) == [], "the local stack has no Azure RBAC to wait for"


def test_the_wait_runs_again_when_grants_change() -> None:
    before = run_program("dev").one(ACCESS_WAIT).inputs["grants"]
    admins = [{"objectId": ADMIN, "principalType": "User"}]
    after = run_program("dev", {"clusterAdmins": admins}).one(ACCESS_WAIT).inputs["grants"]
    assert len(after) == len(before) + 1


@pytest.mark.slow  # several program runs: make test-slow
def test_dns_prefix_is_valid_for_aks_and_derived_from_the_cluster_name() -> None:
    assert cluster_of(run_program("dev"))["dnsPrefix"] == "aks-dev"
    derived = cluster_of(run_program("dev", {"clusterName": "aks_feature_x"}))
    assert (derived["resourceName"], derived["dnsPrefix"]) == ("aks_feature_x", "aks-feature-x")
    chosen = cluster_of(run_program("dev", {"dnsPrefix": "shop-dev"}))
    assert chosen["dnsPrefix"] == "shop-dev"


def test_maintenance_windows_keep_upgrades_to_the_weekend(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod"):
        windows = {m.inputs["configName"]: m.inputs for m in runs[stack].of_type(MAINTENANCE)}
        assert set(windows) == {"aksManagedAutoUpgradeSchedule", "aksManagedNodeOSUpgradeSchedule"}
        for window in windows.values():
            schedule = window["maintenanceWindow"]
            assert schedule["durationHours"] >= 4, "AKS needs at least 4 hours"
            assert schedule["schedule"]["weekly"]["dayOfWeek"] in ("Saturday", "Sunday")
            assert schedule["startTime"] == "02:00"
    window = {
        "dayOfWeek": "Tuesday",
        "startTime": "22:00",
        "durationHours": 6,
        "utcOffset": "+01:00",
    }
    tuned = run_program("dev", {"nodeOsUpgradeChannel": "None", "autoUpgradeWindow": window})
    (configured,) = tuned.of_type(MAINTENANCE)
    assert configured.inputs["maintenanceWindow"]["schedule"]["weekly"]["dayOfWeek"] == "Tuesday"
    assert configured.inputs["maintenanceWindow"]["utcOffset"] == "+01:00"


@pytest.mark.slow  # several program runs: make test-slow
def test_user_pool_is_renamed_and_created_first_when_an_immutable_setting_changes() -> None:
    base = run_program("dev").one(AGENT_POOL)
    assert re.fullmatch(r"user[0-9a-f]{8}", base.inputs["agentPoolName"])
    same = run_program("dev", {"nodeCount": 3}).one(AGENT_POOL)
    assert same.inputs["agentPoolName"] == base.inputs["agentPoolName"], "a count is no new pool"
    for changed in ({"nodeVmSize": "Standard_D8s_v5"}, {"availabilityZones": ["1", "2"]}):
        pool = run_program("dev", changed).one(AGENT_POOL)
        assert pool.inputs["agentPoolName"] != base.inputs["agentPoolName"], changed
        assert not pool.delete_before_replace, "the old pool must stay until the new one runs"


def test_kubeconfig_is_secret_and_non_interactive(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod"):
        run = runs[stack]
        assert "kubeconfig" in run.secret_outputs, f"{stack}: kubeconfig output is not secret"
        assert "kubeconfig" in run.one(K8S_PROVIDER).secret_inputs, f"{stack}: provider input"
        kubeconfig = yaml.safe_load(run.outputs["kubeconfig"])
        exec_config = kubeconfig["users"][0]["user"]["exec"]
        assert exec_config["args"][:3] == ["get-token", "--login", "azurecli"]
        assert "devicecode" not in exec_config["args"]
        assert exec_config["interactiveMode"] == "Never"


def test_kubeconfig_rewrite_keeps_cluster_and_is_stable() -> None:
    first = non_interactive(AKS_USER_KUBECONFIG, "spn")
    assert first == non_interactive(AKS_USER_KUBECONFIG, "spn"), "kubeconfig must not churn"
    document = yaml.safe_load(first)
    assert document["clusters"] == yaml.safe_load(AKS_USER_KUBECONFIG)["clusters"]
    args = document["users"][0]["user"]["exec"]["args"]
    assert args[:3] == ["get-token", "--login", "spn"]
    assert args[args.index("--server-id") + 1] == AKS_SERVER_ID
    assert "--tenant-id" in args and "--client-id" not in args
    assert "token" not in first.lower().replace("get-token", "")


def test_kubelogin_mode_comes_from_config() -> None:
    run = run_program("dev", {"kubeloginMode": "workloadidentity"})
    args = yaml.safe_load(run.outputs["kubeconfig"])["users"][0]["user"]["exec"]["args"]
    assert args[:3] == ["get-token", "--login", "workloadidentity"]


def test_prod_cluster_is_protected_and_dev_is_not(runs: dict[str, Run]) -> None:
    for type_ in ("azure-native:resources:ResourceGroup", MANAGED_CLUSTER):
        assert runs["prod"].one(type_).protect, f"prod {type_} is not protected"
        assert not runs["dev"].one(type_).protect, f"dev {type_} should be deletable"
        # Azure names are unique: a replacement (dev) must delete the old one first.
        for stack in ("dev", "prod"):
            assert runs[stack].one(type_).delete_before_replace, f"{stack} {type_}"
    # Replacing the user pool is safe (new pool first); protect would block the old pool's delete.
    assert not runs["prod"].one(AGENT_POOL).protect


def test_raising_kubernetes_version_upgrades_with_the_patch_channel(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod"):
        run = runs[stack]
        cluster = run.one(MANAGED_CLUSTER)
        assert cluster.inputs["kubernetesVersion"] == "1.35"
        assert "kubernetesVersion" not in cluster.ignore_changes, "version would be create-only"
        assert cluster.inputs["agentPoolProfiles"][0]["orchestratorVersion"] == "1.35"
        pool = run.one(AGENT_POOL)
        assert pool.inputs["orchestratorVersion"] == "1.35"
        assert "orchestratorVersion" not in pool.ignore_changes
        # VM size and zones of the system pool cannot change in place; counts reach the pools
        # (tests/test_cluster_lifecycle.py: and never a stale one on an autoscaled pool).
        assert {
            "agentPoolProfiles[*].vmSize",
            "agentPoolProfiles[*].availabilityZones",
        } <= set(cluster.ignore_changes)
        assert "agentPoolProfiles[*].count" not in cluster.ignore_changes
        assert "count" not in pool.ignore_changes


def test_stable_channel_owns_the_version() -> None:
    run = run_program("dev", {"upgradeChannel": "stable"})
    assert "kubernetesVersion" in run.one(MANAGED_CLUSTER).ignore_changes
    assert "agentPoolProfiles[*].orchestratorVersion" in run.one(MANAGED_CLUSTER).ignore_changes
    assert "orchestratorVersion" in run.one(AGENT_POOL).ignore_changes


def test_prod_api_server_is_reachable_only_from_its_authorized_ranges(runs: dict[str, Run]) -> None:
    profile = cluster_of(runs["prod"])["apiServerAccessProfile"]
    assert profile["authorizedIPRanges"] == ["203.0.113.0/24"]


def test_local_stack_registers_no_azure_resource(runs: dict[str, Run]) -> None:
    run = runs["local"]
    azure = [str(r) for r in run.resources if r.type.startswith("azure-native:")]
    assert azure == [], f"local stack touches Azure: {azure}"
    assert not [c for c in run.calls if c.startswith("azure-native:")]
    provider = run.one(K8S_PROVIDER).inputs
    assert provider["context"] == "kind-kind"


def test_outputs_name_the_cluster_and_next_steps(runs: dict[str, Run]) -> None:
    outputs = runs["dev"].outputs
    assert outputs["clusterName"] == "aks-dev"
    assert outputs["resourceGroupName"] == "rg-progressive-delivery-dev"
    assert (
        "az aks get-credentials --resource-group rg-progressive-delivery-dev --name aks-dev"
        in (outputs["getCredentials"])
    )
