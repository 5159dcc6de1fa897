"""Where canaryctl finds its cluster: a kubeconfig file and context, or a Pulumi stack's outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from canaryctl.errors import CanaryctlError
from canaryctl.project import project_root

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
    """The namespace the context (or the stack's workload) names, if any."""


def connect(kubeconfig: str | None, context: str | None, stack: str | None) -> Target:
    """A client for the cluster chosen by --stack, or by --kubeconfig/$KUBECONFIG and --context."""
    if stack is not None:
        return _from_stack(stack, kubeconfig, context)
    return _from_file(kubeconfig, context)


def _from_file(kubeconfig: str | None, context: str | None, namespace: str | None = None) -> Target:
    paths = kubeconfig or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    files = [os.path.expanduser(p) for p in paths.split(os.pathsep) if p]
    if not any(os.path.isfile(f) for f in files):
        raise CanaryctlError(
            f"no kubeconfig at {paths}: pass --kubeconfig FILE, set KUBECONFIG, "
            "or use --stack NAME to take it from a Pulumi stack"
        )
    merged = os.pathsep.join(files)
    try:
        contexts, current = config.list_kube_config_contexts(merged)
        names = [c["name"] for c in contexts]
        chosen = context or (current or {}).get("name")
        if chosen not in names:
            raise CanaryctlError(
                f"no context {chosen!r} in {paths}: pass --context with one of "
                f"{', '.join(names) or '(none)'}"
            )
        configuration = _configuration()
        config.load_kube_config(
            config_file=merged,
            context=chosen,
            client_configuration=configuration,
            # Never rewrite the user's kubeconfig (the client does on some token refreshes).
            persist_config=False,
        )
    except ConfigException as error:
        raise CanaryctlError(f"cannot use kubeconfig {paths}: {error}") from None
    chosen_context = contexts[names.index(chosen)].get("context") or {}
    return Target(
        api=client.ApiClient(configuration),
        server=configuration.host,
        source=f"context {chosen}",
        namespace=namespace or chosen_context.get("namespace"),
    )


def _from_stack(stack: str, kubeconfig: str | None, context: str | None) -> Target:
    outputs = stack_outputs(stack)
    namespace = outputs.get("workloadNamespace") or None
    if isinstance(outputs.get("kubeconfig"), str):
        # AKS stacks export a kubelogin kubeconfig; it stays in memory. (The client library
        # itself keeps any certificate data in private temp files that it deletes at exit.)
        try:
            data = yaml.safe_load(outputs["kubeconfig"])
            configuration = _configuration()
            config.load_kube_config_from_dict(
                data, context=context, client_configuration=configuration, persist_config=False
            )
        except (yaml.YAMLError, ConfigException) as error:
            raise CanaryctlError(
                f"the kubeconfig output of stack {stack} is unusable: {error}"
            ) from None
        return Target(
            client.ApiClient(configuration), configuration.host, f"stack {stack}", namespace
        )
    if outputs.get("kubeContext"):
        # The local stack deploys into an existing context of the user's own kubeconfig.
        return _from_file(kubeconfig, context or outputs["kubeContext"], namespace)
    raise CanaryctlError(
        f"stack {stack} exports neither kubeconfig nor kubeContext: run `pulumi up` for it first"
    )


def stack_outputs(stack: str) -> dict[str, Any]:
    """The stack's outputs with secrets shown, read from `pulumi stack output` into memory."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise CanaryctlError(
            "--stack needs the pulumi CLI, which is not on PATH: install it "
            "(https://www.pulumi.com/docs/install/) or use --kubeconfig/--context instead"
        )
    command = [pulumi, "stack", "output", "--json", "--show-secrets", "--stack", stack]
    try:
        result = subprocess.run(
            command,
            cwd=project_root(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,  # a passphrase prompt must fail, not hang
            timeout=PULUMI_TIMEOUT_SECONDS,
            check=False,
            env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"},
        )
    except subprocess.TimeoutExpired:
        raise CanaryctlError(
            f"`pulumi stack output --stack {stack}` did not answer in {PULUMI_TIMEOUT_SECONDS} s"
        ) from None
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {result.returncode}"
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
