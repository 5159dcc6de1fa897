"""Building block: CustomResourceDefinitions from pinned upstream files, applied as typed objects.

The files come through stacks/components/pinned.py (sha256-checked, cached); each CRD becomes its
own CustomResourceDefinition resource, so a preview shows what changes and a stack can keep a CRD
other software may share (`keep`: never deleted by `pulumi destroy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from stacks.components.pinned import PinnedFile, read
from stacks.manifests import YAML_LOADER


def crd_documents(files: Sequence[PinnedFile]) -> list[dict[str, Any]]:
    """Every CRD in `files`, as the API server would receive it (status is the server's).

    Parsed once per process (read-only: the SDK copies inputs as it serializes them); a process
    that evaluates the program more than once, such as the test suite, parses them once.
    """
    return _parsed_crds(tuple(files))


@cache
def _parsed_crds(files: tuple[PinnedFile, ...]) -> list[dict[str, Any]]:
    documents = []
    for file in files:
        for document in yaml.load_all(read(file), Loader=YAML_LOADER):
            if document and document.get("kind") == "CustomResourceDefinition":
                documents.append({k: v for k, v in document.items() if k != "status"})
    return documents


def apply_crds(
    name: str, files: Sequence[PinnedFile], parent: pulumi.Resource, *, keep: bool
) -> list[k8s.apiextensions.v1.CustomResourceDefinition]:
    return [
        k8s.apiextensions.v1.CustomResourceDefinition(
            f"{name}-{crd['metadata']['name']}",
            metadata=crd["metadata"],
            spec=crd["spec"],
            opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=keep),
        )
        for crd in crd_documents(files)
    ]
