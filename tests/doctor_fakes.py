"""Scripted tools for `canaryctl doctor` tests: a Runner that answers like pulumi, az and kubectl,
and an Egress that answers like https://api.ipify.org. The az answers have the shapes az prints
(docs/doctor.md names the source of each)."""

from __future__ import annotations

import io
import ipaddress
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from canaryctl import doctor
from canaryctl.egress import EgressUnknown
from canaryctl.tools import Completed

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIPTION = "00000000-0000-0000-0000-00000000aaaa"
OTHER_SUBSCRIPTION = "00000000-0000-0000-0000-00000000bbbb"
USER_OBJECT_ID = "00000000-0000-0000-0000-0000000000d1"
TOKEN = "canaryctl-test-token"
NAME = "progressive-delivery"
# The day the tests judge config on: version-support warnings must not depend on the calendar.
TODAY = date(2026, 9, 1)

# Fixture stacks, independent of the user's Pulumi.<stack>.yaml: what the committed ones hold,
# plus what a user sets before deploying prod (its authorized ranges, receiver and switch).
DEV: dict[str, Any] = {f"{NAME}:environment": "dev", f"{NAME}:alertReceiver": "none"}
PROD: dict[str, Any] = {
    f"{NAME}:environment": "prod",
    f"{NAME}:skuTier": "Standard",
    f"{NAME}:systemNodeVmSize": "Standard_D4s_v5",
    f"{NAME}:systemNodeCount": 3,
    f"{NAME}:nodeCount": 3,
    f"{NAME}:autoscaling": True,
    f"{NAME}:nodeMinCount": 3,
    f"{NAME}:nodeMaxCount": 9,
    f"{NAME}:availabilityZones": ["1", "2", "3"],
    f"{NAME}:meshHighAvailability": True,
    f"{NAME}:apiServerAuthorizedIpRanges": ["198.51.100.0/24"],
    f"{NAME}:alertReceiver": "slack",
    f"{NAME}:alertReceiverSecret": {"secure": "v1:cm91dGluZy1rZXk="},
    f"{NAME}:deadMansSwitchUrl": {"secure": "v1:aHR0cHM6Ly9oYy1waW5nLmNvbQ=="},
}
EGRESS_ADDRESS = "198.51.100.7"


def ok(stdout: object) -> Completed:
    return Completed(0, stdout if isinstance(stdout, str) else json.dumps(stdout), "")


def error(message: str, code: int = 1) -> Completed:
    return Completed(code, "", f"WARNING: something\n{message}\n")


def account(
    sub_id: str = SUBSCRIPTION,
    name: str = "Platform Dev",
    user: str = "dev@contoso.com",
    kind: str = "user",
) -> Completed:
    return ok({"id": sub_id, "name": name, "user": {"name": user, "type": kind}})


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
OWNER = (["*"], [])


