"""Every Helm release a stack declares, rendered offline by Helm's own engine (helm-python-sdk).

Each release is rendered from its pinned chart archive (tests/chart_cache.py) with exactly the
values the program passes, its release name and namespace, and the Kubernetes version and built-in
APIs of the stack's cluster, the way `helm install` would render it against that cluster.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from helm_python import _native

from tests import chart_cache, schema_check
from tests.harness import HELM_RELEASE, NAME, Run, stack_config

# The local stack targets a cluster of unknown version: render for the oldest minor the platform
# supports (the pinned Linkerd's floor); its objects are also validated against the newest.
LOCAL_KUBERNETES = schema_check.LOCAL_VERSIONS[0]
# Values that exist only once `pulumi up` runs (under mocks they are stand-ins already): each is
# replaced by a real value of the same kind, and every report says so.
# (chart, top-level key) -> (what it is at deploy time, how to make a stand-in)
DEPLOY_TIME: dict[tuple[str, str], tuple[str, Callable[[], Any]]] = {
    ("linkerd-control-plane", "identityTrustAnchorsPEM"): (
        "the trust anchor pulumi-tls creates at deploy time (a self-signed ECDSA P-256 CA)",
        lambda: _trust_anchor_pem(),
    )
}
# Helm splits a rendered template into documents on this (releaseutil.SplitManifests).
_DOCUMENT_SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")


class RenderFailed(Exception):
    """The chart refused the values or a template failed; the message names the release."""


@dataclass(frozen=True)
class Release:
    """One `helm.v3.Release` as the program declares it, with the values Helm would receive."""

    name: str
    chart: str
    version: str
    repo: str
    namespace: str
    values: dict[str, Any]
    skip_crds: bool = False
    stand_ins: tuple[str, ...] = ()
    """Value paths replaced by generated stand-ins (DEPLOY_TIME)."""

    def __str__(self) -> str:
        return f"release {self.name} ({self.chart} {self.version})"


@dataclass
class Rendered:
    """What `helm install` would send to the cluster for one release."""

    release: Release
    kube_version: str
    files: dict[str, str]
    """Template path -> rendered YAML, without NOTES.txt and empty templates."""
    objects: list[dict[str, Any]] = field(default_factory=list)
    """Every object, in template order, install hooks included, `helm test` hooks not (an
    install never runs them)."""
    crds: list[dict[str, Any]] = field(default_factory=list)
    """The chart's crds/ folder, which Helm installs before the templates (unless skipCrds)."""


def declared_releases(run: Run) -> list[Release]:
    """The Helm releases `run` registered, in registration order."""
    return [_release(r.inputs) for r in run.of_type(HELM_RELEASE)]


def kube_version(stack: str) -> str:
    """MAJOR.MINOR[.PATCH] of the stack's cluster: its kubernetesVersion, or LOCAL_KUBERNETES."""
    config = stack_config(stack)
    if config[f"{NAME}:environment"] == "local":
        return LOCAL_KUBERNETES
    return config[f"{NAME}:kubernetesVersion"]


def render(release: Release, kube: str, values: Mapping[str, Any] | None = None) -> Rendered:
    """Render `release` for Kubernetes `kube`; `values` replaces the release's own (inert check)."""
    values = dict(release.values if values is None else values)
    # A fresh chart per render: rendering drops disabled subcharts from the loaded chart in place
    # (Helm's ProcessDependencies), so a reused one would render them as disabled forever after.
    with helm.Chart.load_archive(
        chart_archive(release.chart, release.version, release.repo)
    ) as chart:
        _check_kube_version(release, chart, kube)
        try:
            chart.validate_schema(values)
        except helm.HelmError as error:
            raise RenderFailed(f"{release}: values: {_schema_errors(error)}") from None
        options = {
            "name": release.name,
            "namespace": release.namespace,
            "is_install": True,
            "kube_version": "v" + (kube if kube.count(".") == 2 else f"{kube}.0"),
            "api_versions": builtin_api_versions(kube),
        }
        try:
            # Chart.render() cannot pass the Kubernetes version; the native call behind it can.
            output = _native.call_string(
                "helm_render", chart._raw(), json.dumps(values), json.dumps(options)
            )
        except helm.HelmError as error:
            raise RenderFailed(f"{release}: the chart does not render: {error}") from None
        crds = [] if release.skip_crds else [o for c in chart.crds for o in _objects(c["data"])]
    files = {
        path: text
        for path, text in sorted(json.loads(output).items())
        if not path.endswith("NOTES.txt") and text.strip()
    }
    objects = [o for text in files.values() for o in _objects(text)]
    return Rendered(release, kube, files, objects, crds)


@cache
def chart_archive(chart: str, version: str, repo: str) -> bytes:
    """The pinned chart's archive, read once per process and checked to be what it claims."""
    path = chart_cache.archive(chart, version, repo)
    data = path.read_bytes()
    with helm.Chart.load_archive(data) as loaded:
        if loaded.name != chart or loaded.version.removeprefix("v") != version.removeprefix("v"):
            raise chart_cache.ChartMissing(
                f"{path} holds {loaded.name} {loaded.version}, not {chart} {version}"
            )
    return data


