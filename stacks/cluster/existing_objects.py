"""Local stack, before anything is created: what already exists in the cluster it deploys into.

The local stack shares a cluster it does not own (kind, k3d, an existing AKS). Its provider
adopts existing objects (upsert), so without this check an existing Linkerd's `linkerd`
namespace would become the stack's, its Helm install would fail on ownership, and `pulumi
destroy` would delete the namespace with everything in it. So, before any resource is
registered, the program reads the cluster and applies one rule: what the stack creates either
does not exist yet, or carries this stack's owner label (components/ownership.py). Otherwise:

- a namespace the stack would create (the platform's and every service's) is refused, with
  what it is for and how to go on;
- Gateway API CRDs another installation put there are left as they are and used, when they are
  a version Linkerd accepts (standard channel, v1.2.1 to v1.5.1): the stack never applies,
  adopts or deletes them; any other version is refused (a field-manager conflict otherwise);
- Flagger's CRDs, and cert-manager's from another Helm release, are refused.

Every problem is listed at once, as config problems are. The read also returns the kube-system
namespace's UID, which identifies the cluster (components/cluster_identity.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stacks import delivery
from stacks.components.crds import crd_documents
from stacks.components.ownership import OWNER_LABEL
from stacks.components.pinned import PinnedFile
from stacks.config import ConfigError
from stacks.mesh import layer as mesh
from stacks.pins import FLAGGER, FLAGGER_CRDS, GATEWAY_API_CRDS, GATEWAY_API_RANGE
from stacks.schema import Settings
from stacks.schema.cluster import LocalClusterConfig
from stacks.schema.mesh import GATEWAY_API_VERSION
from stacks.telemetry import layer as telemetry
from stacks.telemetry import linkerd_viz

# Gateway API CRDs carry their release and channel as annotations (config/crd/standard/*.yaml).
BUNDLE_VERSION = "gateway.networking.k8s.io/bundle-version"
CHANNEL = "gateway.networking.k8s.io/channel"
# cert-manager's CRDs come with its Helm release, which keeps them (crds.keep): Helm adopts them
# again only into a release of the same name and namespace (meta.helm.sh/release-*).
CERT_MANAGER_CRD = "certificates.cert-manager.io"
HELM_RELEASE_NAME = "meta.helm.sh/release-name"
HELM_RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
TIMEOUT = (10, 30)  # connect and read seconds of each call


@dataclass(frozen=True)
class Found:
    """An object that exists: its labels and annotations."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Inventory:
    """What exists of what the stack would create, and which cluster this is."""

    cluster_uid: str
    """UID of the kube-system namespace: a new one means a re-created cluster."""
    namespaces: Mapping[str, Found]
    crds: Mapping[str, Found]


@dataclass(frozen=True)
class Wanted:
    """What the stack creates that another installation may already have."""

    namespaces: Mapping[str, str]
    """Namespace -> what it holds, for messages."""
    gateway_api: tuple[str, ...]
    flagger: tuple[str, ...]

    @property
    def crds(self) -> tuple[str, ...]:
        return (*self.gateway_api, *self.flagger, CERT_MANAGER_CRD)


@dataclass(frozen=True)
class Decision:
    """How the stack treats what exists."""

    keep_gateway_api: bool
    """Gateway API CRDs of an accepted version exist and are not the stack's: used, untouched."""


Reader = Callable[[LocalClusterConfig, Wanted], Inventory]


def wanted(settings: Settings) -> Wanted:
    namespaces = {
        mesh.CERT_MANAGER_NAMESPACE: "cert-manager",
        mesh.NAMESPACE: "Linkerd's control plane",
        linkerd_viz.NAMESPACE: "the Linkerd dashboard",
        telemetry.NAMESPACE: "Prometheus and Grafana",
        delivery.NAMESPACE: "Flagger",
    }
    for s in settings.services:
        namespaces.setdefault(s.namespace, f"service {s.name}")
    return Wanted(
        namespaces=namespaces,
        gateway_api=_names(GATEWAY_API_CRDS[settings.mesh.gateway_api_version]),
        flagger=_names([FLAGGER_CRDS[FLAGGER.version]]),
    )


def check(settings: Settings, owner: str, read: Reader | None = None) -> tuple[Inventory, Decision]:
    """Read the cluster and apply the rule above; raise ConfigError listing every problem."""
    assert settings.local is not None
    want = wanted(settings)
    inventory = (read or read_cluster)(settings.local, want)
    problems: list[str] = []
    context = settings.local.kube_context
    for name, purpose in want.namespaces.items():
        found = inventory.namespaces.get(name)
        if found is not None and found.labels.get(OWNER_LABEL) != owner:
            problems.append(_foreign_namespace(name, purpose, found, owner, context))
    keep = _gateway_api(inventory, want, owner, problems)
    for name in want.flagger:
        found = inventory.crds.get(name)
        if found is not None and found.labels.get(OWNER_LABEL) != owner:
            problems.append(
                f"CRD {name} exists in context {context} and this stack did not create it "
                "(another Flagger?); allowed: a cluster without Flagger's CRDs (remove that "
                "Flagger and its CRDs, or use another cluster)"
            )
    found = inventory.crds.get(CERT_MANAGER_CRD)
    if found is not None and (
        found.annotations.get(HELM_RELEASE_NAME) != "cert-manager"
        or found.annotations.get(HELM_RELEASE_NAMESPACE) != mesh.CERT_MANAGER_NAMESPACE
    ):
        problems.append(
            f"CRD {CERT_MANAGER_CRD} exists in context {context} and belongs to no Helm release "
            f"cert-manager in namespace {mesh.CERT_MANAGER_NAMESPACE} (another cert-manager?); "
            "allowed: a cluster without it (its Helm install would fail on ownership)"
        )
    if problems:
        raise ConfigError.listing(
            f"context {context} already has what stack {settings.stack} would create", problems
        )
    return inventory, Decision(keep_gateway_api=keep)


