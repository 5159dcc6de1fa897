"""Settings: the one place that reads `pulumi.Config()`, turning stack config into validated values.

Defaults live in Pulumi.yaml (the engine supplies them); this module only checks and types what
it is given. Every problem is collected and reported at once, before any resource is registered.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

ENVIRONMENTS = ("dev", "prod", "local")
KUBELOGIN_MODES = ("azurecli", "workloadidentity", "spn", "msi")
UPGRADE_CHANNELS = ("none", "patch", "stable", "rapid", "node-image")
NODE_OS_UPGRADE_CHANNELS = ("None", "Unmanaged", "NodeImage", "SecurityPatch")
SKU_TIERS = ("Free", "Standard", "Premium")
NETWORK_POLICIES = ("calico", "azure")
# The pinned Linkerd (see stacks/versions.py) refuses older API servers.
MIN_KUBERNETES = (1, 31)

_KUBERNETES_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
_LOCATION = re.compile(r"^[a-z][a-z0-9]{2,}$")
_VM_SIZE = re.compile(r"^Standard_[A-Za-z0-9_]+$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_AZURE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.()-]{0,62}$")
_EDGE_CHART_VERSION = re.compile(r"^(\d{4})\.(\d{1,2})\.(\d+)$")
_GATEWAY_API_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_PROMETHEUS_DURATION = re.compile(r"^[1-9]\d*(h|d|w|y)$")
_QUANTITY = re.compile(r"^[1-9]\d*(Mi|Gi|Ti)$")
# Linkerd 2.20 (edge 2026.6.3) is the oldest release whose chart values this program sets.
MIN_LINKERD_CHART = (2026, 6, 3)
# Linkerd 2.20 works with Gateway API v1.2.1 up to v1.5.1.
GATEWAY_API_RANGE = ((1, 2, 1), (1, 5, 1))
# Linkerd's HA control plane spreads 3 replicas over distinct nodes.
HA_MIN_NODES = 3


class ConfigError(pulumi.RunError):
    """Stack configuration is invalid; the message lists every problem found."""


@dataclass(frozen=True)
class NodePool:
    vm_size: str
    count: int
    autoscaling: bool
    min_count: int
    max_count: int


@dataclass(frozen=True)
class AksSettings:
    """What the cluster layer needs to create an AKS cluster."""

    location: str
    resource_group_name: str
    cluster_name: str
    kubernetes_version: str
    sku_tier: str
    system_pool: NodePool
    user_pool: NodePool
    availability_zones: tuple[str, ...]
    upgrade_channel: str
    node_os_upgrade_channel: str
    network_policy: str
    authorized_ip_ranges: tuple[str, ...]
    disable_local_accounts: bool
    admin_group_object_ids: tuple[str, ...]
    kubelogin_mode: str
    protect: bool


@dataclass(frozen=True)
class LocalClusterSettings:
    """An existing cluster reached through a kubeconfig context."""

    kube_context: str
    kubeconfig_path: str | None


@dataclass(frozen=True)
class MeshSettings:
    """Linkerd: version, availability and how its identity issuer is managed."""

    linkerd_version: str
    gateway_api_version: str
    high_availability: bool
    identity_rotation: bool
    trust_anchor_validity_days: int
    issuer_validity_days: int


@dataclass(frozen=True)
class TelemetrySettings:
    """Prometheus storage; Grafana and the Linkerd dashboard need no tuning."""

    prometheus_retention: str
    prometheus_persistence: bool
    prometheus_storage_size: str


@dataclass(frozen=True)
class Settings:
    """Everything the program builds, validated."""

    project: str
    stack: str
    environment: str
    aks: AksSettings | None
    local: LocalClusterSettings | None
    mesh: MeshSettings
    telemetry: TelemetrySettings

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"


def load() -> Settings:
    """Read and validate the stack's configuration; raise ConfigError listing every problem."""
    reader = _Reader(pulumi.Config())
    settings = _settings(reader, pulumi.get_project(), pulumi.get_stack())
    reader.raise_if_invalid()
    return settings


def _settings(r: _Reader, project: str, stack: str) -> Settings:
    environment = r.choice("environment", ENVIRONMENTS)
    aks = _aks(r, project, stack, environment) if environment != "local" else None
    local = _local(r) if environment == "local" else None
    mesh = _mesh(r)
    if mesh.high_availability and aks is not None:
        pool = aks.user_pool
        nodes = pool.min_count if pool.autoscaling else pool.count
        key = "nodeMinCount" if pool.autoscaling else "nodeCount"
        if nodes < HA_MIN_NODES and not r.has_problem(key):
            r.problem(key, nodes, f">= {HA_MIN_NODES} when meshHighAvailability is true")
    return Settings(
        project=project,
        stack=stack,
        environment=environment,
        aks=aks,
        local=local,
        mesh=mesh,
        telemetry=_telemetry(r),
    )


