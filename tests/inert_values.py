"""Values the program sets that change nothing a chart renders: dead configuration, found by rendering.

Each leaf value of each release (a scalar, a list, or an empty map) is removed in turn and the
release rendered again; when the result equals the release's own render, the value is inert.
Both renders are first normalised for what templates generate anew on every render: PEM blocks
and long base64 data (genSelfSignedCert certificates, keys and caBundles) and `checksum/...`
annotations. Two renders of the same values must come out equal after that, or the analysis stops
(the normalisation would be missing something). Linkerd's `linkerd-config` ConfigMap copies every
value verbatim for the linkerd CLI; that copy is masked too, so a value no template reads shows
up as inert rather than hiding behind it. Slower than `make render`: one render per value.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tests.helm_render import Release, RenderFailed, render

_PEM = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.DOTALL)
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{64,}={0,2}")


class UnstableRender(Exception):
    """Two renders of the same values differ after normalising: inert values cannot be told."""


@dataclass(frozen=True)
class InertValue:
    release: str
    chart: str
    path: str
    """Dotted key path in the release's values, e.g. "service.type"."""
    value: Any

    def __str__(self) -> str:
        return f"release {self.release} ({self.chart}): {self.path} = {json.dumps(self.value)}"


def inert_values(releases: list[Release], kube: str) -> list[InertValue]:
    """Every leaf value of `releases` whose removal leaves the rendered output unchanged."""
    jobs = [(r, path) for r in releases for path in leaf_paths(r.values)]
    baselines = {r.name: _stable_render(r, kube) for r in releases}
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        outputs = list(pool.map(lambda job: _render_without(job[0], job[1], kube), jobs))
    return [
        InertValue(release.name, release.chart, ".".join(path), _get(release.values, path))
        for (release, path), output in zip(jobs, outputs, strict=True)
        if output == baselines[release.name]
    ]


def leaf_paths(values: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Key paths of every scalar, list and empty map; lists count whole (Helm replaces them)."""
    for key, value in values.items():
        if isinstance(value, dict) and value:
            yield from leaf_paths(value, (*prefix, key))
        else:
            yield (*prefix, key)


def normalise(objects: list[dict[str, Any]]) -> list[str]:
    """Rendered objects as JSON, with per-render certificates, keys and checksums masked."""
    return [json.dumps(_mask(_without_values_copy(o)), sort_keys=True) for o in objects]


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, str):
        if key.startswith("checksum/"):
            return "<checksum>"
        return _BASE64.sub("<base64>", _PEM.sub("<pem>", value))
    return value


def _without_values_copy(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") != "ConfigMap" or obj["metadata"].get("name") != "linkerd-config":
        return obj
    return {**obj, "data": {**obj["data"], "values": "<every value, for the linkerd CLI>"}}


def _stable_render(release: Release, kube: str) -> list[str]:
    first, second = (normalise(render(release, kube).objects) for _ in range(2))
    if first != second:
        changed = [a[:120] for a, b in zip(first, second, strict=False) if a != b]
        raise UnstableRender(
            f"{release}: two renders of the same values differ in {changed}; teach "
            "tests/inert_values.normalise what these templates generate anew"
        )
    return first


def _render_without(release: Release, path: tuple[str, ...], kube: str) -> list[str] | None:
    values = copy.deepcopy(release.values)
    parent = values
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    try:
        return normalise(render(release, kube, values).objects)
    except RenderFailed:
        return None  # the chart needs it


def _get(values: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        values = values[key]
    return values
