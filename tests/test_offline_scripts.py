"""scripts/validate.py and scripts/render.py judge the user's own files: any Pulumi.<name>.yaml of
the project they stand in, a refused config listed as `make check` lists it (never a traceback),
what they fill in that the user must set said out loud, and --help."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness import FIXTURES, NAME, ROOT

# A long analysis (the offline scripts run end to end in a subprocess): `make test-slow`, which CI runs too.
pytestmark = pytest.mark.slow

SCRIPTS = ("validate.py", "render.py")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project as a user has it: Pulumi.yaml, their stack files and services/."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    for stack in ("dev", "prod"):
        shutil.copy(FIXTURES / f"Pulumi.{stack}.yaml", tmp_path)
    shutil.copytree(FIXTURES / "services", tmp_path / "services")
    return tmp_path


def script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_is_help_not_a_stack(name: str, tmp_path: Path) -> None:
    result = script(name, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")
    assert "Pulumi.staging.yaml" in result.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_refused_copied_stack_is_listed_without_a_traceback(name: str, project: Path) -> None:
    document = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    document["config"][f"{NAME}:nodeCont"] = 3
    document["config"][f"{NAME}:location"] = "westeurop"
    (project / "Pulumi.staging.yaml").write_text(yaml.safe_dump(document))
    args = ("Pulumi.staging.yaml",) if name == "validate.py" else ("--stack", "staging")
    result = script(name, *args, cwd=project)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "stack staging: `pulumi up` would refuse it (2 problem(s)):" in result.stdout
    assert f"  - {NAME}:nodeCont: not a setting of this project; did you mean nodeCount?" in (
        result.stdout
    )
    assert f"{NAME}:location: got 'westeurop'" in result.stdout


def test_validate_says_what_it_fills_in_for_prod(project: Path) -> None:
    """The user's prod file without its authorized ranges and receiver: the run goes ahead with
    stand-ins and names each one, instead of reporting prod valid in silence."""
    document = yaml.safe_load((project / "Pulumi.prod.yaml").read_text())
    for key in ("apiServerAuthorizedIpRanges", "alertReceiver"):
        document["config"].pop(f"{NAME}:{key}", None)
    (project / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    result = script("validate.py", "prod", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("stack prod: note:")]
    said = " ".join(notes)
    for key in (
        "apiServerAuthorizedIpRanges",
        "alertReceiver",
        "alertReceiverSecret",
        "deadMansSwitchUrl",
    ):
        assert f"note: {key} is not set in Pulumi.prod.yaml" in said, result.stdout
    assert re.search(
        r"^stack prod: \d\d+ objects against Kubernetes 1\.\d+: 0 problem", result.stdout, re.M
    )


def test_a_missing_stack_names_the_files_there_are(project: Path) -> None:
    result = script("validate.py", "nosuch", cwd=project)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "no stack file Pulumi.nosuch.yaml" in result.stdout
    assert "pick one of dev, prod" in result.stdout


def test_encrypted_values_stand_as_encrypted_not_as_missing(project: Path) -> None:
    """A stack that followed `pulumi config set --secret`: its ciphertexts cannot be read here,
    so each stands as an encrypted value (as `make check` judges it), not as an unset key."""
    document = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    document["config"][f"{NAME}:alertReceiver"] = "slack"
    document["config"][f"{NAME}:alertReceiverSecret"] = {"secure": "v1:AAAAbm90IHJlYWxseQ=="}
    (project / "Pulumi.staging.yaml").write_text(yaml.safe_dump(document))
    result = script("validate.py", "staging", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "would refuse" not in result.stdout


def test_values_written_without_the_project_prefix_are_the_users(project: Path) -> None:
    """The Pulumi CLI takes a stack file's keys with or without `<project>:`; a range the user
    wrote either way is used, and no stand-in is announced for it."""
    document = yaml.safe_load((project / "Pulumi.prod.yaml").read_text())
    for key in ("apiServerAuthorizedIpRanges", "alertReceiver"):
        document["config"].pop(f"{NAME}:{key}", None)
    document["config"]["apiServerAuthorizedIpRanges"] = ["198.51.100.0/24"]
    document["config"]["alertReceiver"] = "slack"
    (project / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    result = script("validate.py", "prod", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "apiServerAuthorizedIpRanges is not set" not in result.stdout
    assert "alertReceiver is not set" not in result.stdout
