"""Test harness: run the whole Pulumi program under the SDK's mocks and record what it registers.

Used by the tests (through conftest.py) and by scripts/bench.py."""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import os
import runpy
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import grpc
import pulumi
import yaml
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from stacks import config as stacks_config
from stacks.cluster import existing_objects
from stacks.cluster.existing_objects import Found, Inventory, Wanted
from stacks.components.pinned import MIRROR_ENV
from stacks.schema import Source, files
from stacks.schema.cli import ENCRYPTED
from stacks.schema.cluster import LocalClusterConfig
from stacks.schema.services import SERVICES_DIR_ENV
from tests.fake_tls import provider_state

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
# The suite's own project: Pulumi.yaml (a link to the real one), a copy of each stack file and of
# podinfo's declaration. conftest.py points the tests here, so what a user adds to services/ or
# edits in a Pulumi.<stack>.yaml never changes what the suite proves (`make check` judges those).
FIXTURES = ROOT / "tests" / "fixtures"
# Where stack files are read from: the checkout's own (scripts, bench) unless set (the suite).
PROJECT_DIR_ENV = "PROGRESSIVE_DELIVERY_PROJECT_DIR"
# Files the program downloads come from ../shared's byte-identical copies: no network in tests.
os.environ.setdefault(MIRROR_ENV, str(ROOT.parent / "shared"))
NAME = PROJECT["name"]
STACKS = ("dev", "prod", "local")
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
KUBELET_OBJECT_ID = "00000000-0000-0000-0000-0000000000a6"
_SECRET_SIG = rpc._special_sig_key  # type: ignore[attr-defined]
_SECRET_VALUE = rpc._special_secret_sig  # type: ignore[attr-defined]

# What AKS returns for user credentials with format=exec: a kubelogin device-code login.
AKS_USER_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTi1DRVJUSUZJQ0FURS0tLS0t
    server: https://aks-dev-abc123.hcp.westeurope.azmk8s.io:443
  name: aks-dev
contexts:
- context:
    cluster: aks-dev
    user: clusterUser_rg_aks-dev
  name: aks-dev
current-context: aks-dev
users:
- name: clusterUser_rg_aks-dev
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args:
      - get-token
      - --environment
      - AzurePublicCloud
      - --server-id
      - 6dae42f8-4368-4678-94ff-3960e28e3630
      - --client-id
      - 80faf920-1908-4b52-b5ef-a8e7bedfc67a
      - --tenant-id
      - 72f988bf-86f1-41af-91ab-2d7cd011db47
      - --login
      - devicecode
      provideClusterInfo: false
"""


# kube-system's UID in the local stack's cluster unless a test says otherwise.
KIND_CLUSTER_UID = "0b7e8c1a-3f51-4d6e-9c2a-5e8f1d2c3b4a"


@dataclass
class Existing:
    """What runs before the program is evaluated: by default nothing (a first `pulumi up`)."""

    aks: dict[str, Any] | None = None
    """getManagedCluster's answer (the AKS API's camelCase fields); None: no cluster (404)."""
    aks_error: str = ""
    """Instead, the provider's error for that read (e.g. a 403)."""
    cluster_uid: str = KIND_CLUSTER_UID
    """The local stack's cluster: kube-system's UID, and what exists of what the stack creates."""
    namespaces: dict[str, Found] = field(default_factory=dict)
    crds: dict[str, Found] = field(default_factory=dict)
    reads: list[Wanted] = field(default_factory=list)

    def read(self, s: LocalClusterConfig, want: Wanted) -> Inventory:
        """Stands in for stacks.existing_objects.read_cluster (the Kubernetes client)."""
        self.reads.append(want)
        return Inventory(
            self.cluster_uid,
            {n: f for n, f in self.namespaces.items() if n in want.namespaces},
            {n: f for n, f in self.crds.items() if n in want.crds},
        )


@dataclass
class Registration:
    """One resource the program registered, with the options the engine would see."""

    type: str
    name: str
    inputs: dict[str, Any]
    secret_inputs: set[str]
    """Paths of inputs the program marked secret: "kubeconfig", "stringData/tls.key"."""
    parent: str
    provider: str
    protect: bool
    ignore_changes: list[str]
    dependencies: list[str]
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    deleted_with: str = ""
    urn: str = ""
    aliases: list[str] = field(default_factory=list)
    """The URNs the engine matches in the old state too (`aliases` option)."""

    def __str__(self) -> str:
        return f"{self.type} {self.name!r}"

    def is_secret(self, path: str) -> bool:
        """Whether the input at `path` ("stringData/tls.key") or an object holding it is secret."""
        parts = path.split("/")
        return any("/".join(parts[:n]) in self.secret_inputs for n in range(1, len(parts) + 1))


