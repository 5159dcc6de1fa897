"""Building block: the label that marks what a stack created, so a later run knows its own.

The local stack deploys into a cluster it does not own. Every Namespace and
CustomResourceDefinition the program creates carries `progressive-delivery/stack:
<project>.<stack>`; before anything is created, stacks/cluster/existing_objects.py refuses (or leaves
alone) what exists without it, so the stack never adopts, and never deletes, what it did not
create. The label is set on every stack: it costs nothing and tells a person who made an object.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

OWNER_LABEL = "progressive-delivery/stack"
LABELLED = (
    "kubernetes:core/v1:Namespace",
    "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
)


def owner_id(project: str, stack: str) -> str:
    """The label value: a valid label value (63 characters of [A-Za-z0-9_.-], alphanumeric at
    both ends) naming the project and stack."""
    value = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{project}.{stack}")[:63]
    return value.strip("_.-") or "stack"


def owned_by(owner: str) -> pulumi.ResourceTransformation:
    """A transformation for a layer: its Namespaces and CRDs get the owner label."""

    def transformation(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult | None:
        if args.type_ not in LABELLED:
            return None
        props = dict(args.props)
        props["metadata"] = _labelled(props.get("metadata"), owner)
        return pulumi.ResourceTransformationResult(props=props, opts=args.opts)

    return transformation


def _labelled(metadata: Any, owner: str) -> Any:
    if isinstance(metadata, k8s.meta.v1.ObjectMetaArgs):
        fields = dict(vars(metadata))
    elif isinstance(metadata, dict):
        fields = copy.copy(metadata)
    else:  # an Output or nothing: no name to label, left as given
        return metadata
    fields["labels"] = {**(fields.get("labels") or {}), OWNER_LABEL: owner}
    if isinstance(metadata, k8s.meta.v1.ObjectMetaArgs):
        return k8s.meta.v1.ObjectMetaArgs(**fields)
    return fields
