"""Helm value keys checked against each pinned chart's values.yaml and templates.

One entry per key path the platform sets; `name.*` admits any subtree under `name` (free-form
maps the chart passes through, such as Prometheus scrape jobs or Grafana provisioning files).
A key that is not listed here was not checked: read the chart at its pinned version, then add it.
"""

from __future__ import annotations

_RESOURCES = ("cpu.limit", "cpu.request", "memory.limit", "memory.request")

CHECKED_KEYS: dict[tuple[str, str], frozenset[str]] = {
    ("linkerd-crds", "2026.8.3"): frozenset({"installGatewayAPI"}),
    ("linkerd-control-plane", "2026.8.3"): frozenset(
        {
            "identityTrustAnchorsPEM",
            "identity.issuer.scheme",
            "disableHeartBeat",
            # values-ha.yaml
            "highAvailability",
            "controllerReplicas",
            "enablePodDisruptionBudget",
            "controller.podDisruptionBudget.maxUnavailable",
            "enablePodAntiAffinity",
            "deploymentStrategy.rollingUpdate.maxUnavailable",
            "deploymentStrategy.rollingUpdate.maxSurge",
            "webhookFailurePolicy",
            "proxyInjector.namespaceSelector.matchExpressions",
            "proxy.resources.cpu.request",
            "proxy.resources.memory.limit",
            "proxy.resources.memory.request",
            *(
                f"{component}Resources.{key}"
                for component in (
                    "controller",
                    "destination",
                    "heartbeat",
                    "proxyInjector",
                    "spValidator",
                    "identity",
                )
                for key in _RESOURCES
            ),
        }
    ),
    ("linkerd-viz", "2026.8.3"): frozenset(
        {
            "linkerdNamespace",
            "prometheus.enabled",
            "prometheusUrl",
            "enablePodAntiAffinity",
            "enablePodDisruptionBudget",
            "tap.replicas",
            "metricsAPI.replicas",
        }
    ),
    ("prometheus", "29.27.0"): frozenset(
        {
            "alertmanager.enabled",
            "kube-state-metrics.enabled",
            "prometheus-node-exporter.enabled",
            "prometheus-pushgateway.enabled",
            "server.global.scrape_interval",
            "server.global.scrape_timeout",
            "server.global.evaluation_interval",
            "server.retention",
            "server.persistentVolume.enabled",
            "server.persistentVolume.size",
            "server.persistentVolume.storageClass",
            "server.resources.*",
            # A map keyed by job name; each entry is native Prometheus scrape config.
            "scrapeConfigs.*",
        }
    ),
    ("grafana", "12.11.1"): frozenset(
        {
            "admin.existingSecret",
            "admin.userKey",
            "admin.passwordKey",
            "service.type",
            "service.port",
            "persistence.enabled",
            "grafana.ini.*",
            "datasources.*",
            "dashboardProviders.*",
            "dashboards.*",
        }
    ),
    ("cert-manager", "v1.21.1"): frozenset({"crds.enabled", "crds.keep"}),
    ("flagger", "1.44.0"): frozenset(
        {
            "meshProvider",
            "metricsServer",
            "linkerdAuthPolicy.create",
            "clusterName",
            "leaderElection.enabled",
            "leaderElection.replicaCount",
        }
    ),
    ("loadtester", "0.38.0"): frozenset({"replicaCount", "cmd.timeout", "cmd.namespaceRegexp"}),
}


def unchecked_keys(chart: str, version: str, values: dict) -> list[str]:
    """Leaf key paths of `values` that were not checked against `chart` at `version`."""
    checked = CHECKED_KEYS.get((chart, version))
    if checked is None:
        return [f"<no checked keys for {chart} {version}>"]
    return [path for path in _leaf_paths(values) if not _is_checked(path, checked)]


def _leaf_paths(values: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths.extend(_leaf_paths(value, f"{path}."))
        else:
            paths.append(path)
    return paths


def _is_checked(path: str, checked: frozenset[str]) -> bool:
    if path in checked:
        return True
    return any(entry.endswith(".*") and path.startswith(entry[:-1]) for entry in checked)
