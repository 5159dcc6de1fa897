"""Offline schema validation of every Kubernetes object the program would create.

Core kinds are checked against the official schema of the target Kubernetes version
(kubernetes-validate, strict: unknown fields are errors); Flagger and cert-manager kinds against
the schemas kept in schemas/. Used by `make validate` (scripts/validate.py) and the tests.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.harness import NAME, ROOT, Run, run_program, stack_config

SCHEMAS = ROOT / "schemas"
_KEPT_SCHEMAS = {
    "flagger.app/v1beta1": "flagger.app_v1beta1.json",
    "cert-manager.io/v1": "cert-manager.io_v1.json",
}
# The local stack targets a cluster of unknown version: check the oldest the platform supports
# and the newest the schemas know.
LOCAL_VERSIONS = ("1.31", kubernetes_validate.latest_version())


def kubernetes_objects(run: Run) -> list[dict[str, Any]]:
    """Kubernetes objects the program registers itself (Helm releases render in the cluster)."""
    return [
        r.inputs
        for r in run.resources
        if r.type.startswith("kubernetes:")
        and "apiVersion" in r.inputs
        and not r.type.startswith("kubernetes:helm.sh/")
    ]


def target_versions(stack: str) -> tuple[str, ...]:
    config = stack_config(stack)
    if config[f"{NAME}:environment"] == "local":
        return LOCAL_VERSIONS
    major, minor = config[f"{NAME}:kubernetesVersion"].split(".")[:2]
    return (f"{major}.{minor}",)


def problems(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Schema violations of one object, each naming the object and the field."""
    name = f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
    kept = _KEPT_SCHEMAS.get(obj["apiVersion"])
    if kept is not None:
        schema = _kept_schema(kept)
        if obj["kind"] not in schema["$defs"]:
            return [f"{name}: no schema kept for kind {obj['kind']}"]
        validator = jsonschema.Draft202012Validator({"$ref": f"#/$defs/{obj['kind']}", **schema})
        return [
            f"{name}: {'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in validator.iter_errors(obj)
        ]
    try:
        kubernetes_validate.validate(obj, kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = "/".join(str(p) for p in error.path) or "<root>"
        return [f"{name}: {path}: {error.message} (Kubernetes {kubernetes_version})"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: no Kubernetes {kubernetes_version} schema for {obj['apiVersion']}"]
    return []


def validate_stack(stack: str) -> tuple[int, list[str]]:
    """(objects checked, problems) for everything `stack` would create."""
    objects = kubernetes_objects(run_program(stack))
    found = [
        p for version in target_versions(stack) for obj in objects for p in problems(obj, version)
    ]
    return len(objects), found


def validate_manifest_files() -> tuple[int, list[str]]:
    """manifests/podinfo/*.yaml on their own, as `kubectl apply -k` would send them."""
    checked, found = 0, []
    for path in sorted((ROOT / "manifests" / "podinfo").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for obj in yaml.safe_load_all(path.read_text()):
            checked += 1
            found += [f"{path.relative_to(ROOT)}: {p}" for p in problems(obj, LOCAL_VERSIONS[0])]
    return checked, found


@cache
def _kept_schema(file_name: str) -> dict[str, Any]:
    return json.loads(Path(SCHEMAS / file_name).read_text())
