"""Building block: teardown of what lives inside a cluster that is itself being deleted.

`pulumi destroy` of an AKS stack deletes the cluster; uninstalling every Helm release and object
inside it first would only cost time (each release may wait 900 s) and fail once the cluster or
its credentials are gone. Every in-cluster resource gets `deleted_with` the cluster: when the
cluster is deleted, their own delete is skipped. Removing one of them alone still deletes it.
"""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pulumi.dynamic


def deleted_with(cluster: pulumi.Resource) -> pulumi.ResourceTransformation:
    """A transformation for a layer: it and every resource under it go with `cluster`.

    SDK-side (`transformations`, inherited by children through `parent`), so it applies the same
    way under the test mocks as under the engine.
    """

    def transformation(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult:
        # A shallow copy: ResourceOptions.merge would deep-copy every option of every resource.
        opts = copy.copy(args.opts)
        opts.deleted_with = cluster
        return pulumi.ResourceTransformationResult(props=args.props, opts=opts)

    return transformation


# The guard's logical name is what the engine prints when its protection stops `pulumi destroy`
# ("resource \"urn:...::<name>\" cannot be deleted because it is protected", pulumi
# pkg/resource/deploy/step.go deleteProtectedError): it names the remedy.
GUARD_NAME = "destroy-needs-allowDestroy-true-and-pulumi-up"
# What it was called before: an alias renames it in place (a delete would hit its protection).
FORMER_GUARD_NAME = "teardown-guard"
# The config key that lifts prod's protection (stacks/schema/cluster.py, Pulumi.yaml).
ALLOW_DESTROY = "allowDestroy"


class TeardownRefused(Exception):
    """The teardown lock's delete while it is armed: `pulumi destroy` stops before anything."""


class TeardownGuard(pulumi.ComponentResource):
    """Makes `pulumi destroy` of a protected stack stop before it touches anything.

    The engine skips the delete of a resource whose deleted_with target is merely *planned* for
    deletion (pulumi pkg/resource/deploy/step.go, DeleteStep.Apply, isDeletedWith) and checks
    `protect` only on the resource it deletes. Every in-cluster object is deleted_with the
    cluster, so a destroy that reaches them while the cluster is still protected drops them all
    from the state, still running, before the cluster's own delete fails on its protection.

    The guard depends on every resource of the stack, and its lock is its child: the engine
    schedules the lock's delete first and alone, then the guard's (ScheduleDeletes,
    step_generator.go: reverse dependency order; a child depends on its parent). Either failure
    stops the destroy there: after the lock's error (a provider error) the executor cancels every
    later step (step_executor.go cancelDueToError); after the guard's protect error, or with
    `--continue-on-error`, it skips every later delete of a resource the failed one depends on
    (deployment_executor.go, erroredDeps), which is all of them.

    Two locks, because each alone can be lifted by the wrong command:
    - `protect` (prod): a preview reports it, so `pulumi destroy` stops before its first step,
      naming the guard, whose name says what to do. But the engine's message also offers
      `pulumi state unprotect <guard>`, which lifts it alone and leaves the cluster protected.
    - the lock, armed by the program where the cluster is protected: its provider refuses the
      delete while armed. `pulumi state unprotect` cannot disarm it (it changes the protect bit,
      not the lock's state); only a `pulumi up` that also lifts the cluster's protection can
      (`allowDestroy`). A preview does not call providers, so only the destroy itself sees it.
    Unarmed and unprotected (dev, local; prod with allowDestroy) both are no-op deletes.
    """

    def __init__(
        self,
        name: str,
        *,
        protect: bool,
        stack: str,
        cluster: str,
        layers: list[pulumi.Resource],
    ) -> None:
        # A component in depends_on stands for every custom resource under it
        # (pulumi sdk/python runtime/rpc.py _add_dependency).
        super().__init__(
            "platform:teardown:TeardownGuard",
            name,
            None,
            pulumi.ResourceOptions(
                protect=protect,
                depends_on=layers,
                aliases=[pulumi.Alias(name=FORMER_GUARD_NAME)],
            ),
        )
        self.lock = TeardownLock(
            f"{name}-lock",
            armed=protect,
            stack=stack,
            cluster=cluster,
            # Not protected itself (a child inherits protect): its refusal is its own message.
            opts=pulumi.ResourceOptions(parent=self, protect=False),
        )
        self.register_outputs({})


def refusal(props: dict[str, Any]) -> str:
    """What `pulumi destroy` says when the armed lock stops it."""
    return (
        f"stack {props['stack']} protects its cluster {props['cluster']}: `pulumi destroy` "
        "stopped here, before it deleted anything or dropped anything from the state. To destroy "
        f"the stack: `pulumi config set {ALLOW_DESTROY} true`, then `pulumi up` (it lifts the "
        "protection of the cluster, its resource group and the teardown guard, and disarms this "
        "lock; nothing else changes), then `pulumi destroy`. `pulumi state unprotect` cannot do "
        "it: with the cluster planned for deletion the engine drops everything that goes with the "
        "cluster from the state without deleting it, and a cluster still protected keeps running "
        "(docs/lifecycle.md, Destroy)."
    )


# The lock's state; anything else (the serialized provider) never makes a change.
_LOCK_KEYS = ("armed", "stack", "cluster")


class _TeardownLockProvider(pulumi.dynamic.ResourceProvider):
    """Nothing outside the state: create and update record, delete refuses while armed."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(id_=f"teardown-lock-{props['stack']}", outs=_lock(props))

    def diff(
        self, _id: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> pulumi.dynamic.DiffResult:
        # Always in place: a replacement would delete the armed lock and fail the `pulumi up`.
        changed = [key for key in _LOCK_KEYS if olds.get(key) != news.get(key)]
        return pulumi.dynamic.DiffResult(
            changes=bool(changed), replaces=[], delete_before_replace=False
        )

    def update(
        self, _id: str, _olds: dict[str, Any], news: dict[str, Any]
    ) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=_lock(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # `props` are the outputs in the state: what the last `pulumi up` recorded.
        if props.get("armed"):
            raise TeardownRefused(refusal(props))


def _lock(props: dict[str, Any]) -> dict[str, Any]:
    return {key: props[key] for key in _LOCK_KEYS}


class TeardownLock(pulumi.dynamic.Resource, module="teardown", name="TeardownLock"):
    """Refuses its delete, and so every later step of `pulumi destroy`, while armed."""

    def __init__(
        self,
        name: str,
        *,
        armed: bool,
        stack: str,
        cluster: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            _TeardownLockProvider(),
            name,
            {"armed": armed, "stack": stack, "cluster": cluster},
            opts,
        )
