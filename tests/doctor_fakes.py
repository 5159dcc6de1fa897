"""Scripted tools for `canaryctl doctor` tests: a Runner that answers like pulumi, az and kubectl."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from canaryctl import doctor
from canaryctl.tools import Completed

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIPTION = "00000000-0000-0000-0000-00000000aaaa"
OTHER_SUBSCRIPTION = "00000000-0000-0000-0000-00000000bbbb"
TOKEN = "canaryctl-test-token"


def ok(stdout: object) -> Completed:
    return Completed(0, stdout if isinstance(stdout, str) else json.dumps(stdout), "")


def error(message: str, code: int = 1) -> Completed:
    return Completed(code, "", f"WARNING: something\n{message}\n")


def account(sub_id: str = SUBSCRIPTION, name: str = "Platform Dev") -> Completed:
    return ok({"id": sub_id, "name": name, "user": {"name": "dev@contoso.com", "type": "user"}})


def versions(*minors: str, preview: tuple[str, ...] = ()) -> Completed:
    """`az aks get-versions --output json` as az 2.6x prints it (the AKS API's shape)."""
    return ok(
        {
            "values": [
                {
                    "version": minor,
                    "capabilities": {"supportPlan": ["KubernetesOfficial", "AKSLongTermSupport"]},
                    "patchVersions": {
                        f"{minor}.1": {"upgrades": []},
                        f"{minor}.3": {"upgrades": []},
                    },
                    **({"isPreview": True} if minor in preview else {}),
                }
                for minor in minors
            ]
        }
    )


def permissions(*entries: tuple[list[str], list[str]]) -> Completed:
    return ok(
        {
            "value": [
                {"actions": a, "notActions": n, "dataActions": [], "notDataActions": []}
                for a, n in entries
            ]
        }
    )


CONTRIBUTOR = (
    ["*"],
    [
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
    ],
)

TOOL_VERSIONS: dict[tuple[str, ...], Completed] = {
    ("pulumi", "version"): ok("v3.272.0\n"),
    ("az", "version"): ok({"azure-cli": "2.77.0", "azure-cli-core": "2.77.0", "extensions": {}}),
    ("kubelogin", "--version"): ok(
        "kubelogin version\ngit hash: v0.2.9/1a2b3c\nGo version: go1.24.4\nPlatform: linux/amd64\n"
    ),
    ("kubectl", "version"): ok({"clientVersion": {"gitVersion": "v1.35.1"}}),
}
AZURE: dict[tuple[str, ...], Completed] = {
    ("az", "account", "show"): account(),
    ("az", "aks", "get-versions"): versions("1.33", "1.34", "1.35", "1.36", preview=("1.36",)),
    ("az", "group", "exists"): ok("false"),
    ("az", "rest"): permissions((["*"], [])),
    ("pulumi", "stack", "output"): ok({}),
}
CREDENTIAL = ok(
    {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": TOKEN},
    }
)


@dataclass
class Call:
    args: tuple[str, ...]
    timeout: float
    env: Mapping[str, str]


@dataclass
class FakeRunner:
    """Tools on a fake PATH. Each answer is keyed by the start of the command line (the tool's
    name, then arguments); the longest matching key answers. Unscripted calls fail the test."""

    tools: set[str] = field(default_factory=lambda: {"pulumi", "az", "kubelogin", "kubectl"})
    answers: dict[tuple[str, ...], Completed] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.answers = {**TOOL_VERSIONS, **AZURE, **self.answers}

    def which(self, name: str) -> str | None:
        return f"/fake/bin/{name}" if name in self.tools else None

    def run(
        self,
        args: Sequence[str],
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Completed:
        command = (os.path.basename(args[0]), *args[1:])
        self.calls.append(Call(command, timeout, dict(env or {})))
        keys = [k for k in self.answers if command[: len(k)] == k]
        assert keys, f"unscripted call: {command}"
        return self.answers[max(keys, key=len)]

    def ran(self, *start: str) -> list[Call]:
        return [c for c in self.calls if c.args[: len(start)] == start]


def project(tmp_path: Path, stack: str, config: Mapping[str, object]) -> Path:
    """A checkout with the real Pulumi.yaml and a stack file holding `config`."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(json.dumps({"config": dict(config)}))
    return tmp_path


LINE = re.compile(r"(PASS|FAIL|SKIP)  ([a-z ]+): (.+)")


def run(stack: str, runner: FakeRunner) -> tuple[int, dict[str, tuple[str, str, str]], str]:
    """Exit code, {check: (status, result, fix)} and the whole output."""
    out = io.StringIO()
    code = doctor.run(stack, out, runner)
    text = out.getvalue()
    checks: dict[str, tuple[str, str, str]] = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        found = LINE.fullmatch(line)
        if found:
            after = lines[index + 1] if index + 1 < len(lines) else ""
            fix = after.removeprefix("      fix: ") if after.startswith("      fix: ") else ""
            checks[found[2]] = (found[1], found[3], fix)
    for status, _, fix in checks.values():
        assert (status == "FAIL") == bool(fix), text  # a fix under every FAIL, and only there
    for call in runner.calls:
        assert call.timeout > 0
    return code, checks, text


def use_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in this checkout (its Pulumi.yaml and stack files), with no subscription pinned."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("ARM_SUBSCRIPTION_ID", raising=False)
