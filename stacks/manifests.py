"""Access to manifests/: plain Kubernetes YAML and static Helm values, loaded with pyyaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "manifests"
PROJECT_FILE = ROOT / "Pulumi.yaml"


def load_documents(path: str) -> list[dict[str, Any]]:
    """Every non-empty YAML document in manifests/<path>."""
    with (MANIFESTS / path).open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def load_one(path: str) -> dict[str, Any]:
    """The single YAML document in manifests/<path> (a Kubernetes object or a values file)."""
    documents = load_documents(path)
    if len(documents) != 1:
        raise ValueError(f"manifests/{path}: expected one YAML document, found {len(documents)}")
    return documents[0]
