"""Rules the API server enforces that no JSON schema states: quantities, names, labels, annotations.

Each rule is written from the Kubernetes source that enforces it, small on purpose:
- quantities: k8s.io/apimachinery pkg/api/resource/quantity.go (ParseQuantity: empty is an
  error; a number, then one suffix: n u m "" k M G T P E, Ki..Ei, or an exponent e3/E3), and
  k8s.io/kubernetes pkg/apis/core/validation (ValidateResourceRequirements: not negative,
  requests not above limits);
- names: apimachinery pkg/util/validation/validation.go (IsDNS1123Subdomain, IsDNS1123Label,
  IsDNS1035Label) as kubernetes pkg/apis/core/validation picks them per kind (Service names
  are DNS-1035 labels, Namespace names DNS-1123 labels, most others subdomains) and
  pkg/apis/rbac/validation (ValidateRBACName: a path segment, so "system:foo" is fine);
- labels and annotations: apimachinery pkg/api/validate/content/kube.go (IsLabelKey = qualified
  name, IsLabelValue) and pkg/api/validation/objectmeta.go (ValidateAnnotations: qualified keys,
  lower-cased; 256 KiB in total).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL)
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_QUANTITY = re.compile(
    r"(?P<number>[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_SUFFIXES = {
    "": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
}  # fmt: skip
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
_ANNOTATIONS_LIMIT = 256 * 1024


def problems(obj: dict[str, Any]) -> list[str]:
    """Every rule `obj` breaks, as "<field path>: <what is wrong>"."""
    found = _name_problems(obj)
    if obj.get("kind") == "CustomResourceDefinition":
        # Its schema mentions metadata, matchLabels and resources as fields, not as values.
        metadata = obj.get("metadata") or {}
        return [
            *found,
            *_label_problems("metadata/labels", metadata.get("labels") or {}),
            *_annotation_problems("metadata/annotations", metadata.get("annotations") or {}),
        ]
    for path, metadata in _find(obj, "metadata"):
        if isinstance(metadata, dict):
            found += _label_problems(f"{path}/labels", metadata.get("labels") or {})
            found += _annotation_problems(f"{path}/annotations", metadata.get("annotations") or {})
    for path, labels in _find(obj, "matchLabels"):
        if isinstance(labels, dict):
            found += _label_problems(path, labels)
    for path, resources in _find(obj, "resources"):
        if isinstance(resources, dict):
            found += _resource_problems(path, resources)
    return found


def quantity(value: Any) -> Decimal | None:
    """The value of a resource.Quantity, or None when the API server would refuse it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    number, suffix = Decimal(match["number"]), match["suffix"] or ""
    if suffix in _BINARY:
        return number * 1024 ** _BINARY[suffix]
    if suffix in _SUFFIXES:
        return number.scaleb(_SUFFIXES[suffix])
    return number.scaleb(int(suffix[1:]))


def name_problem(kind: str, name: str) -> str | None:
    """Why `name` is not a valid metadata.name for `kind`, or None."""
    if kind in _RBAC_KINDS:
        if name in (".", "..") or "/" in name or "%" in name or not name:
            return f"{name!r} is not a valid path segment name"
        return None
    if kind == "Service":
        pattern, limit, what = _DNS1035_LABEL, 63, "DNS-1035 label"
    elif kind == "Namespace":
        pattern, limit, what = _DNS1123_LABEL_RE, 63, "DNS-1123 label"
    else:
        pattern, limit, what = _DNS1123_SUBDOMAIN, 253, "DNS-1123 subdomain"
    if len(name) > limit or not pattern.fullmatch(name):
        return f"{name!r} is not a valid {what} (at most {limit} characters)"
    return None


def _name_problems(obj: dict[str, Any]) -> list[str]:
    metadata = obj.get("metadata") or {}
    found = []
    # With only generateName the API server picks the name: nothing to check before it does.
    if "name" in metadata or "generateName" not in metadata:
        problem = name_problem(obj.get("kind", ""), str(metadata.get("name", "")))
        if problem:
            found.append(f"metadata/name: {problem}")
    namespace = metadata.get("namespace")
    if namespace is not None:
        problem = name_problem("Namespace", str(namespace))
        if problem:
            found.append(f"metadata/namespace: {problem}")
    return found


def _label_problems(path: str, labels: dict[str, Any]) -> list[str]:
    found = []
    for key, value in labels.items():
        if not _qualified_name(key):
            found.append(f"{path}: key {key!r} is not a qualified name")
        if not isinstance(value, str):
            found.append(f"{path}/{key}: {value!r} is not a string")
        elif len(value) > 63 or (value and not _LABEL_NAME.fullmatch(value)):
            found.append(f"{path}/{key}: {value!r} is not a valid label value")
    return found


def _annotation_problems(path: str, annotations: dict[str, Any]) -> list[str]:
    found = [
        f"{path}: key {key!r} is not a qualified name"
        for key in annotations
        if not _qualified_name(key.lower())
    ]
    found += [
        f"{path}/{key}: {value!r} is not a string"
        for key, value in annotations.items()
        if not isinstance(value, str)
    ]
    size = sum(len(k) + len(str(v)) for k, v in annotations.items())
    if size > _ANNOTATIONS_LIMIT:
        found.append(f"{path}: {size} bytes, more than 256 KiB")
    return found


def _resource_problems(path: str, resources: dict[str, Any]) -> list[str]:
    found = []
    parsed: dict[str, dict[str, Decimal]] = {}
    for kind in ("limits", "requests"):
        for resource, value in (resources.get(kind) or {}).items():
            amount = quantity(value)
            if amount is None:
                found.append(
                    f"{path}/{kind}/{resource}: {value!r} is not a quantity "
                    "(a number with an optional suffix such as m, Mi or Gi; empty is invalid)"
                )
            elif amount < 0:
                found.append(f"{path}/{kind}/{resource}: {value!r} must not be negative")
            else:
                parsed.setdefault(kind, {})[resource] = amount
    for resource, request in parsed.get("requests", {}).items():
        limit = parsed.get("limits", {}).get(resource)
        if limit is not None and request > limit:
            found.append(
                f"{path}/requests/{resource}: {resources['requests'][resource]!r} is more than "
                f"the limit {resources['limits'][resource]!r}"
            )
    return found


def _qualified_name(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if "/" in prefix or (slash and not prefix):
        return False
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and bool(_LABEL_NAME.fullmatch(name))


def _find(value: Any, key: str, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) under a map key named `key`, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            child = f"{path}/{k}" if path else str(k)
            if k == key:
                yield child, v
            yield from _find(v, key, child)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _find(v, key, f"{path}/{i}" if path else str(i))