@cache
def builtin_api_versions(kube: str) -> list[str]:
    """What the API server of `kube` advertises (`.Capabilities.APIVersions`): every stable
    group/version and group/version/Kind kubernetes-validate knows for that minor. Alpha and beta
    APIs are off by default in a new cluster. The platform's own CRDs are not listed: no pinned
    chart asks for one."""
    found: set[str] = set()
    for definition in schema_check.definitions(kube)["$defs"].values():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            if re.search(r"(alpha|beta)", gvk["version"]) or gvk["kind"].endswith("List"):
                continue
            group_version = "/".join(p for p in (gvk["group"], gvk["version"]) if p)
            found |= {group_version, f"{group_version}/{gvk['kind']}"}
    return sorted(found)


def merge_maps(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Maps merge key by key; anything else in `override` (lists too) replaces `base`'s.

    The merge pulumi-kubernetes applies to a Release: `valueYamlFiles` in order, then `values` on
    top (provider/pkg/provider/helm_release.go decodeRelease, provider/pkg/helm/upstream.go
    MergeMaps, v4.32.0).
    """
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_maps(out[key], value)
        else:
            out[key] = value
    return out


def _release(inputs: dict[str, Any]) -> Release:
    values: dict[str, Any] = {}
    for asset in inputs.get("valueYamlFiles") or []:
        values = merge_maps(values, _value_file(asset))
    values = _as_sent(merge_maps(values, inputs.get("values") or {}))
    stand_ins = []
    for (chart, key), (what, make) in DEPLOY_TIME.items():
        if chart == inputs["chart"] and key in values:
            values[key] = make()
            stand_ins.append(f"{key}: a generated stand-in for {what}")
    return Release(
        name=inputs["name"],
        chart=inputs["chart"],
        version=inputs["version"],
        repo=inputs["repositoryOpts"]["repo"],
        namespace=inputs["namespace"],
        values=values,
        skip_crds=bool(inputs.get("skipCrds")),
        stand_ins=tuple(stand_ins),
    )


def _schema_errors(error: helm.HelmError) -> str:
    """Helm's "chart:\n- at '/a/b': got string, want integer" as "a/b: got string, ...; ..."."""
    found = re.findall(r"- at '/?([^']*)': (.*)", str(error))
    if not found:
        return str(error).strip()
    listed = "; ".join(f"{path or '<root>'}: {message}" for path, message in found)
    return f"{listed} (the chart's values.schema.json)"


def _value_file(asset: dict[str, Any]) -> dict[str, Any]:
    """A FileAsset or StringAsset as the SDK serialises it."""
    text = asset["text"] if "text" in asset else Path(asset["path"]).read_text()
    return yaml.safe_load(text) or {}


def _as_sent(value: Any) -> Any:
    """Numbers travel as float64 from the SDK to the provider; Helm prints 3.0 as 3."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _as_sent(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_sent(v) for v in value]
    return value


def _objects(text: str) -> list[dict[str, Any]]:
    documents = (yaml.load(d, Loader=yaml.CSafeLoader) for d in _DOCUMENT_SEPARATOR.split(text))
    return [
        d
        for d in documents
        if isinstance(d, dict)
        and "test" not in (d.get("metadata") or {}).get("annotations", {}).get("helm.sh/hook", "")
    ]


def _check_kube_version(release: Release, chart: helm.Chart, kube: str) -> None:
    """`helm install` refuses a chart whose kubeVersion range excludes the cluster's version."""
    constraint = chart.metadata.get("kubeVersion")
    if constraint and not version_in_range(kube, constraint):
        raise RenderFailed(
            f"{release}: the chart requires Kubernetes {constraint}, the stack runs {kube}"
        )


def version_in_range(version: str, constraint: str) -> bool:
    """Whether MAJOR.MINOR[.PATCH] satisfies a chart's kubeVersion range: comparisons (>=, >,
    <=, <, =) joined by spaces or commas, ^ and ~ ranges, alternatives joined by ||."""
    have = _triple(version)
    for alternative in constraint.split("||"):
        terms = re.findall(
            r"(>=|<=|!=|>|<|=|\^|~)?\s*v?([0-9][0-9.x*]*)(?:-[0-9A-Za-z.]+)?", alternative
        )
        if terms and all(_satisfies(have, op or "=", _triple(v)) for op, v in terms):
            return True
    return False


def _satisfies(have: tuple[int, ...], op: str, want: tuple[int, ...]) -> bool:
    if op == "^":
        return want <= have < (want[0] + 1, 0, 0)
    if op == "~":
        return want <= have < (want[0], want[1] + 1, 0)
    return {
        ">=": have >= want,
        ">": have > want,
        "<=": have <= want,
        "<": have < want,
        "=": have == want,
        "!=": have != want,
    }[op]


def _triple(version: str) -> tuple[int, ...]:
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


@cache
def _trust_anchor_pem() -> str:
    """A real self-signed ECDSA P-256 CA like the one the mesh layer creates."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "root.linkerd.cluster.local")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()
