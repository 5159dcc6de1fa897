"""canaryctl doctor's cluster checks: the local stack's context, a deployed AKS stack's output."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.doctor_fakes import (
    CREDENTIAL,
    TOKEN,
    FakeRunner,
    error,
    fixture_stacks,
    ok,
    project,
    run,
)
from tests.fake_kube_api import FakeKubeApi


@pytest.fixture
def in_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fixture_stacks(tmp_path, monkeypatch)


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi() as fake:
        yield fake


def local_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubeconfig: Path) -> None:
    config = {
        "progressive-delivery:environment": "local",
        "progressive-delivery:kubeContext": "fake",
        "progressive-delivery:kubeconfigPath": str(kubeconfig),
        "progressive-delivery:alertReceiver": "none",
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
        "not cluster admin (the charts need it); refused: create "
        "customresourcedefinitions.apiextensions.k8s.io, create "
        "clusterroles.rbac.authorization.k8s.io",
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
    api.server_version = "v1.35.2"  # the stack's kubernetesVersion, as AKS would run it
    outputs = {
        "kubeconfig": aks_kubeconfig(api.url),
        "services": {"podinfo": {"namespace": "podinfo"}},
    }
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