def _mesh(r: _Reader) -> MeshSettings:
    anchor_days = r.integer("trustAnchorValidityDays", minimum=365, maximum=7300)
    issuer_days = r.integer("issuerValidityDays", minimum=90, maximum=730)
    rotation = r.flag("identityRotation")
    if not rotation and issuer_days >= anchor_days and not r.has_problem("trustAnchorValidityDays"):
        r.problem(
            "issuerValidityDays",
            issuer_days,
            f"less than trustAnchorValidityDays ({anchor_days}): an issuer cannot outlive its anchor",
        )
    return MeshSettings(
        linkerd_version=r.check("linkerdVersion", _linkerd_version),
        gateway_api_version=r.check("gatewayApiVersion", _gateway_api_version),
        high_availability=r.flag("meshHighAvailability"),
        identity_rotation=rotation,
        trust_anchor_validity_days=anchor_days,
        issuer_validity_days=issuer_days,
    )


def _telemetry(r: _Reader) -> TelemetrySettings:
    return TelemetrySettings(
        prometheus_retention=r.text(
            "prometheusRetention",
            pattern=_PROMETHEUS_DURATION,
            allowed="a whole number of hours, days, weeks or years, e.g. 24h or 15d",
        ),
        prometheus_persistence=r.flag("prometheusPersistence"),
        prometheus_storage_size=r.text(
            "prometheusStorageSize", pattern=_QUANTITY, allowed="a size like 20Gi or 500Mi"
        ),
    )


def _aks(r: _Reader, project: str, stack: str, environment: str) -> AksSettings:
    prod = environment == "prod"
    user_pool = NodePool(
        vm_size=r.text(
            "nodeVmSize", pattern=_VM_SIZE, allowed="an Azure VM size like Standard_D4s_v5"
        ),
        count=r.integer("nodeCount", minimum=1, maximum=1000),
        autoscaling=r.flag("autoscaling"),
        min_count=r.integer("nodeMinCount", minimum=1, maximum=1000),
        max_count=r.integer("nodeMaxCount", minimum=1, maximum=1000),
    )
    pool_keys_valid = not r.has_problem("nodeCount", "nodeMinCount", "nodeMaxCount")
    if pool_keys_valid and user_pool.autoscaling and user_pool.min_count > user_pool.max_count:
        r.problem(
            "nodeMinCount",
            user_pool.min_count,
            f"at most nodeMaxCount ({user_pool.max_count})",
        )
    elif (
        pool_keys_valid
        and user_pool.autoscaling
        and not user_pool.min_count <= user_pool.count <= user_pool.max_count
    ):
        r.problem(
            "nodeCount",
            user_pool.count,
            f"between nodeMinCount and nodeMaxCount ({user_pool.min_count}-{user_pool.max_count})",
        )
    system_count = r.integer("systemNodeCount", minimum=1, maximum=100)
    system_pool = NodePool(
        vm_size=r.text(
            "systemNodeVmSize", pattern=_VM_SIZE, allowed="an Azure VM size like Standard_D2s_v5"
        ),
        count=system_count,
        autoscaling=False,
        min_count=system_count,
        max_count=system_count,
    )
    sku_tier = r.choice("skuTier", SKU_TIERS)
    if prod and sku_tier == "Free":
        r.problem("skuTier", sku_tier, "Standard or Premium when environment is prod (uptime SLA)")
    disable_local_accounts = r.flag("disableLocalAccounts")
    if prod and not disable_local_accounts:
        r.problem(
            "disableLocalAccounts",
            disable_local_accounts,
            "true when environment is prod (static admin credentials bypass Entra ID)",
        )
    return AksSettings(
        location=r.text("location", pattern=_LOCATION, allowed="an Azure region like westeurope"),
        resource_group_name=r.text(
            "resourceGroupName",
            pattern=_AZURE_NAME,
            allowed="1-63 letters, digits, -_.()",
            empty_ok=True,
        )
        or f"rg-{project}-{stack}",
        cluster_name=r.text(
            "clusterName", pattern=_AZURE_NAME, allowed="1-63 letters, digits, -_.()", empty_ok=True
        )
        or f"aks-{stack}",
        kubernetes_version=r.check("kubernetesVersion", _kubernetes_version),
        sku_tier=sku_tier,
        system_pool=system_pool,
        user_pool=user_pool,
        availability_zones=r.texts("availabilityZones", each=_zone),
        upgrade_channel=r.choice("upgradeChannel", UPGRADE_CHANNELS),
        node_os_upgrade_channel=r.choice("nodeOsUpgradeChannel", NODE_OS_UPGRADE_CHANNELS),
        network_policy=r.choice("networkPolicy", NETWORK_POLICIES),
        authorized_ip_ranges=r.texts("apiServerAuthorizedIpRanges", each=_ipv4_cidr),
        disable_local_accounts=disable_local_accounts,
        admin_group_object_ids=r.texts("adminGroupObjectIds", each=_guid),
        kubelogin_mode=r.choice("kubeloginMode", KUBELOGIN_MODES),
        protect=prod,
    )


