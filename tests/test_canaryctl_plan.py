"""canaryctl plan: the timeline of the committed stacks, computed by stacks.rollout_plan."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from canaryctl.cli import main
from stacks.rollout_plan import plan
from stacks.settings import CanarySettings

ROOT = Path(__file__).resolve().parent.parent


def run_plan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["plan", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def flat(text: str) -> str:
    return " ".join(text.split())


def expected(step_weight: int, manual_promotion: bool):
    """What stacks.rollout_plan says for Pulumi.yaml's defaults with these two overrides."""
    return plan(CanarySettings(60, 5, 50, step_weight, 60, 99, 500, 600, manual_promotion))


def test_dev_plan(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, err = run_plan(capsys)  # dev is the default stack
    assert (code, err) == (0, "")
    want = expected(10, manual_promotion=False)
    assert want.weights == (10, 20, 30, 40, 50)
    assert out.startswith("Rollout plan for stack dev (Pulumi.yaml defaults + Pulumi.dev.yaml)")
    for n, weight in enumerate(want.weights, start=1):
        assert f"{n}:00 {weight}% step {n} of 5: analysis at {weight}%" in flat(out)
    assert "9:00 Succeeded" in flat(out)
    assert "Promotion: 9:00 after Flagger notices the release" in out
    assert "Rollback:  6:00 after the first failed check; at the latest 7:00" in out
    assert flat(want.describe()) in flat(out)
    assert "promotion gate" not in out


def test_prod_plan_has_small_steps_and_a_promotion_gate(capsys, monkeypatch):
    monkeypatch.chdir(ROOT / "stacks")  # found by walking up, like the pulumi CLI does
    code, out, _ = run_plan(capsys, "--stack", "prod")
    assert code == 0
    want = expected(5, manual_promotion=True)
    assert len(want.weights) == 10 and want.promotion_seconds == 14 * 60
    assert "+5% per passing step up to 50%" in out
    assert "10:00 50% step 10 of 10: analysis at 50%" in flat(out)
    assert "11:00 50% promotion gate (waits for `canaryctl promote`)" in flat(out)
    assert "14:00 Succeeded (plus the time at the gate)" in flat(out)
    assert (
        "Promotion: 14:00 after Flagger notices the release, plus the wait at the promotion gate"
        in out
    )
    assert flat(want.describe()) in flat(out)


def project_with(tmp_path: Path, stack_yaml: str) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.bad.yaml").write_text(stack_yaml)
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
        "canaryctl: invalid canary settings for stack bad (2 problem(s)); fix them in Pulumi.bad.yaml:",
        "  - progressive-delivery:canaryInterval: got '5s'; allowed: seconds or minutes like 30s or 1m, from 10s to 60m",
        "  - progressive-delivery:canaryStepWeight: got 80; allowed: 1 to canaryMaxWeight (50)",
    ]


def test_unknown_stack_lists_the_stack_files(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, _, err = run_plan(capsys, "--stack", "staging")
    assert code == 3
    assert (
        err
        == f"canaryctl: no stack file Pulumi.staging.yaml in {ROOT}: pick one of dev, local, prod\n"
    )