@dataclass
class Run:
    """The outcome of one program run: registrations in order, stack outputs, invoke calls."""

    stack: str
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, (
            f"expected one {type_} {name or ''}, found {[str(r) for r in found]}"
        )
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    def waits_for(self, later: Registration, earlier: Registration) -> bool:
        """Whether the engine creates `earlier` before `later` (directly or through others)."""
        seen: set[str] = set()
        pending = list(later.dependencies)
        while pending:
            urn = pending.pop()
            if urn == earlier.urn:
                return True
            if urn not in seen:
                seen.add(urn)
                pending.extend(self.by_urn(urn).dependencies)
        return False

    def longest_chain(self) -> int:
        """Resources on the longest path of dependencies: what the engine must create in turn."""
        by_urn = {r.urn: r for r in self.resources}
        depth: dict[str, int] = {}

        def walk(urn: str) -> int:
            if urn not in depth:
                depth[urn] = 1 + max((walk(d) for d in by_urn[urn].dependencies), default=0)
            return depth[urn]

        return max(walk(r.urn) for r in self.resources)

    def release(self, release_name: str) -> Registration:
        """The Helm release installed under `release_name`."""
        found = [r for r in self.of_type(HELM_RELEASE) if r.inputs.get("name") == release_name]
        assert len(found) == 1, f"expected one Helm release {release_name!r}, found {len(found)}"
        return found[0]


