"""The command-line tools canaryctl runs (pulumi, az, kubelogin, kubectl) and their versions.

Every call goes through a Runner, so tests can put scripted tools in place of real ones. The real
one never waits for a person (stdin is /dev/null), gives up after a timeout and keeps what a tool
prints in memory: `pulumi stack output --show-secrets` and `kubelogin get-token` print secrets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from canaryctl.errors import CanaryctlError

Version = tuple[int, int, int]


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


@dataclass(frozen=True)
class Tool:
    """A tool the platform needs, how to ask its version, and how to install it."""

    name: str
    minimum: Version
    version_args: tuple[str, ...]
    parse: Callable[[str], Version | None]
    install: str


def parse_version(text: str) -> Version | None:
    """The first vX.Y.Z (or X.Y.Z) in text; "go1.22.5" does not count."""
    found = re.search(r"(?<![\w.])v?(\d+)\.(\d+)\.(\d+)", text)
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def _json_field(*path: str) -> Callable[[str], Version | None]:
    def parse(text: str) -> Version | None:
        try:
            value: object = json.loads(text)
        except ValueError:
            return None
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return parse_version(str(value or ""))

    return parse


# The minimum versions (README, "What you need") in one place. Pulumi: 3.260.0, the first release after
# v3.259.0, is the first whose engine replaces a resource when its deletedWith target is replaced
# (pulumi/pulumi #23818, commit 5cd93859e8 on master after the v3.259.0 tag,
# changelog/pending/engine-fix-deletedwith-replace-cascade.yaml). The program relies on it: every
# in-cluster object is deletedWith its AKS cluster, so an older CLI that replaces the cluster
# (a create-only change in dev) keeps them all in state although they went with it
# (docs/lifecycle.md). Pulumi.yaml cannot require a CLI version; doctor checks it. kubelogin: `get-token --login
# azurecli` exists since v0.0.9 and `workloadidentity` since v0.0.12, but 0.1.4 is the oldest
# release the platform is checked with. kubectl's bound is relative (one minor either side of the
# cluster, see kubectl_skew); 1.31 is the oldest cluster the platform supports, so 1.30.
TOOLS = {
    "pulumi": Tool(
        "pulumi",
        (3, 260, 0),
        ("version",),
        parse_version,
        "install the Pulumi CLI 3.260 or newer: https://www.pulumi.com/docs/install/",
    ),
    "az": Tool(
        "az",
        (2, 60, 0),
        ("version", "--output", "json"),
        _json_field("azure-cli"),
        "install the Azure CLI 2.60 or newer: https://learn.microsoft.com/cli/azure/install-azure-cli",
    ),
    "kubelogin": Tool(
        "kubelogin",
        (0, 1, 4),
        ("--version",),
        parse_version,
        "install kubelogin 0.1.4 or newer: `az aks install-cli`",
    ),
    "kubectl": Tool(
        "kubectl",
        (1, 30, 0),
        ("version", "--client", "--output=json"),
        _json_field("clientVersion", "gitVersion"),
        "install kubectl (one minor either side of the cluster): `az aks install-cli`",
    ),
}
VERSION_TIMEOUT_SECONDS = 60


def version_of(runner: Runner, tool: Tool, path: str) -> Version | None:
    """The tool's version, or None if it does not say (raises ToolFailed if it does not run)."""
    result = runner.run([path, *tool.version_args], VERSION_TIMEOUT_SECONDS)
    return tool.parse(result.stdout) if result.returncode == 0 else None


def dotted(version: Sequence[int]) -> str:
    return ".".join(str(part) for part in version)
