"""canaryctl doctor: one PASS/FAIL/SKIP line per check, a fix under each FAIL, exit 0 or 3.

The config check, tools, login and Kubernetes version here; capacity, providers, rights and
egress in test_canaryctl_doctor_azure.py; the cluster checks in test_canaryctl_doctor_cluster.py.
Every test runs on fixture stacks (tests/doctor_fakes.py), never on the user's stack files.
"""

from __future__ import annotations

import subprocess

import pytest

from canaryctl.azure_rights import allowed
from tests.console_script import canaryctl
from tests.doctor_fakes import (
    CONTRIBUTOR,
    DEV,
    NAME,
    OTHER_SUBSCRIPTION,
    SUBSCRIPTION,
    FakeRunner,
    account,
    error,
    fixture_stacks,
    ok,
    project,
    run,
    run_doctor,
    versions,
)


@pytest.fixture
def stacks(tmp_path, monkeypatch):
    return fixture_stacks(tmp_path, monkeypatch)


def test_missing_tools_fail_with_install_hints(stacks):
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


def test_old_tools_fail(stacks):
    runner = FakeRunner(answers={("pulumi", "version"): ok("v3.150.2\n")})
    _, checks, _ = run("dev", runner)
    assert checks["pulumi"][:2] == ("FAIL", "3.150.2 at /fake/bin/pulumi is older than 3.260.0")


def test_a_cli_without_the_deleted_with_replacement_cascade_fails(stacks):
    """3.259 keeps what went with a replaced cluster in state (docs/lifecycle.md)."""
    runner = FakeRunner(answers={("pulumi", "version"): ok("v3.259.0\n")})
    _, checks, _ = run("dev", runner)
    assert checks["pulumi"] == (
        "FAIL",
        "3.259.0 at /fake/bin/pulumi is older than 3.260.0",
        "install the Pulumi CLI 3.260 or newer: https://www.pulumi.com/docs/install/",
    )
    runner = FakeRunner(answers={("pulumi", "version"): ok("v3.260.0\n")})
    _, checks, _ = run("prod", runner)
    assert checks["pulumi"] == ("PASS", "3.260.0 at /fake/bin/pulumi", "")


