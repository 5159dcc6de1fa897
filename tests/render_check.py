"""Per stack: every Helm release rendered and validated, and what ties the releases together.

For one stack this renders each release the program declares (tests/helm_render.py), validates
every rendered object and every object the program registers itself (tests/schema_check.py)
against the stack's Kubernetes versions and the CRDs the platform installs, and checks the ties:
each in-cluster Service URL a value or object points at is a Service some release renders, on
that port, and every namespace a release uses is one the program creates (or a built-in one).
Used by `make render` (scripts/render.py), `make validate` and the tests.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests import schema_check
from tests.crd_schemas import CrdIndex, applied_crds
from tests.harness import Run, run_program
from tests.helm_render import Release, Rendered, RenderFailed, declared_releases, kube_version
from tests.helm_render import render as render_release

NAMESPACE = "kubernetes:core/v1:Namespace"
# Every cluster has these; a chart may put objects there (cert-manager's leader-election Role).
BUILTIN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
_URL = re.compile(r"(?P<scheme>https?)://(?P<host>[a-z0-9.-]+)(?::(?P<port>[0-9]+))?(?:/\S*)?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Kinds without a namespace; custom kinds say so in their CRD.
_CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "APIService", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "StorageClass", "PriorityClass", "IngressClass",
    "RuntimeClass", "CSIDriver", "CSINode", "VolumeAttachment", "FlowSchema",
    "PriorityLevelConfiguration", "CertificateSigningRequest",
})  # fmt: skip


@dataclass
class StackRender:
    """Everything one stack installs through Helm, rendered, plus what validation needs."""

    stack: str
    run: Run
    declared: list[Release]
    """The releases the program declares, by name."""
    kube: str
    """The Kubernetes version the releases are rendered for."""
    versions: tuple[str, ...]
    """The versions objects are validated against."""
    releases: list[Rendered]
    failures: dict[str, str]
    """Release name -> why it did not render."""
    crds: CrdIndex
    namespaces: frozenset[str]
    """Namespaces the program creates."""

    def objects(self) -> Iterator[tuple[Rendered, dict[str, Any]]]:
        """Every rendered object, with its namespace filled in as the install would."""
        for rendered in self.releases:
            for obj in rendered.objects:
                yield rendered, self._in_namespace(obj, rendered.release.namespace)

    def _in_namespace(self, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
        metadata = obj.get("metadata") or {}
        if "namespace" in metadata or not self._namespaced(obj):
            return obj
        return {**obj, "metadata": {**metadata, "namespace": namespace}}

    def _namespaced(self, obj: dict[str, Any]) -> bool:
        key = (obj.get("apiVersion", ""), obj.get("kind", ""))
        if key in self.crds.kinds:
            return self.crds.namespaced(*key)
        return key[1] not in _CLUSTER_SCOPED


def render_stack(
    stack: str,
    run: Run | None = None,
    releases: list[Release] | None = None,
    reuse: StackRender | None = None,
) -> StackRender:
    """Render every release of `stack` (or `releases`, to try other values) in parallel; a
    release identical to one in `reuse` is not rendered again."""
    run = run or run_program(stack)
    declared = sorted(
        declared_releases(run) if releases is None else releases, key=lambda r: r.name
    )
    kube = kube_version(stack)
    done = reuse.releases if reuse is not None and reuse.kube == kube else []

    def outcome(release: Release) -> Rendered | str:
        for rendered in done:
            if rendered.release == release:
                return rendered
        return _try_render(release, kube)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        outcomes = list(pool.map(outcome, declared))
    rendered = [o for o in outcomes if isinstance(o, Rendered)]
    crds = CrdIndex(schema_check.definitions(kube))
    for crd in [*applied_crds(run), *_rendered_crds(rendered)]:
        crds.add(crd)
    return StackRender(
        stack=stack,
        run=run,
        declared=declared,
        kube=kube,
        versions=schema_check.target_versions(stack),
        releases=rendered,
        failures={r.name: o for r, o in zip(declared, outcomes, strict=True) if isinstance(o, str)},
        crds=crds,
        namespaces=frozenset(r.inputs["metadata"]["name"] for r in run.of_type(NAMESPACE)),
    )


@cache
def committed(stack: str) -> StackRender:
    """The stack with its committed config, rendered once per process."""
    return render_stack(stack)


def check(sr: StackRender) -> dict[str, list[str]]:
    """Problems per release name ("" for the program's own objects), every message naming the
    release, the object and the field."""
    found: dict[str, list[str]] = {r.name: [] for r in sr.declared}
    for name, failure in sr.failures.items():
        found[name].append(failure)
    for rendered, obj in sr.objects():
        messages = [
            p for version in sr.versions for p in schema_check.problems(obj, version, sr.crds)
        ]
        found[rendered.release.name] += [
            f"{rendered.release}: {m}" for m in dict.fromkeys(messages)
        ]
    for name, problems in namespace_problems(sr).items():
        found[name] += problems
    found[""] = program_object_problems(sr)
    if sr.failures:
        return found  # Service URLs cannot be judged while a release that may serve them fails.
    for name, problems in service_url_problems(sr).items():
        found[name] += problems
    return found


def validate_stack(stack: str) -> tuple[int, list[str]]:
    """(objects checked, problems) for the objects `stack` registers itself (`make validate`)."""
    sr = committed(stack)
    return len(schema_check.kubernetes_objects(sr.run)), program_object_problems(sr)


def program_object_problems(sr: StackRender) -> list[str]:
    """Problems of the objects the program registers itself, against the same versions and CRDs."""
    found = [
        p
        for version in sr.versions
        for obj in schema_check.kubernetes_objects(sr.run)
        for p in schema_check.problems(obj, version, sr.crds)
    ]
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class ServiceUrl:
    """An in-cluster URL found in a release's values or in an object the program registers."""

    source: str
    """`release flagger (flagger 1.44.0), values` or `Canary podinfo/podinfo`."""
    release: str
    """The release whose values hold it; "" for the program's own objects."""
    path: str
    url: str
    service: str
    namespace: str
    port: int


def service_urls(sr: StackRender) -> list[ServiceUrl]:
    """Every value that is exactly an in-cluster http(s) URL (commands that embed one, such as
    the load tester's curl, are not: they may call Services Flagger generates)."""
    sources = [(f"{r}, values", r.name, r.values, r.namespace) for r in sr.declared]
    sources += [
        (schema_check.describe(obj), "", obj, obj.get("metadata", {}).get("namespace", ""))
        for obj in schema_check.kubernetes_objects(sr.run)
    ]
    namespaces = sr.namespaces | frozenset(r.namespace for r in sr.declared)
    found = []
    for source, release, document, namespace in sources:
        for path, url in _strings(document):
            target = service_target(url, namespace, namespaces)
            if target is not None:
                found.append(ServiceUrl(source, release, path, url, *target))
    return found


def service_url_problems(sr: StackRender) -> dict[str, list[str]]:
    """Per release ("" for the program's objects): URLs no rendered Service answers."""
    found: dict[str, list[str]] = {}
    for u in service_urls(sr):
        if u.port not in _service_ports(sr, u.service, u.namespace):
            found.setdefault(u.release, []).append(
                f"{u.source}: {u.path}: {u.url} points at Service {u.namespace}/{u.service} "
                f"port {u.port}, which no release renders{_ports_hint(sr, u.service, u.namespace)}"
            )
    return found


def service_target(
    url: str, namespace: str, namespaces: frozenset[str]
) -> tuple[str, str, int] | None:
    """(service, namespace, port) of an in-cluster URL; None for anything else."""
    match = _URL.fullmatch(url)
    if match is None:
        return None
    labels = match["host"].split(".")
    port = int(match["port"] or _DEFAULT_PORTS[match["scheme"]])
    if labels[2:] in (["svc"], ["svc", "cluster", "local"]):
        return labels[0], labels[1], port
    if len(labels) == 2 and labels[1] in namespaces:
        return labels[0], labels[1], port
    if len(labels) == 1 and labels[0] != "localhost" and namespace:
        return labels[0], namespace, port
    return None


def namespace_problems(sr: StackRender) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {r.name: [] for r in sr.declared}
    for release in sr.declared:
        if release.namespace not in sr.namespaces:
            found[release.name].append(
                f"{release}: installs into namespace {release.namespace}, which the program does "
                f"not create (no {NAMESPACE} named {release.namespace})"
            )
    for rendered, obj in sr.objects():
        namespace = obj["metadata"].get("namespace")
        if namespace and namespace not in sr.namespaces | BUILTIN_NAMESPACES:
            found[rendered.release.name].append(
                f"{rendered.release}: {schema_check.describe(obj)}: metadata/namespace: "
                f"{namespace} is not created by the program"
            )
    return found


def write(sr: StackRender, out: Path) -> Path:
    """The rendered manifests under out/<stack>/<release>/, as Helm rendered them."""
    folder = out / sr.stack
    shutil.rmtree(folder, ignore_errors=True)
    for rendered in sr.releases:
        release_dir = folder / rendered.release.name
        for template, text in rendered.files.items():
            path = release_dir / template.split("/", 1)[1]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (release_dir / "values-passed.yaml").write_text(
            yaml.safe_dump(rendered.release.values, sort_keys=False)
        )
    return folder


def summary(sr: StackRender, problems: dict[str, list[str]]) -> list[str]:
    """One line per release (`linkerd-control-plane 2026.8.3: 36 objects, valid`), then one for
    the ties between them and one for the objects the program registers itself."""
    lines = []
    counts = {r.release.name: len(r.objects) for r in sr.releases}
    for release in sr.declared:
        if release.name in sr.failures:
            state = "does not render"
        else:
            n = len(problems.get(release.name, []))
            state = f"{counts[release.name]} objects, " + (f"{n} problem(s)" if n else "valid")
        lines.append(f"{release.name} {release.version}: {state}")
    urls, namespaces = service_urls(sr), {r.namespace for r in sr.declared}
    broken = [
        *([] if sr.failures else service_url_problems(sr).values()),
        *namespace_problems(sr).values(),
    ]
    n = sum(len(b) for b in broken)
    lines.append(
        f"ties: {len(urls)} in-cluster URLs to {len({(u.service, u.namespace) for u in urls})} "
        f"Services, {len(namespaces)} namespaces: " + (f"{n} problem(s)" if n else "valid")
    )
    own = len(schema_check.kubernetes_objects(sr.run))
    n = len(program_object_problems(sr))
    lines.append(f"the program's own objects: {own}, " + (f"{n} problem(s)" if n else "valid"))
    return lines


def _try_render(release: Release, kube: str) -> Rendered | str:
    try:
        return render_release(release, kube)
    except RenderFailed as failure:
        return str(failure)


def _rendered_crds(rendered: list[Rendered]) -> list[dict[str, Any]]:
    return [
        o
        for r in rendered
        for o in [*r.crds, *r.objects]
        if o.get("kind") == "CustomResourceDefinition"
    ]


def _service_ports(sr: StackRender, service: str, namespace: str) -> list[int]:
    return [
        p.get("port")
        for _, obj in sr.objects()
        if obj.get("kind") == "Service"
        and obj["metadata"].get("name") == service
        and obj["metadata"].get("namespace") == namespace
        for p in (obj.get("spec") or {}).get("ports") or []
    ]


def _ports_hint(sr: StackRender, service: str, namespace: str) -> str:
    ports = _service_ports(sr, service, namespace)
    return f" (it serves ports {ports})" if ports else ""


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}/{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}/{i}" if path else str(i))
    elif isinstance(value, str):
        yield path, value