def _local(r: _Reader) -> LocalClusterSettings:
    context = r.text("kubeContext", allowed="the name of a context in your kubeconfig")
    return LocalClusterSettings(
        kube_context=context,
        kubeconfig_path=r.text("kubeconfigPath", allowed="a file path", empty_ok=True) or None,
    )


# ---- value checks: return an error description, or None when the value is fine ----


def _kubernetes_version(value: str) -> str | None:
    match = _KUBERNETES_VERSION.match(value)
    if match is None:
        return "MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 1.34 or 1.34.2"
    if (int(match[1]), int(match[2])) < MIN_KUBERNETES:
        return "1.31 or newer (the pinned Linkerd needs it)"
    return None


def _linkerd_version(value: str) -> str | None:
    match = _EDGE_CHART_VERSION.match(value)
    if match is None:
        return "an edge chart version YYYY.M.N, e.g. 2026.8.3 (not a stable-2.x tag)"
    if tuple(int(part) for part in match.groups()) < MIN_LINKERD_CHART:
        return "2026.6.3 (Linkerd 2.20) or newer"
    return None


def _gateway_api_version(value: str) -> str | None:
    match = _GATEWAY_API_VERSION.match(value)
    low, high = GATEWAY_API_RANGE
    if match is None or not low <= tuple(int(part) for part in match.groups()) <= high:
        return "v1.2.1 to v1.5.1 (what Linkerd 2.20 accepts), e.g. v1.2.1"
    return None


def _ipv4_cidr(value: str) -> str | None:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return "IPv4 CIDRs like 203.0.113.0/24, with no host bits set"
    return None if network.version == 4 and "/" in value else "IPv4 CIDRs like 203.0.113.0/24"


def _zone(value: str) -> str | None:
    return None if value in ("1", "2", "3") else 'zone numbers "1", "2" or "3"'


def _guid(value: str) -> str | None:
    return None if _GUID.match(value) else "Entra ID object ids (GUIDs)"


class _Reader:
    """Reads raw config values, recording every problem instead of stopping at the first."""

    def __init__(self, config: pulumi.Config) -> None:
        self._config = config
        self.problems: list[str] = []

    def problem(self, key: str, given: Any, allowed: str) -> None:
        self.problems.append(f"{self._config.name}:{key}: got {given!r}; allowed: {allowed}")

    def has_problem(self, *keys: str) -> bool:
        return any(
            p.startswith(f"{self._config.name}:{key}:") for p in self.problems for key in keys
        )

    def raise_if_invalid(self) -> None:
        if self.problems:
            listed = "\n".join(f"  - {p}" for p in self.problems)
            raise ConfigError(
                f"invalid stack configuration ({len(self.problems)} problem(s)); "
                f"nothing was created:\n{listed}"
            )

    def _raw(self, key: str) -> str | None:
        value = self._config.get(key)
        if value is None:
            self.problem(key, None, "a value; its default is declared in Pulumi.yaml")
        return value

    def text(
        self,
        key: str,
        *,
        allowed: str,
        pattern: re.Pattern[str] | None = None,
        empty_ok: bool = False,
    ) -> str:
        value = self._raw(key)
        if value is None:
            return ""
        value = value.strip()
        if value == "" and empty_ok:
            return ""
        if value == "" or (pattern is not None and not pattern.match(value)):
            self.problem(key, value, allowed)
        return value

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        value = self._raw(key)
        if value is not None and value not in allowed:
            self.problem(key, value, " | ".join(allowed))
        return value or ""

    def check(self, key: str, rule: Callable[[str], str | None]) -> str:
        value = self._raw(key)
        if value is None:
            return ""
        error = rule(value)
        if error:
            self.problem(key, value, error)
        return value

    def integer(self, key: str, *, minimum: int, maximum: int | None = None) -> int:
        raw = self._raw(key)
        if raw is None:
            return minimum
        try:
            # The engine passes numbers as text; YAML may have turned 3 into 3.0.
            number = float(raw)
            if not number.is_integer():
                raise ValueError
            value = int(number)
        except ValueError:
            self.problem(key, raw, "a whole number")
            return minimum
        bounds = f"{minimum}-{maximum}" if maximum is not None else f">= {minimum}"
        if value < minimum or (maximum is not None and value > maximum):
            self.problem(key, value, f"a whole number {bounds}")
        return value

    def flag(self, key: str) -> bool:
        raw = self._raw(key)
        if raw is None:
            return False
        if raw.lower() not in ("true", "false"):
            self.problem(key, raw, "true | false")
        return raw.lower() == "true"

    def texts(self, key: str, *, each: Callable[[str], str | None]) -> tuple[str, ...]:
        raw = self._raw(key)
        if raw is None:
            return ()
        try:
            values = json.loads(raw)
        except json.JSONDecodeError:
            values = None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            self.problem(key, raw, 'a list of strings, e.g. ["a", "b"]')
            return ()
        for value in values:
            error = each(value)
            if error:
                self.problem(key, value, error)
        return tuple(values)
