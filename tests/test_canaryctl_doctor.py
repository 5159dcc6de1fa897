"""canaryctl doctor: one PASS/FAIL/SKIP line per check, a fix under each FAIL, exit 0 or 3."""

from __future__ import annotations

import io
import json
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from canaryctl import doctor
from canaryctl.azure_checks import allowed
from tests.doctor_fakes import (
    CONTRIBUTOR,
    CREDENTIAL,
    OTHER_SUBSCRIPTION,
    ROOT,
    SUBSCRIPTION,
    TOKEN,
    FakeRunner,
    account,
    error,
    ok,
    permissions,
    project,
    versions,
)
from tests.fake_kube_api import FakeKubeApi

LINE = re.compile(r"(PASS|FAIL|SKIP)  ([a-z ]+): (.+)")


def run(stack: str, runner: FakeRunner) -> tuple[int, dict[str, tuple[str, str, str]], str]:
    """Exit code, {check: (status, result, fix)} and the whole output."""
    out = io.StringIO()
    code = doctor.run(stack, out, runner)
    text = out.getvalue()
    checks: dict[str, tuple[str, str, str]] = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        found = LINE.fullmatch(line)
        if found:
            after = lines[index + 1] if index + 1 < len(lines) else ""
            fix = after.removeprefix("      fix: ") if after.startswith("      fix: ") else ""
            checks[found[2]] = (found[1], found[3], fix)
    for status, _, fix in checks.values():
        assert (status == "FAIL") == bool(fix), text  # a fix under every FAIL, and only there
    for call in runner.calls:
        assert call.timeout > 0
    return code, checks, text


@pytest.fixture
def in_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("ARM_SUBSCRIPTION_ID", raising=False)


def test_missing_tools_fail_with_install_hints(in_checkout):
    code, checks, text = run("dev", FakeRunner(tools=set()))
    assert code == 3
    assert checks["pulumi"] == (
        "FAIL",
        "not on PATH",
        "install the Pulumi CLI 3.200 or newer: https://www.pulumi.com/docs/install/",
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
    assert checks["pulumi"][:2] == ("FAIL", "3.150.2 at /fake/bin/pulumi is older than 3.200.0")


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
        "1.34 offered in westeurope (patches: 1.34.1, 1.34.3)",
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
        answers={("az", "aks", "get-versions"): versions("1.32", "1.33", "1.35", preview=("1.35",))}
    )
    code, checks, _ = run("dev", runner)
    assert code == 3
    assert checks["kubernetes version"] == (
        "FAIL",
        "Kubernetes 1.34 is not offered in westeurope",
        "`pulumi config set kubernetesVersion <minor>` with one of: 1.32, 1.33, 1.35 (preview)",
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
        answers={("az", "aks", "get-versions"): versions("1.34", preview=("1.34",))}
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


# ---- the cluster: the local stack's context, an AKS stack's kubeconfig output ----


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi() as fake:
        yield fake


def local_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubeconfig: Path) -> None:
    config = {
        "progressive-delivery:environment": "local",
        "progressive-delivery:kubeContext": "fake",
        "progressive-delivery:kubeconfigPath": str(kubeconfig),
    }
    monkeypatch.chdir(project(tmp_path, "local", config))


def local_runner() -> FakeRunner:
    return FakeRunner(
        tools={"pulumi", "kubectl"},
        answers={("kubectl", "version"): ok({"clientVersion": {"gitVersion": "v1.32.0"}})},
    )


def test_local_stack_with_a_reachable_cluster_passes(api, tmp_path, monkeypatch):
    local_project(tmp_path, monkeypatch, api.write_kubeconfig(tmp_path / "kubeconfig"))
    code, checks, text = run("local", local_runner())
    assert code == 0, text
    assert checks["az"] == ("SKIP", "not needed: local stack uses no Azure", "")
    assert checks["azure login"] == ("SKIP", "local stack uses no Azure", "")
    assert checks["kubeconfig"] == (
        "PASS",
        f"context fake of {tmp_path / 'kubeconfig'}: server {api.url}",
        "",
    )
    assert checks["exec plugin"][0] == "SKIP"
    assert checks["kubernetes api"] == ("PASS", f"{api.url} is ready, Kubernetes v1.33.2", "")
    assert checks["rbac"] == ("PASS", "cluster admin (may do everything the platform installs)", "")
    assert checks["flagger crds"] == (
        "PASS",
        "installed: canaries.flagger.app, metrictemplates.flagger.app, alertproviders.flagger.app",
        "",
    )
    assert checks["kubectl skew"] == ("PASS", "kubectl 1.32.0 works with Kubernetes 1.33", "")
    assert "POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews" in api.requests


def test_before_the_first_pulumi_up_missing_crds_are_not_a_failure(api, tmp_path, monkeypatch):
    api.flagger_installed = False
    local_project(tmp_path, monkeypatch, api.write_kubeconfig(tmp_path / "kubeconfig"))
    code, checks, _ = run("local", local_runner())
    assert code == 0
    assert checks["flagger crds"] == ("SKIP", "not yet installed (pulumi up installs them)", "")


