"""canaryctl's errors: one line on stderr that says what to do, exit code 3, never a traceback."""

from __future__ import annotations

import json
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from canaryctl.cli import main
from tests.canary_recordings import promotion, quick_release
from tests.fake_kube_api import FakeKubeApi


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi() as fake:
        fake.add_canary(promotion())
        yield fake


def fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run canaryctl, expect exit 3 with one line on stderr, and return that line."""
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 3, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("canaryctl: ")
    return err.removeprefix("canaryctl: ").rstrip("\n")


def test_missing_kubeconfig_file(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert fails(capsys, "status", "--kubeconfig", str(missing)) == (
        f"no kubeconfig at {missing}: pass --kubeconfig FILE, set KUBECONFIG, "
        "or use --stack NAME to take it from a Pulumi stack"
    )


def test_no_kubeconfig_anywhere_names_the_default(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert fails(capsys, "status").startswith("no kubeconfig at ~/.kube/config: ")


def test_unknown_context_lists_the_known_ones(api, tmp_path, capsys):
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    message = fails(capsys, "status", "--kubeconfig", str(kubeconfig), "--context", "prod")
    assert message == f"no context 'prod' in {kubeconfig}: pass --context with one of fake"


def test_unreachable_cluster(tmp_path, capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FakeKubeApi() as fake:
        kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
    config = yaml.safe_load(kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    kubeconfig.write_text(json.dumps(config))
    assert fails(capsys, "wait", "podinfo", "--kubeconfig", str(kubeconfig)) == (
        f"cannot reach the Kubernetes API at http://127.0.0.1:{port} (connection refused): "
        "check that the cluster is running and that context fake points at it"
    )


def test_rejected_credentials(api, tmp_path, capsys):
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", token="expired")
    assert "did not accept your credentials (401)" in fails(
        capsys, "status", "--kubeconfig", str(kubeconfig)
    )


def test_unknown_canary(api, tmp_path, capsys):
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    assert fails(capsys, "wait", "nope", "-n", "podinfo", "--kubeconfig", str(kubeconfig)) == (
        f"no Canary podinfo/nope on {api.url}: `canaryctl status` lists them all "
        "(pass -n NAMESPACE if it lives elsewhere)"
    )


@pytest.mark.parametrize("command", [["status"], ["wait", "podinfo"], ["abort", "podinfo"]])
def test_flagger_not_installed(api, tmp_path, capsys, command):
    api.flagger_installed = False
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    assert fails(capsys, *command, "--kubeconfig", str(kubeconfig)) == (
        f"Flagger is not installed on {api.url}: the API has no flagger.app/v1beta1 canaries "
        "(Canary CRD missing); deploy the platform with `pulumi up` or point canaryctl at the "
        "cluster that runs it"
    )


def test_forbidden_list_names_verb_resource_and_scope(api, tmp_path, capsys):
    api.forbidden.add("canaries")
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    assert fails(capsys, "status", "--kubeconfig", str(kubeconfig)) == (
        "forbidden (403): user ci-bot may not list canaries.flagger.app across all namespaces; "
        "ask a cluster admin for RBAC that allows it "
        "(check: `kubectl auth can-i list canaries.flagger.app --all-namespaces`)"
    )


def test_forbidden_get_in_a_namespace(api, tmp_path, capsys):
    api.forbidden.add("canaries")
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    message = fails(capsys, "wait", "podinfo", "--kubeconfig", str(kubeconfig))
    assert "may not get canaries.flagger.app in namespace podinfo" in message
    assert "`kubectl auth can-i get canaries.flagger.app -n podinfo`" in message


def test_usage_errors_exit_3_not_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["wait"])
    assert exit_.value.code == 3
    assert "the following arguments are required: NAME" in capsys.readouterr().err


def test_stack_without_the_pulumi_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert fails(capsys, "status", "--stack", "dev").startswith(
        "--stack needs the pulumi CLI, which is not on PATH: install it"
    )


def fake_pulumi(bin_dir: Path, outputs: dict[str, str], exit_code: int = 0) -> Path:
    """A `pulumi` on PATH that records its arguments and prints stack outputs as JSON."""
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{bin_dir}/args"\n'
        f"cat <<'EOF'\n{json.dumps(outputs)}\nEOF\n"
        f'[ {exit_code} = 0 ] || echo "error: passphrase must be set" >&2\n'
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_stack_kubeconfig_is_read_from_pulumi_outputs(api, tmp_path, capsys, monkeypatch):
    api.add_canary(quick_release(), namespace="shop")
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig").read_text()
    services = {"podinfo": {"namespace": "shop", "version": "6.14.1", "rolloutPlan": "..."}}
    bin_dir = fake_pulumi(tmp_path / "bin", {"kubeconfig": kubeconfig, "services": services})
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    # No -n: the namespace comes from the stack's `services` output.
    assert main(["wait", "podinfo", "--stack", "dev", "--poll", "0.01"]) == 0
    assert "PROMOTED shop/podinfo" in capsys.readouterr().out
    assert (bin_dir / "args").read_text().split() == [
        "stack",
        "output",
        "--json",
        "--show-secrets",
        "--stack",
        "dev",
    ]


def test_failing_pulumi_says_why(tmp_path, capsys, monkeypatch):
    bin_dir = fake_pulumi(tmp_path / "bin", {}, exit_code=255)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert fails(capsys, "status", "--stack", "prod") == (
        "`pulumi stack output --stack prod` failed: error: passphrase must be set "
        "(set PULUMI_CONFIG_PASSPHRASE for this stack's secrets)"
    )
