"""Kubeconfig helpers: turn AKS user credentials into a kubeconfig that logs in without a prompt.

AKS hands out user credentials as a kubelogin exec config that defaults to device-code login,
which blocks a headless `pulumi up` forever. The rewrite keeps server, CA and server id, so the
result is stable between runs (no tokens inside), and swaps in a non-interactive login mode.
"""

from __future__ import annotations

import yaml

# The Entra ID application that fronts every AKS API server (same for all clusters).
AKS_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"

# kubelogin reads the identity for these modes from the environment (AZURE_CLIENT_ID,
# AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, AAD_SERVICE_PRINCIPAL_CLIENT_SECRET...), so no
# credential ever lands in the kubeconfig.
_KEEP_FLAGS = {
    "azurecli": ("--server-id",),
    "workloadidentity": ("--server-id",),
    "spn": ("--server-id", "--tenant-id", "--environment"),
    "msi": ("--server-id",),
}


class KubeconfigError(ValueError):
    """The credentials AKS returned are not the exec-based kubeconfig this program expects."""


def non_interactive(kubeconfig: str, login_mode: str) -> str:
    """Rewrite every kubelogin exec user in `kubeconfig` to `login_mode` and return the YAML."""
    if login_mode not in _KEEP_FLAGS:
        raise KubeconfigError(f"unknown kubelogin mode {login_mode!r}")
    document = yaml.safe_load(kubeconfig)
    users = (document or {}).get("users") or []
    rewritten = 0
    for user in users:
        exec_config = (user.get("user") or {}).get("exec")
        if not exec_config or "kubelogin" not in str(exec_config.get("command", "")):
            continue
        exec_config["args"] = _kubelogin_args(exec_config.get("args") or [], login_mode)
        # kubectl must never wait for a human on this kubeconfig.
        exec_config["interactiveMode"] = "Never"
        rewritten += 1
    if rewritten == 0:
        raise KubeconfigError(
            "AKS returned no kubelogin exec user; the cluster must have Entra ID integration"
        )
    return yaml.safe_dump(document, sort_keys=False)


def _kubelogin_args(args: list[str], login_mode: str) -> list[str]:
    flags = _flag_values(args)
    flags.setdefault("--server-id", AKS_SERVER_ID)
    kept = [
        item for flag in _KEEP_FLAGS[login_mode] if flag in flags for item in (flag, flags[flag])
    ]
    return ["get-token", "--login", login_mode, *kept]


def _flag_values(args: list[str]) -> dict[str, str]:
    """`--flag value` pairs of a kubelogin command line (`--flag=value` too)."""
    values: dict[str, str] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg.startswith("--") and "=" in arg:
            flag, value = arg.split("=", 1)
            values[flag] = value
        elif (
            arg.startswith("--") and index + 1 < len(args) and not args[index + 1].startswith("--")
        ):
            values[arg] = args[index + 1]
            index += 1
        index += 1
    return values
