"""Custom resources checked against the CRDs the platform installs, the way the API server would.

The CRDs come from where the cluster gets them: the stack's rendered releases (linkerd-crds,
cert-manager with crds.enabled) and the CustomResourceDefinitions the program applies itself from
its pinned files (Gateway API, Flagger). Each served version's openAPIV3Schema becomes a JSON
schema (draft 2020-12):
- strict like `kubectl apply --validate=strict`: a field the schema does not declare, which the
  API server would silently prune, is an error, except under x-kubernetes-preserve-unknown-fields;
- x-kubernetes-int-or-string admits integers and strings, `nullable` admits null, embedded
  resources admit apiVersion/kind/metadata, and metadata is Kubernetes' own (strict) ObjectMeta;
- not checked: CEL rules (x-kubernetes-validations) and `format`, which need the API server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsonschema
from referencing import Registry, Resource

from tests.harness import Run

CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
_DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META = {"$ref": f"{_DEFINITIONS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
_COPIED = ("type", "enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems",
           "maxItems", "uniqueItems", "minProperties", "maxProperties", "required", "multipleOf")  # fmt: skip


@dataclass
class CrdIndex:
    """The custom kinds a stack's cluster serves, each with its scope and schema."""

    definitions: dict[str, Any]
    """Kubernetes' own definitions (for ObjectMeta) at the stack's version."""
    kinds: dict[tuple[str, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """(apiVersion, kind) -> (scope, openAPIV3Schema)."""
    _validators: dict[tuple[str, str], jsonschema.Draft202012Validator] = field(
        default_factory=dict, repr=False
    )

    def add(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served", True):
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                self.kinds[key] = (spec["scope"], version["schema"]["openAPIV3Schema"])

    def knows(self, obj: dict[str, Any]) -> bool:
        return (obj.get("apiVersion"), obj.get("kind")) in self.kinds

    def namespaced(self, api_version: str, kind: str) -> bool:
        return self.kinds[(api_version, kind)][0] == "Namespaced"

    def problems(self, obj: dict[str, Any]) -> list[str]:
        """Schema violations of a custom resource this index knows, as "<path>: <message>"."""
        validator = self._validator(obj["apiVersion"], obj["kind"])
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        ]

    def _validator(self, api_version: str, kind: str) -> jsonschema.Draft202012Validator:
        key = (api_version, kind)
        if key not in self._validators:
            schema = to_json_schema(self.kinds[key][1], root=True)
            registry = Registry().with_resource(
                _DEFINITIONS_ID, Resource.from_contents(self.definitions)
            )
            self._validators[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self._validators[key]


def applied_crds(run: Run) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions the program registers itself (from its pinned files)."""
    return [
        {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", **crd.inputs}
        for crd in run.of_type(CRD)
    ]


def to_json_schema(node: dict[str, Any], root: bool = False) -> dict[str, Any]:
    """A CRD's structural openAPIV3Schema as a strict JSON schema (see the module docstring)."""
    out: dict[str, Any] = {key: node[key] for key in _COPIED if key in node}
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if node.get("nullable") and "type" in out:
        out["type"] = [*([out["type"]] if isinstance(out["type"], str) else out["type"]), "null"]
    for bound in ("Minimum", "Maximum"):
        # OpenAPI 3.0 marks an exclusive bound with a boolean next to it.
        if node.get(f"exclusive{bound}") is True and bound.lower() in out:
            out[f"exclusive{bound}"] = out.pop(bound.lower())
    properties = {k: to_json_schema(v) for k, v in (node.get("properties") or {}).items()}
    if node.get("x-kubernetes-embedded-resource"):
        properties = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, **properties}
        properties["metadata"] = {"type": "object"}
    if root:
        # Every object has these, whether or not its schema lists them.
        properties |= {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": _OBJECT_META,
        }
    if properties:
        out["properties"] = properties
    if "items" in node:
        out["items"] = to_json_schema(node["items"])
    for combinator in ("allOf", "anyOf", "oneOf"):
        if combinator in node:
            out[combinator] = [to_json_schema(n) for n in node[combinator]]
    if "not" in node:
        out["not"] = to_json_schema(node["not"])
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = to_json_schema(additional)
    elif additional is not None:
        out["additionalProperties"] = additional
    elif node.get("type") == "object" and not node.get("x-kubernetes-preserve-unknown-fields"):
        # The API server prunes undeclared fields; strict validation rejects them.
        out["additionalProperties"] = False
    return out
