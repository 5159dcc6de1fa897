"""Pinned charts and images: every version the platform installs, in one place.

Bump a chart version, then run `make render`: it pulls the new chart (online), renders it with
the values the program passes and validates the result; `make render INERT=1` lists values the
new version no longer reads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    repo: str
    name: str
    version: str


LINKERD_REPO = "https://helm.linkerd.io/edge"
# The open-source stable channel is frozen at 2.14; edge is the maintained channel.
# 2026.8.3 is edge-26.8.3; the version itself is a stack setting (linkerdVersion).
LINKERD_CHECKED_VERSION = "2026.8.3"

PROMETHEUS = Chart("https://prometheus-community.github.io/helm-charts", "prometheus", "29.27.0")
# The Grafana chart moved from grafana/helm-charts to grafana-community in 2026.
GRAFANA = Chart("https://grafana-community.github.io/helm-charts", "grafana", "12.11.1")
CERT_MANAGER = Chart("https://charts.jetstack.io", "cert-manager", "v1.21.1")


def gateway_api_crds_url(version: str) -> str:
    """Release asset with the standard-channel Gateway API CRDs for `version` (e.g. v1.2.1)."""
    return (
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/"
        f"{version}/standard-install.yaml"
    )


FLAGGER_REPO = "https://flagger.app"
FLAGGER = Chart(FLAGGER_REPO, "flagger", "1.44.0")
# The load tester chart is released with Flagger; 0.38.0 ships with Flagger 1.44.0.
LOADTESTER = Chart(FLAGGER_REPO, "loadtester", "0.38.0")


def flagger_crds_url(version: str) -> str:
    """Flagger's CRDs (Canary, MetricTemplate, AlertProvider) as released with `version`."""
    return f"https://raw.githubusercontent.com/fluxcd/flagger/v{version}/artifacts/flagger/crd.yaml"
