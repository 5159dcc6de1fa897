"""Building block: a secret from the stack's config as a Pulumi secret, for a layer's inputs."""

from __future__ import annotations

import pulumi
from pydantic import SecretStr


def secret_output(value: SecretStr | None) -> pulumi.Output[str] | None:
    """The value as a secret Output (encrypted in state, masked in logs); None when unset."""
    return None if value is None else pulumi.Output.secret(value.get_secret_value())
