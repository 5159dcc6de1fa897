"""The teardown lock's provider, as the dynamic provider host runs it: loaded from what the SDK
serializes into the state (pulumi/dynamic/dynamic.py serialize_provider, __main__.py
get_provider), its delete refuses while armed and its diff never replaces it.

The engine's side (what a refused delete does to the rest of `pulumi destroy`) is in
tests/test_lifecycle.py, under tests/lifecycle/engine.py's rules.
"""

from __future__ import annotations

import base64

import dill  # type: ignore[import-untyped]
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from stacks.components.teardown import (
    ALLOW_DESTROY,
    TeardownRefused,
    _TeardownLockProvider,
)

ARMED = {"armed": True, "stack": "prod", "cluster": "aks-prod"}


def hosted() -> _TeardownLockProvider:
    """The provider as the host gets it back from the state."""
    provider = dill.loads(base64.b64decode(serialize_provider(_TeardownLockProvider())))
    assert isinstance(provider, _TeardownLockProvider)
    return provider


def test_an_armed_lock_refuses_its_delete_and_says_how_to_destroy() -> None:
    created = hosted().create(ARMED)
    with pytest.raises(TeardownRefused) as refused:
        hosted().delete(created.id, created.outs or {})
    message = str(refused.value)
    assert "stack prod protects its cluster aks-prod" in message
    assert f"`pulumi config set {ALLOW_DESTROY} true`, then `pulumi up`" in message
    assert "`pulumi state unprotect` cannot do it" in message


def test_a_disarmed_lock_goes_without_a_word() -> None:
    hosted().delete("teardown-lock-prod", {**ARMED, "armed": False})


@pytest.mark.parametrize("change", [{"armed": False}, {"stack": "prod2"}, {"cluster": "x"}])
def test_every_change_is_an_update_never_a_replacement(change: dict) -> None:
    diff = hosted().diff("id", ARMED, {**ARMED, **change, "__provider": "other"})
    assert diff.changes is True
    assert diff.replaces == [] and diff.delete_before_replace is False
    updated = hosted().update("id", ARMED, {**ARMED, **change})
    assert updated.outs == {**ARMED, **change}


def test_the_serialized_provider_alone_is_no_change() -> None:
    assert hosted().diff("id", ARMED, {**ARMED, "__provider": "other"}).changes is False
