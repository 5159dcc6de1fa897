"""scripts/e2e.py skips quickly, with exit 0 and a SKIP: line, where it cannot run."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_e2e(path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "e2e.py"), "--context", "x"],
        env={"PATH": path},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_skips_without_pulumi(tmp_path):
    started = time.monotonic()
    result = run_e2e(str(tmp_path))  # an empty directory: no pulumi, no kubectl
    assert result.returncode == 0, result.stderr
    assert result.stdout == "SKIP: the pulumi CLI is not on PATH\n"
    assert time.monotonic() - started < 5


def test_skips_without_kubectl(tmp_path):
    pulumi = tmp_path / "pulumi"
    pulumi.write_text("#!/bin/sh\nexit 0\n")
    pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)
    result = run_e2e(str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "SKIP: the kubectl CLI is not on PATH\n"