class ProviderError(grpc.RpcError):
    """A provider's failure as the engine reports it over gRPC (the SDK reads code and details)."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self._details = details

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._details


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like the providers would, enough for outputs other resources read."""

    def __init__(self, run: Run, existing: Existing) -> None:
        self.run = run
        self.existing = existing

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        if args.typ.startswith("azure-native:"):
            # Azure returns the resource's name as `name`; other layers read it.
            for key in ("resourceName", "resourceGroupName", "agentPoolName"):
                if key in state and "name" not in state:
                    state["name"] = state[key]
            if args.typ == "azure-native:containerservice:ManagedCluster":
                state["name"] = state["resourceName"]
                state["oidcIssuerProfile"] = {
                    "enabled": True,
                    "issuerURL": "https://westeurope.oic.prod-aks.azure.com/tenant/issuer/",
                }
                # AKS creates the kubelet's managed identity with the cluster.
                state["identityProfile"] = {
                    "kubeletidentity": {
                        "objectId": KUBELET_OBJECT_ID,
                        "clientId": "00000000-0000-0000-0000-0000000000b7",
                        "resourceId": "/subscriptions/sub/resourceGroups/mc/providers/"
                        "Microsoft.ManagedIdentity/userAssignedIdentities/aks-agentpool",
                    }
                }
            resource_id = f"/subscriptions/sub/resourceGroups/rg/{args.name}"
            state.setdefault("name", args.name)
            return resource_id, state
        provided = provider_state(args.typ, args.inputs)
        if provided is not None:
            state |= provided
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.run.calls.append(args.token)
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "clientId": "00000000-0000-0000-0000-0000000000c1",
                "objectId": "00000000-0000-0000-0000-0000000000d2",
                "subscriptionId": "00000000-0000-0000-0000-0000000000e3",
                "tenantId": "00000000-0000-0000-0000-0000000000f4",
            }
        if args.token == "azure-native:containerservice:getManagedCluster":
            if self.existing.aks_error:
                raise ProviderError(self.existing.aks_error)
            if self.existing.aks is None:
                # ARM's answer for a cluster that does not exist, as the engine hands the
                # provider's error to the program: a gRPC error the SDK turns into an exception.
                raise ProviderError(
                    "GET https://management.azure.com/subscriptions/sub/resourceGroups/"
                    f"{args.args['resourceGroupName']}/providers/Microsoft.ContainerService/"
                    f"managedClusters/{args.args['resourceName']}\nRESPONSE 404: 404 Not Found\n"
                    "ERROR CODE: ResourceNotFound"
                )
            return self.existing.aks
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            encoded = base64.b64encode(AKS_USER_KUBECONFIG.encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": encoded}]}
        raise NotImplementedError(f"unexpected invoke {args.token}")


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that also keeps the resource options and secrecy of every registration."""

    def __init__(self, run: Run, recording: RecordingMocks) -> None:
        super().__init__(recording)
        self.run = run

    def RegisterResource(self, request):  # gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            secret_paths: set[str] = set()
            inputs = _unwrap(rpc.deserialize_properties(request.object), "", secret_paths)
            self.run.resources.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    inputs=inputs,
                    secret_inputs=secret_paths,
                    parent=request.parent,
                    provider=request.provider,
                    protect=request.protect,
                    ignore_changes=list(request.ignoreChanges),
                    dependencies=list(request.dependencies),
                    delete_before_replace=request.deleteBeforeReplace,
                    retain_on_delete=request.retainOnDelete,
                    deleted_with=request.deletedWith,
                    urn=response.urn,
                    aliases=_alias_urns(request, response.urn),
                )
            )
        return response


def _alias_urns(request: Any, urn: str) -> list[str]:
    """Each alias as the URN the engine looks up: a spec's missing fields are the resource's own
    (pulumi pkg/resource/deploy/step_generator.go collapseAliasToUrn; sdk/go/common/resource/
    alias.go CreateURN)."""
    stack_part, project = urn.split("::")[:2]
    found = []
    for alias in request.aliases:
        if alias.WhichOneof("alias") == "urn":
            found.append(alias.urn)
            continue
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        type_, name = spec.type or request.type, spec.name or request.name
        stack = spec.stack or stack_part.removeprefix("urn:pulumi:")
        prefix = (
            parent[: parent.rindex("::")] + "$"
            if parent
            else f"urn:pulumi:{stack}::{spec.project or project}::"
        )
        found.append(f"{prefix}{type_}::{name}")
    return found


def _unwrap(value: Any, path: str, secret_paths: set[str]) -> Any:
    """Plain values with secrets unwrapped; the path of every secret is added to secret_paths."""
    if isinstance(value, dict) and value.get(_SECRET_SIG) == _SECRET_VALUE:
        secret_paths.add(path)
        return _unwrap(value.get("value"), path, secret_paths)
    if isinstance(value, dict):
        return {k: _unwrap(v, f"{path}/{k}" if path else k, secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}/{i}", secret_paths) for i, v in enumerate(value)]
    return value


# A webhook URL as `pulumi config set --secret alertWebhookUrl` stores it.
WEBHOOK_SECRETS = {"alertWebhookUrl": "https://hooks.slack.com/services/T000/B000/SECRETTOKEN"}
# What a user must set before a stack's first `pulumi up` (docs/operations.md); the committed file
# ships no made-up address range, so the program refuses prod without one.
SET_BY_USER: dict[str, dict[str, Any]] = {
    "prod": {"apiServerAuthorizedIpRanges": ["203.0.113.0/24"], "alertReceiver": "slack"},
}
# ... and the secrets prod refuses to run without (`pulumi config set --secret`, docs/operations.md).
RECEIVER_SECRETS = {
    "alertReceiverSecret": "https://hooks.slack.com/services/T000/B000/RECEIVERTOKEN",
    "deadMansSwitchUrl": "https://hc-ping.com/00000000-0000-0000-0000-00000000d5a1",
}
SECRETS_SET_BY_USER: dict[str, dict[str, str]] = {"prod": RECEIVER_SECRETS}


def project_dir() -> Path:
    """The directory whose Pulumi.<stack>.yaml files the runs read."""
    return Path(os.environ.get(PROJECT_DIR_ENV) or ROOT)


def stand_ins(stack: str, written: dict[str, Any]) -> dict[str, Any]:
    """The values SET_BY_USER supplies for `stack`: those its file does not set itself (with or
    without the project's prefix, as the Pulumi CLI takes either in a stack file)."""
    keys = {key if ":" in key else f"{NAME}:{key}" for key in written}
    return {k: v for k, v in SET_BY_USER.get(stack, {}).items() if f"{NAME}:{k}" not in keys}


def stack_config(stack: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """Config as the engine hands it to the program (Pulumi.yaml defaults, then the stack file,
    after the Pulumi CLI's own checks), then what the user sets (`pulumi config set`) and
    `overrides` on top; an override of None removes the key. A value the file holds encrypted
    stands as cli.ENCRYPTED (no passphrase here)."""
    return _config(stack, overrides)[0]


def _config(stack: str, overrides: dict[str, Any] | None) -> tuple[dict[str, str], frozenset[str]]:
    """stack_config, and the keys the stack file holds encrypted."""
    _, merged, written = files.read_stack(project_dir(), stack)
    config = {key: ENCRYPTED for key in merged.secret_keys} | dict(merged.values)
    for key, value in {**stand_ins(stack, written), **(overrides or {})}.items():
        config.pop(f"{NAME}:{key}", None)
        if value is not None:
            config[f"{NAME}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return config, merged.secret_keys


def config_and_secrets(
    stack: str, overrides: dict[str, Any] | None = None, secrets: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The config `run_program` hands the program, and which keys of it are secret (what the
    stack file holds encrypted, and what the user sets with --secret)."""
    config, encrypted = _config(stack, overrides)
    secret_keys = [key for key in sorted(encrypted) if key in config]
    # An override replaces (or, as None, removes) a secret the user set.
    user_set = SECRETS_SET_BY_USER.get(stack, {})
    given = {k: v for k, v in user_set.items() if k not in (overrides or {})} | (secrets or {})
    for key, value in given.items():
        config[f"{NAME}:{key}"] = value
        secret_keys.append(f"{NAME}:{key}")
    return config, secret_keys


def source(
    stack: str,
    overrides: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    today: date | None = None,
) -> Source:
    """The same config as the schema's input, to judge it without running the program; which
    service values the stack file holds encrypted is read from it, as `canaryctl check` does."""
    config, secret_keys = config_and_secrets(stack, overrides, secrets)
    from_file = files.file_source(project_dir(), stack, today)
    return dataclasses.replace(
        from_file,
        values=config,
        is_secret=lambda key: key in secret_keys,
        today=today or date.today(),
    )


# Finished runs by everything that decides them (run_program): a test gets its own copy.
_FINISHED: dict[str, Run] = {}


def _inputs_key(
    stack: str, overrides: dict[str, Any] | None, secrets: dict[str, str] | None
) -> str:
    """What a run of `stack` depends on besides the program's code: the arguments, the stack file
    and Pulumi.yaml, every service declaration, the environment the program reads, and where the
    program looks for a stack's own file (a test may point it elsewhere)."""
    digest = hashlib.sha256()
    services = Path(os.environ.get(SERVICES_DIR_ENV) or ROOT / "services")
    files_read = [
        project_dir() / "Pulumi.yaml",
        project_dir() / f"Pulumi.{stack}.yaml",
        *sorted(services.glob("*.yaml")),
    ]
    for path in files_read:  # by name and content: the same files copied elsewhere run the same
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"-")
    environment = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("PROGRESSIVE_", "CHART")) and k not in (SERVICES_DIR_ENV, PROJECT_DIR_ENV)
    }
    described = [stack, overrides, secrets, environment, os.environ.get(MIRROR_ENV)]
    digest.update(json.dumps(described, sort_keys=True, default=repr).encode())
    digest.update(repr(stacks_config.stack_file).encode())
    return digest.hexdigest()


def run_program(
    stack: str,
    overrides: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    run: Run | None = None,
    existing: Existing | None = None,
    fresh: bool = False,
) -> Run:
    """Evaluate __main__.py for `stack` under mocks and return everything it registered.

    Pass `run` to keep the record when the program raises; `existing` for what runs already.
    A run with the same inputs as an earlier one in this process is that run's copy (a copy costs
    about 20 ms, a run 1-3 s): the program's objects follow from its inputs, except what the mocks
    generate anew on every run (keys, certificates, passwords; an engine keeps them in state).
    `fresh` runs it again, to tell those apart.
    """
    if run is not None or existing is not None or fresh:
        return _run_program(stack, overrides, secrets, run, existing)
    key = _inputs_key(stack, overrides, secrets)
    if key not in _FINISHED:
        _FINISHED[key] = _run_program(stack, overrides, secrets, None, None)
    return copy.deepcopy(_FINISHED[key])


def _run_program(
    stack: str,
    overrides: dict[str, Any] | None,
    secrets: dict[str, str] | None,
    run: Run | None,
    existing: Existing | None,
) -> Run:
    run = run or Run(stack=stack)
    existing = existing or Existing()
    recording = RecordingMocks(run, existing)
    config, secret_keys = config_and_secrets(stack, overrides, secrets)
    pulumi.runtime.set_all_config(config, secret_keys)
    settings.ROOT.set(None)  # a fresh Stack resource (and exports) per run
    mocks.set_mocks(
        recording,
        project=NAME,
        stack=stack,
        preview=False,
        monitor=RecordingMonitor(run, recording),
    )
    main = str(ROOT / "__main__.py")
    real_read = existing_objects.read_cluster
    existing_objects.read_cluster = existing.read  # no cluster in tests: the scripted one
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(main, run_name="__main__")))
    finally:
        existing_objects.read_cluster = real_read
    # Under mocks the Stack resource is finished before the program runs, so its exports are
    # read from the root resource rather than from an engine call.
    root = settings.get_root_resource()
    assert root is not None
    for key, value in root.outputs.items():
        output = pulumi.Output.from_input(value)
        run.outputs[key] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            run.secret_outputs.add(key)
    return run
