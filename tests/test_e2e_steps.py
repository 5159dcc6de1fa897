"""scripts/e2e.py without a cluster: scripted pulumi, kubectl and canaryctl on PATH record what
the run asks of them, and each step's exit code decides the run's."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each fake appends its arguments to $E2E_LOG and answers from environment variables, so a test
# decides which call fails.
PULUMI = """#!/bin/sh
echo "pulumi $*" >> "$E2E_LOG"
case "$1 $2" in
  "stack select") [ "$3" = "local" ] && [ "$4" != "--create" ] && exit 1; exit 0 ;;
  "config get") [ "$2" = "get" ] && case "$*" in *canaryInterval*) echo 0s ;; *) echo 6.14.1 ;; esac; exit 0 ;;
esac
case "$1" in
  up) n=$(grep -c '^pulumi up' "$E2E_LOG"); [ "$n" = "${FAIL_UP:-0}" ] && exit 1; exit 0 ;;
  destroy) exit "${DESTROY_EXIT:-0}" ;;
esac
exit 0
"""
KUBECTL = """#!/bin/sh
echo "kubectl $*" >> "$E2E_LOG"
case "$*" in
  *"get canary/podinfo"*) n=$(grep -c 'get canary/podinfo' "$E2E_LOG"); [ "$n" = 2 ] && echo "${PHASE_AFTER:-Failed}" || echo Failed ;;
  *"wait --for=delete namespace/"*) [ -n "$STAYS" ] && case "$*" in *"namespace/$STAYS "*) exit 1 ;; esac; exit 0 ;;
  *"get namespace"*) [ -n "$STAYS" ] && case "$*" in *" $STAYS"*) echo "$STAYS"; exit 0 ;; esac; exit 1 ;;
esac
exit 0
"""
CANARYCTL = """#!/bin/sh
echo "canaryctl $*" >> "$E2E_LOG"
case "$1" in
  wait) n=$(grep -c '^canaryctl wait' "$E2E_LOG"); [ "$n" = 1 ] && exit 0; exit 1 ;;
  restart-mesh) exit "${RESTART_EXIT:-0}" ;;
esac
exit 0
"""


def e2e(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, script in (("pulumi", PULUMI), ("kubectl", KUBECTL), ("canaryctl", CANARYCTL)):
        path = bin_dir / name
        path.write_text(script)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.log"
    log.write_text("")
    # The user's own local stack file, if they keep one: the run must leave it as it was.
    stack_file = ROOT / "Pulumi.local.yaml"
    before = stack_file.read_bytes() if stack_file.exists() else None
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "e2e.py"), "--context", "kind-e2e", *args],
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "PULUMI_CONFIG_PASSPHRASE": "test",
            "E2E_LOG": str(log),
            "CANARYCTL": str(bin_dir / "canaryctl"),
            "HOME": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    after = stack_file.read_bytes() if stack_file.exists() else None
    assert after == before, "the run left a change in the checkout"
    return result.returncode, result.stdout, log.read_text().splitlines()


def test_every_step_runs_and_counts(tmp_path: Path) -> None:
    code, out, calls = e2e(tmp_path)
    assert code == 0, out
    assert "PASS: the good release was promoted, the failing one rolled back, the mesh " in out
    for banner in ("[5/7] restart the mesh", "[6/7] remove podinfo", "[7/7] pulumi destroy"):
        assert banner in out
    removal = calls.index("pulumi config rm --path services.podinfo --stack local")
    assert calls[removal + 1] == "pulumi up --yes --stack local"
    assert "kubectl --context kind-e2e wait --for=delete namespace/podinfo --timeout=5m" in calls
    destroy = calls.index("pulumi destroy --yes --stack local")
    assert destroy > removal
    assert calls.count("pulumi destroy --yes --stack local") == 1, "destroyed twice"
    assert "kubectl --context kind-e2e wait --for=delete namespace/linkerd --timeout=5m" in calls
    assert calls[-1] == "pulumi stack rm --yes --preserve-config --stack local"
    assert "canaryctl restart-mesh --context kind-e2e" in calls


def test_a_failing_destroy_fails_the_run(tmp_path: Path) -> None:
    code, out, calls = e2e(tmp_path, DESTROY_EXIT="1")
    assert code == 1
    assert "FAIL: `pulumi destroy --yes --stack local` exited 1" in out
    assert calls.count("pulumi destroy --yes --stack local") == 1


def test_a_namespace_left_after_destroy_fails_the_run(tmp_path: Path) -> None:
    code, out, _ = e2e(tmp_path, STAYS="monitoring")
    assert code == 1
    assert "FAIL: namespace monitoring is still there 5 minutes later" in out


def test_removing_the_service_must_succeed_and_the_stack_is_still_destroyed(tmp_path: Path) -> None:
    code, out, calls = e2e(tmp_path, FAIL_UP="4")  # the fourth `pulumi up`: the removal
    assert code == 1
    assert "FAIL: `pulumi up --yes --stack local` exited 1" in out
    assert "[7/7] clean up after the failure: pulumi destroy" in out
    assert calls.count("pulumi destroy --yes --stack local") == 1


def test_a_restart_that_starts_a_release_fails_the_run(tmp_path: Path) -> None:
    code, out, _ = e2e(tmp_path, PHASE_AFTER="Progressing")
    assert code == 1
    assert "FAIL: restart-mesh started a release: the Canary went Failed -> Progressing" in out


def test_keep_stops_before_removing_anything(tmp_path: Path) -> None:
    code, out, calls = e2e(tmp_path, "--keep")
    assert code == 0, out
    assert not [c for c in calls if c.startswith(("pulumi destroy", "pulumi config rm"))]
    assert not [c for c in calls if c.startswith("pulumi stack rm")]
