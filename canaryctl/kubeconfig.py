"""Where canaryctl finds its cluster: a kubeconfig file and context, or a Pulumi stack's outputs."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from canaryctl import kubeconfig_check
from canaryctl.errors import CanaryctlError
from canaryctl.project import project_root
from canaryctl.tools import Runner, Subprocess, ToolFailed

DEFAULT_KUBECONFIG = "~/.kube/config"
PULUMI_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Target:
    """An API client for one cluster, and how to name that cluster in messages."""

    api: client.ApiClient
    server: str
    source: str
    """What chose the cluster, for error messages: 'context kind-kind', 'stack dev'."""
    namespace: str | None
    """The namespace the context names, if any."""
    services: dict[str, str] = field(default_factory=dict)
    """Service name -> namespace, from the stack's `services` output (with --stack)."""


def connect(kubeconfig: str | None, context: str | None, stack: str | None) -> Target:
    """A client for the cluster chosen by --stack, or by --kubeconfig/$KUBECONFIG and --context."""
    if stack is not None:
        return _from_stack(stack, kubeconfig, context)
    return _from_file(kubeconfig, context)


def _from_file(
    kubeconfig: str | None, context: str | None, services: dict[str, str] | None = None
) -> Target:
    paths, files = kubeconfig_files(kubeconfig)
    if not files:
        raise CanaryctlError(
            f"no kubeconfig at {paths}: pass --kubeconfig FILE, set KUBECONFIG, "
            "or use --stack NAME to take it from a Pulumi stack"
        )
    document, base_dir = kubeconfig_check.read_files(files, paths)
    info = kubeconfig_check.inspect(document, context, paths, base_dir)
    kubeconfig_check.require_exec_plugin(info)
    configuration = _configuration()
    with _loading(f"kubeconfig {paths}", info):
        config.load_kube_config(
            config_file=os.pathsep.join(files),
            context=info.name,
            client_configuration=configuration,
            # Never rewrite the user's kubeconfig (the client does on some token refreshes).
            persist_config=False,
        )
    return Target(
        api=client.ApiClient(configuration),
        server=configuration.host,
        source=f"context {info.name}",
        namespace=info.namespace,
        services=services or {},
    )


def kubeconfig_files(kubeconfig: str | None) -> tuple[str, list[str]]:
    """The kubeconfig path list as given (for messages) and the files of it that exist."""
    paths = kubeconfig or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    files = [os.path.expanduser(p) for p in paths.split(os.pathsep) if p]
    return paths, [f for f in files if os.path.isfile(f)]


def from_document(
    document: dict[str, Any], info: kubeconfig_check.ContextInfo, source: str, where: str
) -> Target:
    """A client for a checked in-memory kubeconfig, e.g. an AKS stack's kubeconfig output."""
    configuration = _configuration()
    with _loading(where, info):
        config.load_kube_config_from_dict(
            document, context=info.name, client_configuration=configuration, persist_config=False
        )
    return Target(client.ApiClient(configuration), configuration.host, source, info.namespace)


def _from_stack(stack: str, kubeconfig: str | None, context: str | None) -> Target:
    outputs = stack_outputs(stack)
    services = {
        name: str(service.get("namespace"))
        for name, service in (outputs.get("services") or {}).items()
        if isinstance(service, dict) and service.get("namespace")
    }
    if isinstance(outputs.get("kubeconfig"), str):
        # AKS stacks export a kubelogin kubeconfig; it stays in memory. (The client library
        # itself keeps any certificate data in private temp files that it deletes at exit.)
        where = f"the kubeconfig output of stack {stack}"
        document = kubeconfig_check.parse_text(outputs["kubeconfig"], where)
        info = kubeconfig_check.inspect(document, context, where)
        kubeconfig_check.require_exec_plugin(info)
        target = from_document(document, info, f"stack {stack}", where)
        return Target(target.api, target.server, target.source, target.namespace, services)
    if outputs.get("kubeContext"):
        # The local stack deploys into an existing context of the user's own kubeconfig.
        return _from_file(kubeconfig, context or outputs["kubeContext"], services)
    raise CanaryctlError(
        f"stack {stack} exports neither kubeconfig nor kubeContext: run `pulumi up` for it first"
    )


@contextmanager
def _loading(where: str, info: kubeconfig_check.ContextInfo) -> Iterator[None]:
    """Load a checked kubeconfig; what the client only logs (a failing exec plugin) is raised."""
    failures: list[str] = []
    handler = _Collect(failures)
    root = logging.getLogger()
    # The client reports exec plugin failures through the root logger; a handler here also keeps
    # logging from configuring itself and printing them (and later urllib3 warnings) to stderr.
    root.addHandler(handler)
    try:
        yield
    except (ConfigException, ValueError, TypeError, KeyError, AttributeError) as error:
        raise CanaryctlError(f"cannot use {where}: {_one_line(str(error))}") from None
    finally:
        root.removeHandler(handler)
    if failures and info.exec_config is not None:
        hint = (
            "; log in again (`az login`) and retry" if "kubelogin" in str(info.exec_command) else ""
        )
        raise CanaryctlError(
            f"the exec plugin {info.exec_command} of context {info.name} failed: "
            f"{_one_line(failures[-1])}{hint}"
        )


class _Collect(logging.Handler):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def stack_outputs(stack: str, runner: Runner | None = None) -> dict[str, Any]:
    """The stack's outputs with secrets shown, read from `pulumi stack output` into memory."""
    runner = runner or Subprocess()
    pulumi = runner.which("pulumi")
    if pulumi is None:
        raise CanaryctlError(
            "--stack needs the pulumi CLI, which is not on PATH: install it "
            "(https://www.pulumi.com/docs/install/) or use --kubeconfig/--context instead"
        )
    command = [pulumi, "stack", "output", "--json", "--show-secrets", "--stack", stack]
    try:
        result = runner.run(
            command,
            PULUMI_TIMEOUT_SECONDS,
            env={"PULUMI_SKIP_UPDATE_CHECK": "true"},
            cwd=project_root(),
        )
    except ToolFailed:
        raise CanaryctlError(
            f"`pulumi stack output --stack {stack}` did not answer in {PULUMI_TIMEOUT_SECONDS} s"
        ) from None
    if result.returncode != 0:
        detail = result.last_error()
        hint = (
            " (set PULUMI_CONFIG_PASSPHRASE for this stack's secrets)"
            if "passphrase" in detail.lower()
            else ""
        )
        raise CanaryctlError(f"`pulumi stack output --stack {stack}` failed: {detail}{hint}")
    try:
        outputs = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        raise CanaryctlError(f"`pulumi stack output --stack {stack}` printed no JSON") from None
    return outputs if isinstance(outputs, dict) else {}


def _configuration() -> client.Configuration:
    configuration = client.Configuration()
    # One immediate retry of a failed connection; `wait` retries at its own pace after that.
    configuration.retries = 1
    return configuration
