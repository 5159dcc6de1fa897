"""canaryctl plan: the timeline of the suite's stacks (tests/fixtures), computed by stacks.rollout_plan."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from canaryctl.cli import main
from tests.harness import FIXTURES, ROOT


def run_plan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["plan", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def flat(text: str) -> str:
    return " ".join(text.split())


def test_dev_plan_meets_the_fast_feedback_targets(capsys, monkeypatch):
    monkeypatch.chdir(FIXTURES)
    code, out, err = run_plan(capsys)  # dev is the default stack
    assert (code, err) == (0, "")
    assert out.startswith("Release plans for stack dev (services/*.yaml + Pulumi.dev.yaml)")
    assert "\npodinfo (namespace podinfo, canary, ghcr.io/stefanprodan/podinfo:6.14.1)\n" in out
    text = flat(out)
    assert "Analysis every 20s: +10% per passing step up to 50%; 3 failed checks in total" in text
    assert "0:00 0% Flagger notices the release: canary scaled up" in text
    assert "0:20 10% load starts, pre-rollout checks; canary at 10%" in text
    assert "0:40 10% analysis at 10%, then 20%" in text
    assert "2:00 50% analysis at 50%, then promotion: the primary takes the spec" in text
    assert "2:20 0% all traffic back on the primary" in text
    assert "2:40 0% canary scaled to zero: Succeeded" in text
    # The targets: promoted within 3 min, rolled back within 1 min of the first failure.
    assert "Promotion: 2:40 after Flagger notices the release" in out
    assert "Rollback: 1:00 after the first failed check; 1:40 after the start" in text
    assert "promotion gate" not in out
    # The load feeding the checks, as it really falls into the windows (stacks/services/analysis.py).
    assert (
        "Load starts with the pre-rollout checks, one run before the first analysis, and runs "
        "18 s of every 20 s run (the load tester skips a command that still runs): the first "
        "30 s window holds 18 s of it, later ones 26 s; the request-volume check needs 65 "
        "requests per window." in text
    )


def test_prod_plan_has_small_steps_and_a_promotion_gate(tmp_path, capsys, monkeypatch):
    # prod as committed, plus what its owner sets before the first `pulumi up`.
    prod = yaml.safe_load((FIXTURES / "Pulumi.prod.yaml").read_text())["config"]
    prod |= {
        "progressive-delivery:apiServerAuthorizedIpRanges": ["203.0.113.0/24"],
        "progressive-delivery:alertReceiver": "pagerduty",
        "progressive-delivery:alertReceiverSecret": {"secure": "v1:AAAA"},
        "progressive-delivery:deadMansSwitchUrl": {"secure": "v1:AAAA"},
    }
    project = project_with(tmp_path, "config: {}\n")
    (project / "Pulumi.prod.yaml").write_text(yaml.safe_dump({"config": prod}))
    (project / "stacks").mkdir()
    monkeypatch.chdir(project / "stacks")  # found by walking up, like the pulumi CLI does
    monkeypatch.setenv("PROGRESSIVE_DELIVERY_SERVICES_DIR", str(FIXTURES / "services"))
    code, out, _ = run_plan(capsys, "--stack", "prod")
    assert code == 0
    text = flat(out)
    assert "+5% per passing step up to 50%; 5 failed checks in total" in text
    assert "10:00 45% analysis at 45%, then 50%" in text
    assert (
        "11:00 50% analysis at 50%, then the promotion gate (waits for `canaryctl promote`), "
        "then promotion" in text
    )
    assert "13:00 0% canary scaled to zero: Succeeded" in text
    assert "runs 55 s of every 60 s run" in text
    assert "each 60 s window holds 55 s of it; the request-volume check needs 250 requests" in text
    assert (
        "Promotion: 13:00 after Flagger notices the release (plus the wait at the promotion gate)"
        in out
    )
    assert "Rollback: 5:00 after the first failed check; 7:00 after the start" in text


def project_with(tmp_path: Path, stack_yaml: str) -> Path:
    """A project whose stack `bad` is `stack_yaml`, with its alerts explicitly nowhere."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.bad.yaml").write_text(
        stack_yaml.replace("config:\n", "config:\n  progressive-delivery:alertReceiver: none\n", 1)
    )
    return tmp_path


