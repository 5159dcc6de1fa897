"""Offline validation of one Kubernetes object, as the API server of a given version would do it.

Built-in kinds are checked against the official schema of that version (kubernetes-validate's
strict schemas: unknown fields are errors), custom resources against the CRDs the platform
installs (tests/crd_schemas.py), and both against the rules only the API server enforces
(tests/k8s_rules.py). A kind that is neither built in nor served by such a CRD is an error.
Used by `make validate`, `make render` (tests/render_check.py) and the tests.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions
from referencing import Registry, Resource

from stacks import pins
from stacks.components.crds import crd_documents
from stacks.pins import FLAGGER_CRDS, MIN_KUBERNETES
from tests import k8s_rules
from tests.crd_schemas import CrdIndex
from tests.harness import NAME, ROOT, Run, stack_config

# The local stack targets a cluster of unknown version: check the oldest the platform supports
# and the newest the schemas know.
LOCAL_VERSIONS = ("{}.{}".format(*MIN_KUBERNETES), kubernetes_validate.latest_version())
_SCHEMAS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"


def kubernetes_objects(run: Run) -> list[dict[str, Any]]:
    """Kubernetes objects the program registers itself (Helm releases render in the cluster).

    Server-side-apply patches (`...Patch` types) are partial objects: they are checked merged
    into the object they patch (tests/test_services.py), not here."""
    return [
        r.inputs
        for r in run.resources
        if r.type.startswith("kubernetes:")
        and "apiVersion" in r.inputs
        and not r.type.startswith("kubernetes:helm.sh/")
        and not r.type.endswith("Patch")
    ]


def target_versions(stack: str) -> tuple[str, ...]:
    config = stack_config(stack)
    if config[f"{NAME}:environment"] == "local":
        return LOCAL_VERSIONS
    major, minor = config[f"{NAME}:kubernetesVersion"].split(".")[:2]
    return (f"{major}.{minor}",)


def describe(obj: dict[str, Any]) -> str:
    """`Kind namespace/name`, how every message names an object."""
    metadata = obj.get("metadata") or {}
    return f"{obj.get('kind')} {metadata.get('namespace', '')}/{metadata.get('name', '')}"


def problems(
    obj: dict[str, Any], kubernetes_version: str, crds: CrdIndex | None = None
) -> list[str]:
    """Everything the API server of `kubernetes_version` would refuse in `obj`, each message
    naming the object and the field."""
    name = describe(obj)
    validator = builtin_validator(
        obj.get("apiVersion", ""), obj.get("kind", ""), kubernetes_version
    )
    if validator is not None:
        found = [
            f"{message} (Kubernetes {kubernetes_version})" for message in _errors(validator, obj)
        ]
    elif crds is not None and crds.knows(obj):
        found = crds.problems(obj)
    else:
        return [
            f"{name}: no schema: {obj.get('apiVersion')} {obj.get('kind')} is neither built into "
            f"Kubernetes {kubernetes_version} nor served by a CRD the platform installs"
        ]
    return [f"{name}: {p}" for p in [*found, *k8s_rules.problems(obj)]]


def is_builtin(api_version: str, kind: str, kubernetes_version: str) -> bool:
    return (api_version, kind) in _builtin_kinds(_schema_version(kubernetes_version))


def builtin_validator(
    api_version: str, kind: str, kubernetes_version: str
) -> jsonschema.Draft202012Validator | None:
    """The strict schema of a built-in kind, loaded once; None for kinds Kubernetes lacks."""
    return _validator(api_version, kind, _schema_version(kubernetes_version))


def flagger_crds(kubernetes_version: str) -> CrdIndex:
    """Flagger's CRDs at the pinned version, for objects checked outside a stack."""
    index = CrdIndex(definitions(kubernetes_version))
    for doc in crd_documents([FLAGGER_CRDS[pins.FLAGGER.version]]):
        index.add(doc)
    return index


def validate_manifest_files() -> tuple[int, list[str]]:
    """manifests/service/*.yaml on their own, as `kubectl apply -k` would send them."""
    checked, found = 0, []
    crds = flagger_crds(LOCAL_VERSIONS[0])
    for path in sorted((ROOT / "manifests" / "service").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for obj in yaml.safe_load_all(path.read_text()):
            checked += 1
            found += [
                f"{path.relative_to(ROOT)}: {p}" for p in problems(obj, LOCAL_VERSIONS[0], crds)
            ]
    return checked, found


def definitions(kubernetes_version: str) -> dict[str, Any]:
    """Kubernetes' own schema definitions (ObjectMeta and the rest) for that version."""
    return _definitions(_schema_version(kubernetes_version))


def _errors(validator: jsonschema.Draft202012Validator, obj: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    ]


def _schema_version(kubernetes_version: str) -> str:
    """The newest schema kubernetes-validate has that is not newer than the requested minor."""
    minor = tuple(int(p) for p in kubernetes_version.split(".")[:2])
    return [v for v in all_versions() if tuple(int(p) for p in v.split(".")[:2]) <= minor][-1]


@cache
def _definitions(schema_version: str) -> dict[str, Any]:
    path = _SCHEMAS / f"v{schema_version}-local-strict" / "_definitions.json"
    return json.loads(path.read_text())


@cache
def _builtin_kinds(schema_version: str) -> frozenset[tuple[str, str]]:
    return frozenset(
        ("/".join(p for p in (gvk["group"], gvk["version"]) if p), gvk["kind"])
        for definition in _definitions(schema_version)["$defs"].values()
        for gvk in definition.get("x-kubernetes-group-version-kind", [])
    )


@cache
def _validator(
    api_version: str, kind: str, schema_version: str
) -> jsonschema.Draft202012Validator | None:
    if (api_version, kind) not in _builtin_kinds(schema_version):
        return None
    # kubernetes-validate's file naming: rbac.authorization.k8s.io/v1 -> rbac-v1.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _SCHEMAS / f"v{schema_version}-local-strict" / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    registry: Registry = Resource.from_contents(_definitions(schema_version)) @ Registry()
    return jsonschema.Draft202012Validator(json.loads(path.read_text()), registry=registry)
