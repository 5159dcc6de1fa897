"""Building block: teardown of what lives inside a cluster that is itself being deleted.

`pulumi destroy` of an AKS stack deletes the cluster; uninstalling every Helm release and object
inside it first would only cost time (each release may wait 900 s) and fail once the cluster or
its credentials are gone. Every in-cluster resource gets `deleted_with` the cluster: when the
cluster is deleted, their own delete is skipped. Removing one of them alone still deletes it.
"""

from __future__ import annotations

import copy

import pulumi


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


class TeardownGuard(pulumi.ComponentResource):
    """Makes `pulumi destroy` of a protected stack stop before it touches anything.

    `protect` is checked only on the resource being deleted (pulumi pkg/resource/deploy/step.go,
    DeleteStep.Apply), and the engine skips the delete of a resource whose deleted_with target is
    merely planned for deletion (same function, isDeletedWith). On a stack whose cluster is
    protected, `pulumi destroy --skip-preview` (or a preview nobody reads) would therefore drop
    every in-cluster object from state, still running, and delete what is not deleted_with the
    cluster, before the cluster's own delete fails on its protection.

    The guard depends on every resource of the stack, so the engine schedules its delete first and
    alone (ScheduleDeletes, step_generator.go: reverse dependency order). Protected like the
    cluster, it fails there; the executor goes on past a protect error but skips every later
    delete of a resource the failed one depends on (deployment_executor.go, erroredDeps), which is
    all of them: nothing is deleted and nothing leaves the state. Unprotected (dev, local) it is a
    no-op delete. `pulumi state unprotect --all` releases it with the cluster.
    """

    def __init__(self, name: str, protect: bool, layers: list[pulumi.Resource]) -> None:
        # A component in depends_on stands for every custom resource under it
        # (pulumi sdk/python runtime/rpc.py _add_dependency).
        super().__init__(
            "platform:teardown:TeardownGuard",
            name,
            None,
            pulumi.ResourceOptions(protect=protect, depends_on=layers),
        )
        self.register_outputs({})