def test_bad_config_gets_stacks_config_messages(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(
        project_with(
            tmp_path,
            (
                "config:\n"
                "  progressive-delivery:canaryStepWeight: 80\n"
                "  progressive-delivery:canaryInterval: 5s\n"
            ),
        )
    )
    code, out, err = run_plan(capsys, "--stack", "bad")
    assert (code, out) == (3, "")
    assert err.splitlines() == [
        "canaryctl: the program refuses stack bad (2 problem(s)):",
        "  - progressive-delivery:canaryInterval: got '5s'; allowed: seconds or minutes like 30s or 1m, from 10s to 60m",
        "  - progressive-delivery:canaryStepWeight: got 80; allowed: 1 to canaryMaxWeight (50)",
    ]


def test_unknown_stack_lists_the_stack_files(capsys, monkeypatch):
    monkeypatch.chdir(FIXTURES)
    code, _, err = run_plan(capsys, "--stack", "staging")
    assert code == 3
    assert (
        err
        == f"canaryctl: no stack file Pulumi.staging.yaml in {FIXTURES}: pick one of dev, local, prod\n"
    )


def test_each_service_gets_its_own_timeline(tmp_path, capsys, monkeypatch):
    services = tmp_path / "services"
    services.mkdir()
    for path in [
        *(FIXTURES / "services").glob("*.yaml"),
        *(ROOT / "examples/services").glob("*.yaml"),
    ]:
        shutil.copy(path, services)
    monkeypatch.setenv("PROGRESSIVE_DELIVERY_SERVICES_DIR", str(services))
    monkeypatch.chdir(
        project_with(
            tmp_path,
            "config:\n"
            "  progressive-delivery:services:\n"
            "    podinfo: {version: 6.14.1}\n"
            "    frontend: {version: 6.14.1}\n"
            "    catalog: {version: 6.14.0}\n",
        )
    )
    code, out, err = run_plan(capsys, "--stack", "bad")
    assert (code, err) == (0, "")
    text = flat(out)
    assert (
        text.index("catalog (namespace shop") < text.index("frontend (") < text.index("podinfo (")
    )
    assert "Analysis every 1m: +20% per passing step up to 60%" in text
    assert "10 iterations for requests with header x-canary=insider" in text
    assert "0:40 matching analysis of iteration 1, then iteration 2" in text
    code, out, _ = run_plan(capsys, "--stack", "bad", "frontend")
    assert (code, out.count(" (namespace ")) == (0, 1)
    code, _, err = run_plan(capsys, "--stack", "bad", "cart")
    assert code == 3
    assert (
        err
        == "canaryctl: stack bad runs no service named cart; it runs: catalog, frontend, podinfo\n"
    )


def test_a_service_with_an_encrypted_webhook_is_planned(tmp_path, capsys, monkeypatch):
    # One `secure:` value inside `services` makes the CLI treat the whole key as a secret;
    # canaryctl cannot decrypt it but still plans every service from the rest of the map.
    services = tmp_path / "services"
    services.mkdir()
    shutil.copy(ROOT / "examples/services/checkout.yaml", services)
    monkeypatch.setenv("PROGRESSIVE_DELIVERY_SERVICES_DIR", str(services))
    registry = (
        "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/"
        "Microsoft.ContainerRegistry/registries/acmeshop"
    )
    monkeypatch.chdir(
        project_with(
            tmp_path,
            "config:\n"
            f"  progressive-delivery:containerRegistry: {registry}\n"
            "  progressive-delivery:services:\n"
            "    checkout:\n"
            "      version: 1.4.2\n"
            "      alerts:\n"
            "        webhookUrl:\n"
            "          secure: AAABAHtvcGFxdWU=\n",
        )
    )
    code, out, err = run_plan(capsys, "--stack", "bad")
    assert (code, err) == (0, "")
    assert "checkout (namespace shop, blue/green, acmeshop.azurecr.io/shop/checkout:1.4.2)" in out
