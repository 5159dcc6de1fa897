"""How canaryctl runs command-line tools (pulumi, az, kubelogin, kubectl).

Every call goes through a Runner, so tests can put scripted tools in place of real ones. The real
one never waits for a person (stdin is /dev/null), gives up after a timeout and keeps what a tool
prints in memory: `pulumi stack output --show-secrets` and `kubelogin get-token` print secrets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from canaryctl.errors import CanaryctlError


class Completed(NamedTuple):
    returncode: int
    stdout: str
    stderr: str

    def last_error(self) -> str:
        """The last non-empty line of stderr (tools put the reason there), never stdout."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        return lines[-1][:300] if lines else f"exit code {self.returncode}"


class ToolFailed(CanaryctlError):
    """A tool could not be started or did not finish in time."""


class Runner(Protocol):
    def which(self, name: str) -> str | None:
        """The tool's path on PATH, or None."""
        ...

    def run(
        self,
        args: Sequence[str],
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Completed:
        """Run a command to completion; raise ToolFailed if it cannot start or times out."""
        ...


class Subprocess:
    """The real tools, found on PATH."""

    def which(self, name: str) -> str | None:
        return shutil.which(name)

    def run(
        self,
        args: Sequence[str],
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Completed:
        shown = " ".join([Path(args[0]).name, *args[1:3]])
        try:
            result = subprocess.run(
                list(args),
                cwd=cwd,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,  # a prompt (login, passphrase) must fail, not hang
                timeout=timeout,
                check=False,
                env={**os.environ, **(env or {})},
            )
        except subprocess.TimeoutExpired:
            raise ToolFailed(f"`{shown}` did not answer in {timeout:g} s") from None
        except OSError as error:
            raise ToolFailed(f"`{shown}` could not be started: {error.strerror}") from None
        return Completed(result.returncode, result.stdout, result.stderr)
