"""Read a kubeconfig as the Kubernetes client will, and say in one line what is wrong with it.

The client library (kubernetes 37.0.2) answers a malformed kubeconfig with a TypeError or a YAML
traceback, and an exec plugin that is missing or fails (kubelogin not installed, `az login`
expired) with only a logged error: it then sends requests without credentials. So canaryctl
checks the chosen context itself before loading it: YAML, the context, its cluster and server,
its user and that user's exec plugin on PATH.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any

import yaml

from canaryctl.errors import CanaryctlError

# A kubeconfig Pulumi exported is written again by the next `pulumi up`.
REWRITE = "run `pulumi up` to write it again"
# How to install the exec plugins the platform's kubeconfigs use.
INSTALL_HINTS = {"kubelogin": "install it with `az aks install-cli`"}


@dataclass(frozen=True)
class ContextInfo:
    """The parts of one kubeconfig context canaryctl needs before handing it to the client."""

    name: str
    server: str
    namespace: str | None
    exec_config: dict[str, Any] | None
    """The user's exec plugin stanza (command, args, env, apiVersion), if it has one."""
    base_dir: str | None
    """Directory relative exec commands resolve against: the kubeconfig file's."""

    @property
    def exec_command(self) -> str | None:
        return str(self.exec_config["command"]) if self.exec_config else None


def read_files(files: list[str], where: str) -> tuple[dict[str, Any], str | None]:
    """The files merged as the client merges them, and the first file's directory.

    Entries of the same name: the first file's wins; current-context: the last file's wins.
    """
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": []}
    for path in files:
        try:
            with open(path) as stream:
                document = yaml.safe_load(stream)
        except OSError as error:
            raise CanaryctlError(f"cannot read kubeconfig {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise CanaryctlError(
                f"{_yaml_problem(f'kubeconfig {path}', error)}: fix it or pass another with "
                "--kubeconfig"
            ) from None
        if document is None:
            raise CanaryctlError(
                f"kubeconfig {path} is empty: fix it or pass another with --kubeconfig"
            )
        _check_shape(document, f"kubeconfig {path}")
        for field in ("clusters", "contexts", "users"):
            known = {entry["name"] for entry in merged[field]}
            merged[field] += [e for e in document.get(field) or [] if e["name"] not in known]
        if document.get("current-context"):
            merged["current-context"] = document["current-context"]
    base_dir = os.path.dirname(os.path.abspath(files[0])) if files else None
    return merged, base_dir


def parse_text(text: str, where: str) -> dict[str, Any]:
    """A kubeconfig held in memory (a stack output), checked like a file."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CanaryctlError(f"{_yaml_problem(where, error)}: {REWRITE}") from None
    if document is None:
        raise CanaryctlError(f"{where} is empty: {REWRITE}")
    _check_shape(document, where)
    return dict(document)


def inspect(
    document: dict[str, Any], context: str | None, where: str, base_dir: str | None = None
) -> ContextInfo:
    """The chosen context (or current-context), its cluster and user, checked; raise if unusable."""
    names = [entry["name"] for entry in document.get("contexts") or []]
    wanted = context or document.get("current-context")
    if wanted not in names:
        which = f"no context {wanted!r}" if wanted else "no current-context"
        raise CanaryctlError(
            f"{which} in {where}: pass --context with one of {', '.join(names) or '(none)'}"
        )
    chosen = str(wanted)
    entry = _named(document, "contexts", chosen)
    ctx = entry.get("context")
    if not isinstance(ctx, dict) or not ctx.get("cluster"):
        raise CanaryctlError(
            f"context {chosen} in {where} names no cluster: "
            f"`kubectl config set-context {chosen} --cluster NAME`"
        )
    cluster = _named(document, "clusters", ctx["cluster"])
    if cluster is None:
        raise CanaryctlError(
            f"context {chosen} names cluster {ctx['cluster']!r}, which {where} does not "
            "define: add it or pick another --context"
        )
    fields = cluster.get("cluster")
    server = fields.get("server") if isinstance(fields, dict) else None
    if not server:
        raise CanaryctlError(
            f"cluster {ctx['cluster']} of context {chosen} has no server address in {where}: "
            f"`kubectl config set-cluster {ctx['cluster']} --server URL`"
        )
    exec_config = None
    if ctx.get("user"):
        user = _named(document, "users", ctx["user"])
        if user is None:
            raise CanaryctlError(
                f"context {chosen} names user {ctx['user']!r}, which {where} does not "
                "define: add it or pick another --context"
            )
        settings = user.get("user")
        exec_config = settings.get("exec") if isinstance(settings, dict) else None
        if exec_config is not None:
            fields = exec_config if isinstance(exec_config, dict) else {}
            missing = [k for k in ("command", "apiVersion") if not fields.get(k)]
            if missing:
                raise CanaryctlError(
                    f"the exec plugin of user {ctx['user']} (context {chosen}) has no "
                    f"{' or '.join(missing)} in {where}: fix that user's exec section "
                    "(AKS: `az aks get-credentials`, then `kubelogin convert-kubeconfig`)"
                )
    return ContextInfo(chosen, str(server), ctx.get("namespace"), exec_config, base_dir)


def exec_plugin_path(info: ContextInfo) -> str | None:
    """Where the context's exec plugin is (a path, or found on PATH); None if it is missing."""
    command = info.exec_command or ""
    if os.sep in command:
        path = os.path.join(info.base_dir or os.getcwd(), os.path.expanduser(command))
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which(command)


def missing_plugin(info: ContextInfo) -> str:
    """What is wrong, then how to fix it (install_hint)."""
    command = info.exec_command or ""
    return (
        f"{command}, the exec plugin of context {info.name}, is not on PATH: {install_hint(info)}"
    )


def install_hint(info: ContextInfo) -> str:
    name = os.path.basename(info.exec_command or "")
    return INSTALL_HINTS.get(name, f"install it or change the exec command of context {info.name}")


def require_exec_plugin(info: ContextInfo) -> None:
    if info.exec_config is not None and exec_plugin_path(info) is None:
        raise CanaryctlError(missing_plugin(info))


def _check_shape(document: object, where: str) -> None:
    if not isinstance(document, dict):
        raise CanaryctlError(
            f"{where} is not a kubeconfig (a mapping with clusters, contexts and users): "
            "pass another with --kubeconfig"
        )
    for field in ("clusters", "contexts", "users"):
        entries = document.get(field) or []
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str) for e in entries
        ):
            raise CanaryctlError(
                f"{where} is malformed: {field} must be a list of entries, each with a name; "
                "fix it or pass another with --kubeconfig"
            )


def _named(document: dict[str, Any], field: str, name: str) -> Any:
    return next((e for e in document.get(field) or [] if e["name"] == name), None)


def _yaml_problem(where: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    line = f" (line {mark.line + 1})" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{where} is not valid YAML{line}: {problem}"