def sku(
    name: str,
    vcpus: int,
    family: str = "standardDSv5Family",
    location: str = "westeurope",
    zones: Sequence[str] = ("1", "2", "3"),
    restrictions: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """One entry of `az vm list-skus --all --output json` (Resource Skus - List's shape)."""
    return {
        "resourceType": "virtualMachines",
        "name": name,
        "tier": "Standard",
        "size": name.removeprefix("Standard_"),
        "family": family,
        "locations": [location],
        "locationInfo": [{"location": location, "zones": list(zones), "zoneDetails": []}],
        "capabilities": [
            {"name": "MaxResourceVolumeMB", "value": "0"},
            {"name": "vCPUs", "value": str(vcpus)},
            {"name": "MemoryGB", "value": str(vcpus * 4)},
        ],
        "restrictions": list(restrictions),
    }


def zone_restriction(*zones: str, location: str = "westeurope") -> dict[str, Any]:
    return {
        "type": "Zone",
        "values": [location],
        "restrictionInfo": {"locations": [location], "zones": list(zones)},
        "reasonCode": "NotAvailableForSubscription",
    }


def location_restriction(reason: str = "NotAvailableForSubscription") -> dict[str, Any]:
    return {
        "type": "Location",
        "values": ["westeurope"],
        "restrictionInfo": {"locations": ["westeurope"], "zones": []},
        "reasonCode": reason,
    }


SKUS = [
    sku("Standard_D2s_v5", 2),
    sku("Standard_D4s_v5", 4),
    # `--size` matches part of a name: a longer name must not be taken for the size asked for.
    sku("Standard_D4s_v5_Promo", 8, family="standardDSv5PromoFamily"),
    sku("Standard_E4s_v5", 4, family="standardESv5Family"),
]


def list_skus(skus: Sequence[dict[str, Any]] = SKUS) -> Callable[[Sequence[str]], Completed]:
    """az's --size filter: a case-insensitive part of the name."""

    def answer(args: Sequence[str]) -> Completed:
        size = args[args.index("--size") + 1].lower() if "--size" in args else ""
        return ok([s for s in skus if size in s["name"].lower()])

    return answer


def usage(family: int = 100, total: int = 100, used: int = 0, as_text: bool = False) -> Completed:
    """`az vm list-usage --output json`. as_text: the numbers as az printed them before its
    aaz port (transform_vm_usage_list), with localName beside name."""

    def entry(value: str, title: str, current: int, limit: int) -> dict[str, Any]:
        numbers: dict[str, Any] = {"currentValue": current, "limit": limit}
        if as_text:
            numbers = {k: str(v) for k, v in numbers.items()} | {"localName": title}
        return {"name": {"value": value, "localizedValue": title}, "unit": "Count", **numbers}

    return ok(
        [
            entry("availabilitySets", "Availability Sets", 0, 2500),
            entry("cores", "Total Regional vCPUs", used, total),
            entry("standardDSv5Family", "Standard DSv5 Family vCPUs", used, family),
            entry("standardESv5Family", "Standard ESv5 Family vCPUs", 0, 10),
        ]
    )


def providers(**states: str) -> Callable[[Sequence[str]], Completed]:
    """`az provider show --namespace NS --query registrationState`: "Registered" unless given."""

    def answer(args: Sequence[str]) -> Completed:
        namespace = args[args.index("--namespace") + 1]
        return ok(json.dumps(states.get(namespace.replace(".", "_"), "Registered")))

    return answer


ROLE_IDS = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
}
ROLE_PERMISSIONS = {
    "Owner": OWNER,
    "Contributor": CONTRIBUTOR,
    "User Access Administrator": (["*/read", "Microsoft.Authorization/*"], []),
}


def assignment(role: str, scope: str = f"/subscriptions/{SUBSCRIPTION}") -> dict[str, Any]:
    """One entry of `az role assignment list --output json`."""
    return {
        "principalId": USER_OBJECT_ID,
        "principalType": "User",
        "roleDefinitionId": f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/"
        f"roleDefinitions/{ROLE_IDS[role]}",
        "roleDefinitionName": role,
        "scope": scope,
    }


def arm(
    resource_group: Completed | None = None,
) -> Callable[[Sequence[str]], Completed]:
    """`az rest --method get --url URL`: the permissions of a resource group, role definitions."""

    def answer(args: Sequence[str]) -> Completed:
        url = args[args.index("--url") + 1]
        if "/providers/Microsoft.Authorization/permissions" in url:
            return resource_group or permissions(OWNER)
        found = re.search(r"/roleDefinitions/([0-9a-f-]+)\?api-version=2022-04-01$", url)
        if found:
            role = next(r for r, i in ROLE_IDS.items() if i == found[1])
            actions, not_actions = ROLE_PERMISSIONS[role]
            return ok(
                {
                    "id": url.split("?")[0].removeprefix("https://management.azure.com"),
                    "properties": {
                        "roleName": role,
                        "permissions": [{"actions": actions, "notActions": not_actions}],
                    },
                }
            )
        return error(f"ERROR: unscripted url {url}")

    return answer


CLUSTER_NOT_FOUND = error(
    "ERROR: (ResourceNotFound) The Resource 'Microsoft.ContainerService/managedClusters/aks-dev' "
    "under resource group 'rg-progressive-delivery-dev' was not found."
)