def _foreign_namespace(name: str, purpose: str, found: Found, owner: str, context: str) -> str:
    other = found.labels.get(OWNER_LABEL)
    whose = f"stack {other} created it" if other else "this stack did not create it"
    if purpose.startswith("service "):
        fix = (
            f"name another namespace for {purpose.removeprefix('service ')} (services/<name>.yaml)"
        )
    else:
        fix = f"remove the other installation of {purpose} or use another cluster"
    return (
        f"namespace {name} ({purpose}) exists in context {context} and {whose}; the stack would "
        f"adopt it and delete it on `pulumi destroy`; allowed: a cluster without it ({fix}; if "
        f"this stack created it before it labelled its namespaces: `kubectl --context {context} "
        f"label namespace {name} {OWNER_LABEL}={owner}`)"
    )


def _gateway_api(inventory: Inventory, want: Wanted, owner: str, problems: list[str]) -> bool:
    """Whether Gateway API CRDs another installation put there are kept and used as they are."""
    existing = {n: inventory.crds[n] for n in want.gateway_api if n in inventory.crds}
    foreign = {n: f for n, f in existing.items() if f.labels.get(OWNER_LABEL) != owner}
    if not foreign:
        return False
    versions = {f.annotations.get(BUNDLE_VERSION, "unknown") for f in foreign.values()}
    channels = {f.annotations.get(CHANNEL, "unknown") for f in foreign.values()}
    accepted = len(versions) == 1 and _accepted(next(iter(versions))) and channels == {"standard"}
    if accepted and len(foreign) == len(existing):
        return True
    low, high = (".".join(map(str, v)) for v in GATEWAY_API_RANGE)
    problems.append(
        f"Gateway API CRDs {', '.join(sorted(versions))} ({', '.join(sorted(channels))} channel) "
        f"exist ({', '.join(sorted(foreign))}) and this stack did not install them; allowed: "
        f"v{low} to v{high} of the standard channel, which the stack then uses as they are, or "
        "none (the stack installs gatewayApiVersion)"
    )
    return False


def _accepted(version: str) -> bool:
    match = GATEWAY_API_VERSION.match(version)
    if match is None:
        return False
    low, high = GATEWAY_API_RANGE
    return low <= tuple(int(part) for part in match.groups()) <= high


def _names(files: Sequence[PinnedFile]) -> tuple[str, ...]:
    return tuple(crd["metadata"]["name"] for crd in crd_documents(files))


def read_cluster(s: LocalClusterConfig, want: Wanted) -> Inventory:
    """The real read, through the stack's kubeconfig context (the official Kubernetes client)."""
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    where = f"context {s.kube_context} of {s.kubeconfig_path or '$KUBECONFIG or ~/.kube/config'}"
    try:
        api = config.new_client_from_config(
            config_file=s.kubeconfig_path or None, context=s.kube_context
        )
    except Exception as error:  # ConfigException, a missing file, a broken exec plugin
        raise ConfigError(f"cannot use {where}: {error}; nothing was created") from None
    core, extensions = client.CoreV1Api(api), client.ApiextensionsV1Api(api)

    def get(reader: Callable[..., object], name: str) -> Any:
        try:
            return reader(name, _request_timeout=TIMEOUT)
        except ApiException as error:
            if error.status == 404:
                return None
            raise ConfigError(
                f"{where} answered {error.status} reading {name}: {error.reason}; the stack must "
                "read namespaces and CRDs to know what it may create; nothing was created"
            ) from None
        except Exception as error:  # unreachable: urllib3 errors, timeouts
            raise ConfigError(
                f"cannot reach the cluster of {where}: {error}; nothing was created"
            ) from None

    def found(obj: Any) -> Found:
        return Found(dict(obj.metadata.labels or {}), dict(obj.metadata.annotations or {}))

    system = get(core.read_namespace, "kube-system")
    if system is None:
        raise ConfigError(f"{where} has no kube-system namespace: not a Kubernetes cluster?")
    namespaces = {
        n: found(obj) for n in want.namespaces if (obj := get(core.read_namespace, n)) is not None
    }
    crds = {
        n: found(obj)
        for n in want.crds
        if (obj := get(extensions.read_custom_resource_definition, n)) is not None
    }
    return Inventory(str(system.metadata.uid), namespaces, crds)