def test_the_canaryctl_command_doctor_without_any_tool(tmp_path):
    """As on a fresh machine: nothing on PATH, so every tool fails with its fix and exit is 3."""
    project(tmp_path, "dev", DEV)
    project(
        tmp_path,
        "local",
        {
            f"{NAME}:environment": "local",
            f"{NAME}:kubeContext": "kind",
            f"{NAME}:alertReceiver": "none",
        },
    )
    for stack in ("dev", "local"):
        result = subprocess.run(
            canaryctl("doctor", "--stack", stack),
            cwd=tmp_path,
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


def test_everything_passes_on_a_ready_subscription(stacks):
    runner = FakeRunner()
    code, checks, text = run("dev", runner)
    assert code == 0, text
    assert checks["stack config"] == (
        "PASS",
        "Pulumi.dev.yaml passes the Pulumi CLI's and the program's checks",
        "",
    )
    assert checks["azure login"][0] == "PASS"
    assert f"az's default subscription Platform Dev ({SUBSCRIPTION})" in checks["azure login"][1]
    assert checks["kubernetes version"] == (
        "PASS",
        "1.35 offered in westeurope (patches: 1.35.1, 1.35.3)",
        "",
    )
    for check in ("vm sizes", "vcpu quota", "resource providers", "role assignments"):
        assert checks[check][0] == "PASS", checks[check]
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


def test_a_config_pulumi_up_refuses_gets_no_advice(stacks, tmp_path):
    """The committed prod file without its ranges, receiver and switch, as a new user has it: the
    program's own list, the tools, and nothing that would advise on values the program refuses."""
    project(tmp_path, "prod", {f"{NAME}:environment": "prod", f"{NAME}:skuTier": "Standard"})
    runner = FakeRunner()
    result = run_doctor("prod", runner)
    assert result.code == 3
    status, line, fix = result.checks["stack config"]
    assert status == "FAIL"
    assert line.startswith("the program refuses Pulumi.prod.yaml (3 problems)")
    assert fix.startswith("correct Pulumi.prod.yaml")
    keys = sorted(p.split(": ", 1)[0] for p in result.details["stack config"])
    assert keys == [
        f"{NAME}:{key}"
        for key in ("alertReceiver", "apiServerAuthorizedIpRanges", "deadMansSwitchUrl")
    ]
    ranges = next(p for p in result.details["stack config"] if "apiServerAuthorized" in p)
    assert ranges.startswith(f"{NAME}:apiServerAuthorizedIpRanges: got []; allowed: in prod")
    assert result.checks["kubectl"][0] == "PASS"
    for check in ("azure login", "vcpu quota", "api server access", "kubectl skew"):
        assert result.checks[check] == (
            "SKIP",
            "needs a stack config `pulumi up` accepts (see stack config)",
            "",
        )
    assert runner.ran("az", "account") == [] and runner.ran("pulumi", "stack") == []


def test_every_problem_is_listed_and_a_refused_version_gets_no_kubectl_advice(stacks, tmp_path):
    project(
        tmp_path,
        "dev",
        {**DEV, f"{NAME}:kubernetesVersion": "1.29", f"{NAME}:nodeCont": 3},
    )
    result = run_doctor("dev", FakeRunner())
    problems = result.details["stack config"]
    assert result.checks["stack config"][1].startswith(
        "the program refuses Pulumi.dev.yaml (2 problems)"
    )
    assert any(p.startswith(f"{NAME}:kubernetesVersion: got '1.29'") for p in problems)
    assert any("did you mean nodeCount?" in p for p in problems)
    assert result.checks["kubectl skew"][0] == "SKIP"
    assert "1.28" not in result.text and "1.30" not in result.text


def test_the_pulumi_cli_refusing_is_a_config_failure_too(stacks, tmp_path):
    project(tmp_path, "dev", {**DEV, f"{NAME}:systemNodeCount": "three"})
    result = run_doctor("dev", FakeRunner())
    assert result.checks["stack config"][:2] == (
        "FAIL",
        "the Pulumi CLI refuses Pulumi.dev.yaml (1 problem); doctor advises only on a config "
        "`pulumi up` accepts",
    )
    assert result.details["stack config"] == [
        "Stack 'dev' with configuration key 'systemNodeCount' must be of type 'integer'"
    ]


def test_kubectl_advice_follows_the_stacks_kubernetes_version(stacks, tmp_path):
    project(tmp_path, "dev", {**DEV, f"{NAME}:kubernetesVersion": "1.33"})
    result = run_doctor("dev", FakeRunner())
    # 1.33 is valid but past AKS's standard support on TODAY: a warning under the PASS.
    assert result.checks["stack config"][0] == "PASS"
    (warning,) = result.details["stack config"]
    assert "AKS standard support for Kubernetes 1.33 ended on 2026-07-31" in warning
    assert result.checks["kubectl skew"] == (
        "FAIL",
        "kubectl 1.35.1 is more than one minor from Kubernetes 1.33",
        "install kubectl 1.32 to 1.34 (`az aks install-cli --client-version 1.33.0`, or "
        "https://kubernetes.io/docs/tasks/tools/)",
    )


def test_an_encrypted_value_is_named_not_judged(stacks, tmp_path):
    secret = {f"{NAME}:alertProvider": "slack", f"{NAME}:alertWebhookUrl": {"secure": "v1:x"}}
    project(tmp_path, "dev", {**DEV, **secret})
    result = run_doctor("dev", FakeRunner())
    assert result.checks["stack config"][0] == "PASS", result.text
    assert result.details["stack config"] == [
        "encrypted, so checked by `pulumi up` only: alertWebhookUrl"
    ]


def test_logged_in_to_another_subscription_names_both(stacks, tmp_path, monkeypatch):
    project(tmp_path, "dev", {**DEV, "azure-native:subscriptionId": SUBSCRIPTION})
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
    assert all(call.args[-3] == SUBSCRIPTION for call in runner.ran("az", "vm"))


def test_a_secret_subscription_id_is_not_compared(stacks, tmp_path, monkeypatch):
    project(tmp_path, "dev", {**DEV, "azure-native:subscriptionId": {"secure": "v1:abc"}})
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", OTHER_SUBSCRIPTION)  # the config wins, even secret
    code, checks, _ = run("dev", FakeRunner())
    assert code == 0
    assert checks["azure login"][:2] == (
        "PASS",
        f"dev@contoso.com, subscription Platform Dev ({SUBSCRIPTION}); the stack's "
        "azure-native:subscriptionId in Pulumi.dev.yaml (a secret) is not compared "
        "(`pulumi config get azure-native:subscriptionId` shows it)",
    )


def test_arm_subscription_id_is_the_stack_subscription_without_config(stacks, monkeypatch):
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", OTHER_SUBSCRIPTION)
    _, checks, _ = run("dev", FakeRunner())
    assert checks["azure login"][0] == "FAIL"
    assert f"deploys to {OTHER_SUBSCRIPTION} (ARM_SUBSCRIPTION_ID)" in checks["azure login"][1]


def test_not_logged_in(stacks):
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
    for check in ("kubernetes version", "vcpu quota", "resource providers", "role assignments"):
        assert checks[check] == ("SKIP", "needs `az login`", "")


def test_version_not_offered_lists_the_offered_minors(stacks):
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


def test_patch_version_must_be_offered(stacks, tmp_path):
    patch = {f"{NAME}:kubernetesVersion": "1.34.2", f"{NAME}:upgradeChannel": "node-image"}
    project(tmp_path, "dev", {**DEV, **patch})
    _, checks, _ = run("dev", FakeRunner())
    assert checks["kubernetes version"] == (
        "FAIL",
        "Kubernetes 1.34.2 is not offered in westeurope",
        "use 1.34 (AKS picks the newest patch) or one of: 1.34.1, 1.34.3",
    )


def test_preview_version_fails_only_in_prod(stacks):
    runner = FakeRunner(
        answers={("az", "aks", "get-versions"): versions("1.35", preview=("1.35",))}
    )
    assert run("dev", runner)[1]["kubernetes version"][0] == "PASS"
    assert run("prod", runner)[1]["kubernetes version"][0] == "FAIL"


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