Answer = Completed | Callable[[Sequence[str]], Completed]
TOOL_VERSIONS: dict[tuple[str, ...], Answer] = {
    ("pulumi", "version"): ok("v3.272.0\n"),
    ("az", "version"): ok({"azure-cli": "2.77.0", "azure-cli-core": "2.77.0", "extensions": {}}),
    ("kubelogin", "--version"): ok(
        "kubelogin version\ngit hash: v0.2.9/1a2b3c\nGo version: go1.24.4\nPlatform: linux/amd64\n"
    ),
    ("kubectl", "version"): ok({"clientVersion": {"gitVersion": "v1.35.1"}}),
}
AZURE: dict[tuple[str, ...], Answer] = {
    ("az", "account", "show"): account(),
    ("az", "aks", "get-versions"): versions("1.33", "1.34", "1.35", "1.36", preview=("1.36",)),
    ("az", "aks", "show"): CLUSTER_NOT_FOUND,
    ("az", "group", "exists"): ok("false"),
    ("az", "vm", "list-skus"): list_skus(),
    ("az", "vm", "list-usage"): usage(),
    ("az", "provider", "show"): providers(),
    ("az", "ad", "signed-in-user", "show"): ok(json.dumps(USER_OBJECT_ID)),
    ("az", "role", "assignment", "list"): ok([assignment("Owner")]),
    ("az", "rest"): arm(),
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
    name, then arguments); the longest matching key answers, itself or as a function of the
    command line. Unscripted calls fail the test."""

    tools: set[str] = field(default_factory=lambda: {"pulumi", "az", "kubelogin", "kubectl"})
    answers: dict[tuple[str, ...], Answer] = field(default_factory=dict)
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
        answer = self.answers[max(keys, key=len)]
        return answer(command) if callable(answer) else answer

    def ran(self, *start: str) -> list[Call]:
        return [c for c in self.calls if c.args[: len(start)] == start]


@dataclass
class FakeEgress:
    """https://api.ipify.org's answer, or its absence (offline)."""

    answer: str | None = EGRESS_ADDRESS
    source: str = "https://api.ipify.org"
    asked: int = 0

    def address(self) -> ipaddress.IPv4Address:
        self.asked += 1
        if self.answer is None:
            raise EgressUnknown(f"{self.source} did not answer (no network)")
        return ipaddress.IPv4Address(self.answer)


def project(tmp_path: Path, stack: str, config: Mapping[str, object]) -> Path:
    """A checkout with the real Pulumi.yaml and a stack file holding `config`."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(json.dumps({"config": dict(config)}))
    return tmp_path


def fixture_stacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Mapping[str, object]
) -> Path:
    """Work in a checkout holding the fixture dev and prod stacks (`overrides` per stack on top),
    with no subscription pinned."""
    for stack, config in (("dev", DEV), ("prod", PROD)):
        project(tmp_path, stack, {**config, **overrides.get(stack, {})})
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARM_SUBSCRIPTION_ID", raising=False)
    return tmp_path


LINE = re.compile(r"(PASS|FAIL|SKIP)  ([a-z ]+): (.+)")
DETAIL = "        - "
FIX = "      fix: "


@dataclass
class Result:
    code: int
    checks: dict[str, tuple[str, str, str]]
    """{check: (status, result, fix)}"""
    details: dict[str, list[str]]
    text: str


def run_doctor(
    stack: str, runner: FakeRunner, egress: FakeEgress | None = None, today: date = TODAY
) -> Result:
    """Run doctor and read its lines back; every FAIL must carry a fix, and only a FAIL."""
    out = io.StringIO()
    code = doctor.run(stack, out, runner, egress or FakeEgress(), today)
    text = out.getvalue()
    checks: dict[str, tuple[str, str, str]] = {}
    details: dict[str, list[str]] = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        found = LINE.fullmatch(line)
        if not found:
            continue
        after = index + 1
        details[found[2]] = []
        while after < len(lines) and lines[after].startswith(DETAIL):
            details[found[2]].append(lines[after].removeprefix(DETAIL))
            after += 1
        fix = (
            lines[after].removeprefix(FIX)
            if after < len(lines) and lines[after].startswith(FIX)
            else ""
        )
        assert found[2] not in checks, f"two lines for {found[2]}:\n{text}"
        checks[found[2]] = (found[1], found[3], fix)
    for status, _, fix in checks.values():
        assert (status == "FAIL") == bool(fix), text  # a fix under every FAIL, and only there
    for call in runner.calls:
        assert call.timeout > 0
    assert "Traceback" not in text
    return Result(code, checks, details, text)


def run(
    stack: str, runner: FakeRunner, egress: FakeEgress | None = None
) -> tuple[int, dict[str, tuple[str, str, str]], str]:
    """Exit code, {check: (status, result, fix)} and the whole output."""
    result = run_doctor(stack, runner, egress)
    return result.code, result.checks, result.text
