"""canaryctl doctor: one PASS/FAIL/SKIP line per check, a fix under each FAIL, exit 0 or 3.

Tools and the Azure checks here; the cluster checks in test_canaryctl_doctor_cluster.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from canaryctl.azure_checks import allowed
from tests.doctor_fakes import (
    CONTRIBUTOR,
    OTHER_SUBSCRIPTION,
    ROOT,
    SUBSCRIPTION,
    FakeRunner,
    account,
    error,
    ok,
    permissions,
    project,
    run,
    use_checkout,
    versions,
)


@pytest.fixture
def in_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    use_checkout(monkeypatch)


def test_missing_tools_fail_with_install_hints(in_checkout):
    code, checks, text = run("dev", FakeRunner(tools=set()))
    assert code == 3
    assert checks["pulumi"] == (
        "FAIL",
        "not on PATH",
        "install the Pulumi CLI 3.260 or newer: https://www.pulumi.com/docs/install/",
    )
    assert checks["az"][0:2] == ("FAIL", "not on PATH")
    assert "https://learn.microsoft.com/cli/azure/install-azure-cli" in checks["az"][2]
    assert checks["kubelogin"] == (
        "FAIL",
        "not on PATH",
        "install kubelogin 0.1.4 or newer: `az aks install-cli`",
    )
    assert checks["kubectl"][2].endswith("`az aks install-cli`")
    assert checks["azure login"] == ("SKIP", "needs az (see above)", "")
    assert checks["kubeconfig"][0] == "SKIP"
    assert text.rstrip().endswith("fix the FAIL lines above, then run doctor again.")


def test_old_tools_fail(in_checkout):
    runner = FakeRunner(answers={("pulumi", "version"): ok("v3.150.2\n")})
    _, checks, _ = run("dev", runner)
    assert checks["pulumi"][:2] == ("FAIL", "3.150.2 at /fake/bin/pulumi is older than 3.260.0")


def test_a_cli_without_the_deleted_with_replacement_cascade_fails(in_checkout):
    """3.259 keeps what went with a replaced cluster in state (docs/lifecycle.md)."""
    runner = FakeRunner(answers={("pulumi", "version"): ok("v3.259.0\n")})
    _, checks, _ = run("dev", runner)
    assert checks["pulumi"] == (
        "FAIL",
        "3.259.0 at /fake/bin/pulumi is older than 3.260.0",
        "install the Pulumi CLI 3.260 or newer: https://www.pulumi.com/docs/install/",
    )
    runner = FakeRunner(answers={("pulumi", "version"): ok("v3.260.0\n")})
    _, checks, _ = run("local", runner)
    assert checks["pulumi"] == ("PASS", "3.260.0 at /fake/bin/pulumi", "")


def test_python_m_canaryctl_doctor_without_any_tool(tmp_path):
    """As on a fresh machine: nothing on PATH, so every tool fails with its fix and exit is 3."""
    for stack in ("dev", "local"):
        result = subprocess.run(
            [sys.executable, "-m", "canaryctl", "doctor", "--stack", stack],
            cwd=ROOT,
            env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 3, result.stdout + result.stderr
        assert result.stderr == ""
        lines = result.stdout.splitlines()
        tools = (
            ("pulumi", "az", "kubelogin", "kubectl") if stack == "dev" else ("pulumi", "kubectl")
        )
        for tool in tools:
            at = lines.index(f"FAIL  {tool}: not on PATH")
            assert lines[at + 1].startswith("      fix: install ")
        if stack == "local":
            assert "SKIP  az: not needed: local stack uses no Azure" in lines
            assert f"FAIL  kubeconfig: no kubeconfig at {tmp_path}/.kube/config" not in lines
            assert "FAIL  kubeconfig: no kubeconfig at ~/.kube/config" in lines


def test_everything_passes_on_a_ready_subscription(in_checkout):
    runner = FakeRunner()
    code, checks, text = run("dev", runner)
    assert code == 0, text
    assert checks["azure login"][0] == "PASS"
    assert f"az's default subscription Platform Dev ({SUBSCRIPTION})" in checks["azure login"][1]
    assert checks["kubernetes version"] == (
        "PASS",
        "1.35 offered in westeurope (patches: 1.35.1, 1.35.3)",
        "",
    )
    assert checks["role assignments"][:2] == (
        "PASS",
        f"you may create role assignments on subscription {SUBSCRIPTION}",
    )
    assert checks["kubeconfig"] == ("SKIP", "no cluster yet (`pulumi up` creates it)", "")
    assert checks["flagger crds"][0] == "SKIP"
    assert checks["kubectl skew"][0] == "PASS"
    (versions_call,) = runner.ran("az", "aks", "get-versions")
    assert versions_call.args[1:] == (
        "aks",
        "get-versions",
        "--location",
        "westeurope",
        "--subscription",
        SUBSCRIPTION,
        "--output",
        "json",
    )
    assert text.rstrip().endswith("ready for `pulumi up`.")


def test_logged_in_to_another_subscription_names_both(tmp_path, monkeypatch):
    monkeypatch.chdir(project(tmp_path, "dev", {"azure-native:subscriptionId": SUBSCRIPTION}))
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", "ignored: the stack config wins")
    runner = FakeRunner(answers={("az", "account", "show"): account(OTHER_SUBSCRIPTION, "Sandbox")})
    code, checks, _ = run("dev", runner)
    assert code == 3
    status, result, fix = checks["azure login"]
    assert status == "FAIL"
    assert f"uses subscription Sandbox ({OTHER_SUBSCRIPTION})" in result
    assert (
        f"the stack deploys to {SUBSCRIPTION} (azure-native:subscriptionId in Pulumi.dev.yaml)"
        in result
    )
    assert fix.startswith(f"`az account set --subscription {SUBSCRIPTION}`")
    # The other checks look at the subscription the stack deploys to.
    assert runner.ran("az", "aks", "get-versions")[0].args[-3] == SUBSCRIPTION


def test_a_secret_subscription_id_is_not_compared(tmp_path, monkeypatch):
    secret = {"azure-native:subscriptionId": {"secure": "v1:abc"}}
    monkeypatch.chdir(project(tmp_path, "dev", secret))
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", OTHER_SUBSCRIPTION)  # the config wins, even secret
    code, checks, _ = run("dev", FakeRunner())
    assert code == 0
    assert checks["azure login"][:2] == (
        "PASS",
        f"dev@contoso.com, subscription Platform Dev ({SUBSCRIPTION}); the stack's "
        "azure-native:subscriptionId in Pulumi.dev.yaml (a secret) is not compared "
        "(`pulumi config get azure-native:subscriptionId` shows it)",
    )


def test_arm_subscription_id_is_the_stack_subscription_without_config(in_checkout, monkeypatch):
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", OTHER_SUBSCRIPTION)
    _, checks, _ = run("dev", FakeRunner())
    assert checks["azure login"][0] == "FAIL"
    assert f"deploys to {OTHER_SUBSCRIPTION} (ARM_SUBSCRIPTION_ID)" in checks["azure login"][1]


def test_not_logged_in(in_checkout):
    runner = FakeRunner(
        answers={("az", "account", "show"): error("ERROR: Please run 'az login' to setup account.")}
    )
    code, checks, _ = run("dev", runner)
    assert code == 3
    assert checks["azure login"] == (
        "FAIL",
        "az is not logged in (ERROR: Please run 'az login' to setup account.)",
        "`az login`",
    )
    assert checks["kubernetes version"] == ("SKIP", "needs `az login`", "")


def test_version_not_offered_lists_the_offered_minors(in_checkout):
    runner = FakeRunner(
        answers={("az", "aks", "get-versions"): versions("1.33", "1.34", "1.36", preview=("1.36",))}
    )
    code, checks, _ = run("dev", runner)
    assert code == 3
    assert checks["kubernetes version"] == (
        "FAIL",
        "Kubernetes 1.35 is not offered in westeurope",
        "`pulumi config set kubernetesVersion <minor>` with one of: 1.33, 1.34, 1.36 (preview)",
    )


def test_patch_version_must_be_offered(tmp_path, monkeypatch):
    monkeypatch.chdir(
        project(tmp_path, "dev", {"progressive-delivery:kubernetesVersion": "1.34.2"})
    )
    _, checks, _ = run("dev", FakeRunner())
    assert checks["kubernetes version"] == (
        "FAIL",
        "Kubernetes 1.34.2 is not offered in westeurope",
        "use 1.34 (AKS picks the newest patch) or one of: 1.34.1, 1.34.3",
    )


def test_preview_version_fails_only_in_prod(in_checkout):
    runner = FakeRunner(
        answers={("az", "aks", "get-versions"): versions("1.35", preview=("1.35",))}
    )
    assert run("dev", runner)[1]["kubernetes version"][0] == "PASS"
    assert run("prod", runner)[1]["kubernetes version"][0] == "FAIL"


def test_without_role_assignment_write_names_the_roles(in_checkout):
    runner = FakeRunner(
        answers={("az", "group", "exists"): ok("true"), ("az", "rest"): permissions(CONTRIBUTOR)}
    )
    code, checks, _ = run("dev", runner)
    assert code == 3
    status, result, fix = checks["role assignments"]
    assert status == "FAIL"
    assert result.startswith(
        "you may not create role assignments on resource group rg-progressive-delivery-dev "
        "(Microsoft.Authorization/roleAssignments/write)"
    )
    assert fix == (
        "ask for Owner, User Access Administrator or Role Based Access Control Administrator on "
        f"subscription {SUBSCRIPTION} or resource group rg-progressive-delivery-dev"
    )
    assert checks["create resources"][0] == "PASS"
    (rest,) = runner.ran("az", "rest")
    assert rest.args[rest.args.index("--url") + 1] == (
        f"https://management.azure.com/subscriptions/{SUBSCRIPTION}/resourceGroups/"
        "rg-progressive-delivery-dev/providers/Microsoft.Authorization/permissions"
        "?api-version=2022-04-01"
    )


def test_permission_matching():
    write = "Microsoft.Authorization/roleAssignments/write"
    assert allowed([{"actions": ["*"], "notActions": []}], write)
    assert allowed([{"actions": ["microsoft.authorization/*"], "notActions": []}], write)
    assert not allowed([{"actions": ["*/read"], "notActions": []}], write)
    assert not allowed([{"actions": CONTRIBUTOR[0], "notActions": CONTRIBUTOR[1]}], write)
    # NotActions apply per role: another role granting it still grants it.
    assert allowed(
        [
            {"actions": CONTRIBUTOR[0], "notActions": CONTRIBUTOR[1]},
            {"actions": ["Microsoft.Authorization/roleAssignments/*"], "notActions": []},
        ],
        write,
    )
