"""Pins: every version the platform installs and the sha256 of every file it downloads itself.

The one place for versions: chart versions, the Linkerd release a stack gets by default
(`linkerdVersion`), the Gateway API CRDs, Flagger's CRDs and Linkerd's dashboards at that release.
Each digest was taken from the byte-identical copy in ../shared (see the README of each folder
there), which equals the upstream URL at the given tag; stacks/components/pinned.py refuses a file
whose digest differs. Bump a chart version, then run `make render`: it pulls the new chart
(online), renders it with the values the program passes and validates the result;
`make render INERT=1` lists values the new version no longer reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.components.pinned import PinnedFile


@dataclass(frozen=True)
class Chart:
    repo: str
    name: str
    version: str


# Linkerd: the open-source stable channel is frozen at 2.14; edge is the maintained channel.
# linkerdVersion (a stack setting) defaults to this chart version, edge-26.8.3.
LINKERD_REPO = "https://helm.linkerd.io/edge"
LINKERD_VERSION = "2026.8.3"
# Linkerd 2.20 (edge 2026.6.3) is the oldest release whose chart values this program sets.
MIN_LINKERD_CHART = (2026, 6, 3)
# Gateway API CRDs (standard channel): Linkerd 2.20 accepts v1.2.1 to v1.5.1 and recommends v1.2.1.
GATEWAY_API_VERSION = "v1.2.1"
GATEWAY_API_RANGE = ((1, 2, 1), (1, 5, 1))

# Kubernetes: the oldest minor the pinned Linkerd supports (linkerd.io "Supported Kubernetes
# versions"), and the minor a new AKS stack gets (kubernetesVersion's default; AKS's calendar of
# supported minors is stacks/schema/kubernetes_versions.py).
MIN_KUBERNETES = (1, 31)
KUBERNETES_VERSION = "1.35"


def version_text(version: tuple[int, ...], prefix: str = "") -> str:
    """(2026, 6, 3) -> "2026.6.3"; with prefix "v", (1, 2, 1) -> "v1.2.1"."""
    return prefix + ".".join(map(str, version))


PROMETHEUS = Chart("https://prometheus-community.github.io/helm-charts", "prometheus", "29.27.0")
# The Grafana chart moved from grafana/helm-charts to grafana-community in 2026.
GRAFANA = Chart("https://grafana-community.github.io/helm-charts", "grafana", "12.11.1")
CERT_MANAGER = Chart("https://charts.jetstack.io", "cert-manager", "v1.21.1")
FLAGGER_REPO = "https://flagger.app"
FLAGGER = Chart(FLAGGER_REPO, "flagger", "1.44.0")
# The load tester chart is released with Flagger; 0.38.0 ships with Flagger 1.44.0.
LOADTESTER = Chart(FLAGGER_REPO, "loadtester", "0.38.0")


def linkerd_chart(name: str, version: str) -> Chart:
    """One of Linkerd's charts (linkerd-crds, linkerd-control-plane, linkerd-viz) at `version`."""
    return Chart(LINKERD_REPO, name, version)


def edge_tag(chart_version: str) -> str:
    """The linkerd2 git tag of an edge chart version: 2026.8.3 -> edge-26.8.3."""
    year, month, number = chart_version.split(".")
    return f"edge-{year[2:]}.{month}.{number}"


# Linkerd's Grafana dashboards at tag edge-26.8.3, grafana/dashboards/<name>.json (Apache-2.0).
LINKERD_DASHBOARDS_TAG = edge_tag(LINKERD_VERSION)
_LINKERD_DASHBOARD_SHA256 = {
    "authority": "a8437639fe34ab92e4167d7eedd6916d915b347ed86159ab24693998c134f7ac",
    "cronjob": "3d43d97f6786457ffbef67a30a28b8d5da232453de5300e4063058202733d9c0",
    "daemonset": "fac51db36a5641f66fbd6d9352a3cb1a7448b7d6c1c66da08ac46975790f5d54",
    "deployment": "13756e1d7b4d9457a466abe363180384901d0b17c640c7e1e63e024838a0f8b0",
    "health": "e5c428d3770022b74483bf6598c84da50074908ace0891b5f58235083c29aa61",
    "job": "420f92b786d1382c203b3f9a2566e79cf483ea532c921f26da48e68f41ba4125",
    "kubernetes": "a2cf0fcd8278585661dc17796fd2a50f843dd5e6760a2ffa6039ac33c233b957",
    "namespace": "9220235d958702cf58444c4b9a0b52ff18ae2be9900a34af3a015691803eb18d",
    "pod": "8729ecac75d7e3196ef4082554c6e40107be048c3ed07cf8e867a3eb2dc025e7",
    "replicaset": "c6204501e2374e0e063a70dd4a64dc4a541ac76712500a0280542b0fab9114eb",
    "replicationcontroller": "14552a298ebeaaeafbc7c9eaae2d8609e476afeb2447829afb9f567d10e92ee2",
    "route": "e189ed314fc20303fa43365744563b74a63d0089b4fc2f59b918256ab1ad922d",
    "service": "4305938ade8d33f73077df6aa5a5e539c3aad99397319b498143869b1f661679",
    "statefulset": "3fd0eb4f8b08078dc2cf5b4d6e20b6436443ac08514228a97996d5cbb23f9611",
    "top-line": "3212c8f92610332c7a04e1302b167324018fb22b145cb0ed8c3cb2da24427e78",
    # Not provisioned: multicluster (no multicluster extension here), prometheus-2-stats (its
    # panels name a ${datasource} variable it does not define) and prometheus-benchmark.
}
LINKERD_DASHBOARDS = {
    name: PinnedFile(
        url=(
            "https://raw.githubusercontent.com/linkerd/linkerd2/"
            f"{LINKERD_DASHBOARDS_TAG}/grafana/dashboards/{name}.json"
        ),
        sha256=digest,
        mirror_path=f"dashboards/linkerd-{LINKERD_DASHBOARDS_TAG}/{name}.json",
    )
    for name, digest in _LINKERD_DASHBOARD_SHA256.items()
}