def test_not_cluster_admin_names_what_is_refused(api, tmp_path, monkeypatch):
    api.cluster_admin = False
    api.refused = {"customresourcedefinitions", "clusterroles"}
    local_project(tmp_path, monkeypatch, api.write_kubeconfig(tmp_path / "kubeconfig"))
    code, checks, _ = run("local", local_runner())
    assert code == 3
    status, result, fix = checks["rbac"]
    assert (status, result) == (
        "FAIL",
        "not cluster admin (the charts need it); refused: create customresourcedefinitions, "
        "create clusterroles",
    )
    assert "cluster-admin" in fix


def test_malformed_kubeconfig_is_one_fail_line(tmp_path, monkeypatch):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters: [\n  - oops")
    local_project(tmp_path, monkeypatch, kubeconfig)
    code, checks, text = run("local", local_runner())
    assert code == 3
    status, result, fix = checks["kubeconfig"]
    assert status == "FAIL"
    assert result.startswith(f"kubeconfig {kubeconfig} is not valid YAML (line 2)")
    assert fix.startswith(f"fix {kubeconfig}")
    assert checks["kubernetes api"] == ("SKIP", "needs a usable kubeconfig", "")
    assert "Traceback" not in text


def aks_kubeconfig(server: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "aks-dev", "cluster": {"server": server}}],
            "contexts": [{"name": "aks-dev", "context": {"cluster": "aks-dev", "user": "u"}}],
            "current-context": "aks-dev",
            "users": [
                {
                    "name": "u",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "kubelogin",
                            "args": ["get-token", "--login", "azurecli", "--server-id", "6dae42f8"],
                        }
                    },
                }
            ],
        }
    )


def test_deployed_aks_stack_checks_its_cluster(api, tmp_path, monkeypatch, in_checkout):
    # The client library runs the real exec plugin; doctor runs it through the runner first.
    (tmp_path / "kubelogin").write_text(
        f"#!/bin/sh\necho '{json.dumps(json.loads(CREDENTIAL.stdout))}'\n"
    )
    (tmp_path / "kubelogin").chmod(0o755 | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    outputs = {"kubeconfig": aks_kubeconfig(api.url), "workloadNamespace": "podinfo"}
    runner = FakeRunner(
        answers={("pulumi", "stack", "output"): ok(outputs), ("kubelogin", "get-token"): CREDENTIAL}
    )
    code, checks, text = run("dev", runner)
    assert code == 0, text
    assert checks["kubeconfig"][:2] == (
        "PASS",
        f"the kubeconfig output of stack dev: context aks-dev, server {api.url}",
    )
    assert checks["exec plugin"][:2] == (
        "PASS",
        f"kubelogin at {tmp_path}/kubelogin returned a credential",
    )
    assert checks["kubernetes api"][0] == "PASS"
    assert TOKEN not in text  # the credential and the kubeconfig stay in memory
    (login,) = runner.ran("kubelogin", "get-token")
    assert json.loads(login.env["KUBERNETES_EXEC_INFO"])["spec"] == {"interactive": False}


def test_aks_exec_plugin_failing_says_log_in(api, tmp_path, monkeypatch, in_checkout):
    (tmp_path / "kubelogin").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "kubelogin").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    outputs = {"kubeconfig": aks_kubeconfig(api.url)}
    failing = error("Error: failed to get token: AzureCLICredential: please run 'az login'")
    runner = FakeRunner(
        answers={("pulumi", "stack", "output"): ok(outputs), ("kubelogin", "get-token"): failing}
    )
    code, checks, _ = run("dev", runner)
    assert code == 3
    assert checks["exec plugin"] == (
        "FAIL",
        "kubelogin of context aks-dev failed: Error: failed to get token: AzureCLICredential: "
        "please run 'az login'",
        "`az login` (kubeloginMode azurecli), or set the AZURE_* variables of your kubeloginMode",
    )
    assert checks["kubernetes api"] == ("SKIP", "needs a working exec plugin", "")


def test_aks_stack_kubelogin_missing(tmp_path, monkeypatch, in_checkout):
    monkeypatch.setenv("PATH", str(tmp_path))
    runner = FakeRunner(
        answers={("pulumi", "stack", "output"): ok({"kubeconfig": aks_kubeconfig("https://x")})}
    )
    _, checks, _ = run("dev", runner)
    assert checks["exec plugin"] == (
        "FAIL",
        "kubelogin, the exec plugin of context aks-dev, is not on PATH",
        "install it with `az aks install-cli`",
    )


def test_stack_not_created_yet(in_checkout):
    failing = error("error: no stack named 'dev' found", code=255)
    _, checks, _ = run("dev", FakeRunner(answers={("pulumi", "stack", "output"): failing}))
    assert checks["kubeconfig"] == ("SKIP", "no cluster yet (no stack dev)", "")
