"""A malformed kubeconfig or a missing exec plugin: one line and exit 3 from every cluster command."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from canaryctl.cli import main
from tests.console_script import canaryctl
from tests.test_canaryctl_errors import fails, fake_pulumi

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [["status"], ["wait", "podinfo"], ["abort", "podinfo"], ["reset", "podinfo"]]
CLUSTER = {"name": "aks", "cluster": {"server": "https://127.0.0.1:1"}}
CONTEXT = {"name": "aks", "context": {"cluster": "aks", "user": "u"}}
KUBELOGIN = {
    "apiVersion": "client.authentication.k8s.io/v1beta1",
    "command": "kubelogin",
    "args": ["get-token", "--login", "azurecli", "--server-id", "6dae42f8"],
    "interactiveMode": "Never",
}


def kubeconfig(user: dict[str, object] | None = None, **changes: object) -> dict[str, object]:
    document: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [CLUSTER],
        "contexts": [CONTEXT],
        "users": [{"name": "u", "user": user if user is not None else {"exec": KUBELOGIN}}],
        "current-context": "aks",
    }
    return document | changes


def write(path: Path, document: object) -> str:
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


MALFORMED = {
    "bad YAML": ("clusters: [\n  - bad", "is not valid YAML (line 2)"),
    "a scalar": (
        "just text\n",
        "is not a kubeconfig (a mapping with clusters, contexts and users)",
    ),
    "empty": ("", "is empty: fix it or pass another with --kubeconfig"),
    "clusters not a list": (
        kubeconfig(clusters={"name": "aks"}),
        "is malformed: clusters must be a list of entries, each with a name",
    ),
    "context without cluster": (
        kubeconfig(contexts=[{"name": "aks"}]),
        "context aks in {path} names no cluster: `kubectl config set-context aks --cluster NAME`",
    ),
    "undefined cluster": (
        kubeconfig(clusters=[]),
        "context aks names cluster 'aks', which {path} does not define",
    ),
    "no server": (
        kubeconfig(clusters=[{"name": "aks", "cluster": {}}]),
        "cluster aks of context aks has no server address in {path}",
    ),
    "undefined user": (kubeconfig(users=[]), "context aks names user 'u', which {path} does not"),
    "exec without apiVersion": (
        kubeconfig({"exec": {"command": "kubelogin"}}),
        "the exec plugin of user u (context aks) has no apiVersion in {path}",
    ),
}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("case", MALFORMED, ids=str)
def test_malformed_kubeconfig_is_one_line(tmp_path, capsys, command, case):
    document, expected = MALFORMED[case]
    path = write(tmp_path / "kubeconfig", document)
    message = fails(capsys, *command, "--kubeconfig", path)
    assert expected.format(path=path) in message
    assert path in message


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_missing_kubelogin_is_named_with_its_fix(tmp_path, capsys, monkeypatch, command):
    monkeypatch.setenv("PATH", str(tmp_path))  # no kubelogin anywhere
    path = write(tmp_path / "kubeconfig", kubeconfig())
    assert fails(capsys, *command, "--kubeconfig", path) == (
        "kubelogin, the exec plugin of context aks, is not on PATH: "
        "install it with `az aks install-cli`"
    )


def test_missing_kubelogin_in_a_stack_kubeconfig_output(tmp_path, capsys, monkeypatch):
    text = yaml.safe_dump(kubeconfig())
    bin_dir = fake_pulumi(
        tmp_path / "bin", {"kubeconfig": text, "services": {"podinfo": {"namespace": "podinfo"}}}
    )
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert fails(capsys, "wait", "podinfo", "--stack", "dev") == (
        "kubelogin, the exec plugin of context aks, is not on PATH: "
        "install it with `az aks install-cli`"
    )


def test_malformed_stack_kubeconfig_output(tmp_path, capsys, monkeypatch):
    bin_dir = fake_pulumi(tmp_path / "bin", {"kubeconfig": "clusters: [\n  - x"})
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    message = fails(capsys, "status", "--stack", "dev")
    assert message.startswith("the kubeconfig output of stack dev is not valid YAML (line 2)")
    assert message.endswith("run `pulumi up` to write it again")


def executable(path: Path, script: str) -> Path:
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.mark.parametrize("command", COMMANDS[:2], ids=lambda c: c[0])
def test_failing_exec_plugin_says_why(tmp_path, capsys, monkeypatch, command):
    """kubernetes 37.0.2 only logs a failing plugin and goes on without credentials."""
    executable(
        tmp_path / "kubelogin",
        "#!/bin/sh\necho \"Error: failed to get token: please run 'az login'\" >&2\nexit 1\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    path = write(tmp_path / "kubeconfig", kubeconfig())
    assert fails(capsys, *command, "--kubeconfig", path) == (
        "the exec plugin kubelogin of context aks failed: exec: process returned 1. Error: "
        "failed to get token: please run 'az login'; log in again (`az login`) and retry"
    )


def test_exec_plugin_by_relative_path_resolves_next_to_the_kubeconfig(tmp_path, capsys):
    path = write(tmp_path / "kubeconfig", kubeconfig({"exec": {**KUBELOGIN, "command": "./x"}}))
    message = fails(capsys, "status", "--kubeconfig", path)
    assert message.startswith("./x, the exec plugin of context aks, is not on PATH: install it")


def test_no_traceback_from_the_canaryctl_command(tmp_path):
    path = write(tmp_path / "kubeconfig", kubeconfig(contexts=[{"name": "aks", "context": []}]))
    result = subprocess.run(
        canaryctl("wait", "podinfo", "--kubeconfig", path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "names no cluster" in result.stderr


def test_main_never_returns_an_outcome_code_for_a_config_problem(tmp_path, capsys):
    path = write(tmp_path / "kubeconfig", "::")
    assert main(["promote", "podinfo", "--kubeconfig", path]) == 3
    assert "Traceback" not in capsys.readouterr().err