# Gateway API standard-channel CRDs (kubernetes-sigs/gateway-api config/crd/standard/ at the tag;
# the release asset standard-install.yaml is these files concatenated). Linkerd edge-26.8.3
# recommends v1.2.1; all of them serve HTTPRoute v1beta1, which Flagger's router writes.
_GATEWAY_API_SHA256 = {
    "v1.2.1": {
        "gateway.networking.k8s.io_gatewayclasses.yaml": (
            "f0dcbdd9fb49b4562dad27ceec96078b3846611708464120598949cd2ab1e765"
        ),
        "gateway.networking.k8s.io_gateways.yaml": (
            "9aea7ae080dfe9c25a814d3d14eed28f335d28de3cbdc00a0351e0e99cb3bf06"
        ),
        "gateway.networking.k8s.io_grpcroutes.yaml": (
            "8a705983343eabcb72c5bbfc2c090eed87b46763e2f6c67bd6b45552fcd5cc94"
        ),
        "gateway.networking.k8s.io_httproutes.yaml": (
            "db36230a2f54ca3f1733bebc9d303d4db16c958856bf2be941a2c6269b872014"
        ),
        "gateway.networking.k8s.io_referencegrants.yaml": (
            "d22a9164ae9ec443438dd3aaca7fb056d3264d76c880d949a1e6b2661ecb4234"
        ),
    },
}
GATEWAY_API_CRDS = {
    version: tuple(
        PinnedFile(
            url=(
                "https://raw.githubusercontent.com/kubernetes-sigs/gateway-api/"
                f"{version}/config/crd/standard/{file}"
            ),
            sha256=digest,
            mirror_path=f"manifests/gateway-api-{version}-standard/{file}",
        )
        for file, digest in files.items()
    )
    for version, files in _GATEWAY_API_SHA256.items()
}

# Flagger's CRDs (Canary, MetricTemplate, AlertProvider) as released: artifacts/flagger/crd.yaml.
_FLAGGER_CRDS_SHA256 = {
    "1.44.0": "8d7ad05c2d1d242c0cd4c25c5fb3ad0f75f10706da588aeeb950fe2858134630",
}
FLAGGER_CRDS = {
    version: PinnedFile(
        url=f"https://raw.githubusercontent.com/fluxcd/flagger/v{version}/artifacts/flagger/crd.yaml",
        sha256=digest,
        mirror_path=f"manifests/flagger-v{version}-crd.yaml",
    )
    for version, digest in _FLAGGER_CRDS_SHA256.items()
}

# Helm chart archives (<chart>-<version>.tgz, as `helm pull` saves them), by chart and version:
# the sha256 of the copies in ../shared/charts (its README names the upstream tag of each).
# `pulumi up` does not read these (Helm releases fetch their chart themselves); the offline render
# and its tests do (tests/chart_cache.py): every archive read from a cache or pulled from its
# repository must have this digest. A new chart version needs its pin here, on purpose.
CHART_ARCHIVE_SHA256 = {
    ("cert-manager", "v1.21.1"): "1155142747fb1a27b7ca33fe82b5ee8825612f16c9c7dc2d91b9494ae7720971",
    ("flagger", "1.44.0"): "a481dfeba35b4b048981d89f248a85051cad40ce76d33881c2719ddaabe127f7",
    ("grafana", "12.11.1"): "98300b0f5ace9832950bd0f986de05236f31f0f1186a2716edc1dc7eefdd6a76",
    ("linkerd-control-plane", "2026.8.3"): (
        "c6eaa1202a5c6fa6ca6b8f4ab84a20e3e3b695e81ba2c30b88c6d39845f08dad"
    ),
    (
        "linkerd-crds",
        "2026.8.3",
    ): "55e8bab1ee329a22de0025f79304b60d1a3fb4d7ef15fc2db12eb3e3093f93fe",
    ("linkerd-viz", "2026.8.3"): "442693d9ce58e1bcf06aec7af82f46353789a344da954ca9caeaa21179e26679",
    ("loadtester", "0.38.0"): "a8567926d48c6a7867fb2b91945921a93dccaa88ad1669dcb478e37693a71baf",
    ("prometheus", "29.27.0"): "403afcd7020279e6f1426dc6ad3fc55b9259bbfc4962923c0d25fe2f4b5f683f",
}
