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
