"""Access to manifests/: plain Kubernetes YAML and static Helm values, loaded with pyyaml."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "manifests"
PROJECT_FILE = ROOT / "Pulumi.yaml"
# libyaml's parser when pyyaml was built with it (the PyPI wheels are), else the pure-Python one:
# the Gateway API CRDs alone are 600 kB of YAML, parsed on every preview.
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_documents(path: str) -> list[dict[str, Any]]:
    """Every non-empty YAML document in manifests/<path>, a fresh copy the caller may change."""
    return copy.deepcopy(_parsed(path))


def load_one(path: str) -> dict[str, Any]:
    """The single YAML document in manifests/<path> (a Kubernetes object or a values file)."""
    documents = load_documents(path)
    if len(documents) != 1:
        raise ValueError(f"manifests/{path}: expected one YAML document, found {len(documents)}")
    return documents[0]


@cache
def _parsed(path: str) -> list[dict[str, Any]]:
    """Parsed once per run: every service renders from the same templates."""
    with (MANIFESTS / path).open() as stream:
        return [doc for doc in yaml.load_all(stream, Loader=YAML_LOADER) if doc]
