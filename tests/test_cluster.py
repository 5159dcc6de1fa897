"""Cluster layer: hardened AKS defaults per stack, one secret kubeconfig, one provider for everyone."""

from __future__ import annotations

import yaml

from stacks.kubeconfig import AKS_SERVER_ID, non_interactive
from tests.harness import AKS_USER_KUBECONFIG, Run, run_program

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
K8S_PROVIDER = "pulumi:providers:kubernetes"


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
    grant = run.one(ROLE_ASSIGNMENT).inputs
    assert grant["roleDefinitionId"].endswith(
        "/roleDefinitions/b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
    )
    assert grant["principalId"] == "00000000-0000-0000-0000-0000000000d2"
    assert grant["scope"].endswith("cluster-aks")


def test_provider_waits_for_the_role_assignment_and_user_pool(runs: dict[str, Run]) -> None:
    run = runs["dev"]
    provider = run.one(K8S_PROVIDER)
    needed = {run.one(ROLE_ASSIGNMENT).urn, run.one(AGENT_POOL).urn}
    assert needed <= set(provider.dependencies), "provider may act before RBAC or nodes exist"


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
    for type_ in ("azure-native:resources:ResourceGroup", MANAGED_CLUSTER, AGENT_POOL):
        assert runs["prod"].one(type_).protect, f"prod {type_} is not protected"
        assert not runs["dev"].one(type_).protect, f"dev {type_} should be deletable"


def test_auto_upgrade_and_autoscaler_drift_is_ignored(runs: dict[str, Run]) -> None:
    for stack in ("dev", "prod"):
        run = runs[stack]
        assert "kubernetesVersion" in run.one(MANAGED_CLUSTER).ignore_changes
        assert "agentPoolProfiles[*].count" in run.one(MANAGED_CLUSTER).ignore_changes
        assert {"count", "orchestratorVersion"} <= set(run.one(AGENT_POOL).ignore_changes)


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
