"""The Azure CLI as doctor calls it: JSON out, az's own error line when it fails."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from canaryctl.tools import Runner, ToolFailed

AZ_TIMEOUT_SECONDS = 60
ARM = "https://management.azure.com"


def az_json(runner: Runner, az: str, *args: str, timeout: float = AZ_TIMEOUT_SECONDS) -> Any:
    """az's JSON answer; raises ToolFailed with az's own last error line."""
    result = runner.run([az, *args, "--output", "json"], timeout)
    if result.returncode != 0:
        raise ToolFailed(result.last_error())
    try:
        return json.loads(result.stdout or "null")
    except ValueError:
        raise ToolFailed(f"`az {' '.join(args[:2])}` printed no JSON") from None


@dataclass(frozen=True)
class Az:
    """az, logged in, pointed at the subscription the stack deploys to."""

    runner: Runner
    path: str
    subscription: str
    user: dict[str, Any]
    """`az account show`'s user: {"name": UPN or app id, "type": "user" | "servicePrincipal"}."""

    def __call__(self, *args: str, timeout: float = AZ_TIMEOUT_SECONDS) -> Any:
        return az_json(
            self.runner, self.path, *args, "--subscription", self.subscription, timeout=timeout
        )

    def plain(self, *args: str, timeout: float = AZ_TIMEOUT_SECONDS) -> Any:
        """A command that takes no --subscription (Microsoft Graph, or a scope of its own)."""
        return az_json(self.runner, self.path, *args, timeout=timeout)

    def rest(self, url: str) -> Any:
        """A GET on an ARM URL (documented REST operations only)."""
        return self.plain("rest", "--method", "get", "--url", url)
