"""Dashboards: provisioned without egress from pinned files, and every query names real metrics."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from stacks import pins
from stacks.components import pinned
from stacks.components.pinned import PinnedFile, PinnedFileError
from stacks.telemetry import dashboards
from stacks.telemetry.promql import problems
from tests.harness import Run
from tests.render_check import committed

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
TEMPLATE = "kubernetes:flagger.app/v1beta1:MetricTemplate"


def canary_dashboard() -> dict:
    return json.loads(dashboards.CANARY_DASHBOARD.read_text())


def dashboard_queries(board: dict) -> list[str]:
    queries = [t["expr"] for panel in board["panels"] for t in panel.get("targets", [])]
    queries += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
    queries += [v["query"]["query"] for v in board["templating"]["list"]]
    return queries


def test_every_canary_dashboard_query_reads_real_metrics_and_labels() -> None:
    queries = dashboard_queries(canary_dashboard())
    assert len(queries) >= 12
    for query in queries:
        assert problems(query) == [], query


def test_every_metric_template_query_reads_real_metrics_and_labels(stack_run: Run) -> None:
    for template in stack_run.of_type(TEMPLATE):
        query = template.inputs["spec"]["query"]
        assert problems(query) == [], f"{template}: {query}"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('sum(rate(response_totals{namespace="a"}[1m]))', "metric response_totals is not scraped"),
        ("sum by (dst) (rate(response_total[1m]))", "response_total has no label(s) dst"),
        ('flagger_canary_weight{name="podinfo"}', "flagger_canary_weight has no label(s) name"),
        ("sum(rate(response_total[1m])", "does not parse"),
    ],
)
def test_the_check_catches_wrong_metrics_labels_and_syntax(query: str, expected: str) -> None:
    assert any(expected in p for p in problems(query)), problems(query)


@pytest.mark.parametrize(
    "query",
    [
        # cAdvisor (the kubernetes-nodes-cadvisor keep list)
        'max(container_memory_working_set_bytes{namespace="a", pod=~"b-.*", container="b"})',
        'sum(rate(container_cpu_usage_seconds_total{namespace="a", container!=""}[1m]))',
        # the proxies' keep list (manifests/telemetry/proxy-metrics.yaml)
        'sum(increase(inbound_http_authz_deny_total{namespace="a", srv_name="b"}[1m]))',
        "histogram_quantile(0.99, sum by (le, parent_name) (rate("
        'outbound_http_route_request_duration_seconds_bucket{namespace="a"}[1m])))',
        'sum by (http_status) (rate(outbound_http_route_request_statuses_total{route_name="r"}[1m]))',
        'max(process_resident_memory_bytes{namespace="a", deployment="b"})',
        'sum by (peer) (tcp_open_connections{namespace="a", dst_deployment="b"})',
        # a label made by label_replace or label_join, then grouped on
        'sum by (version) (label_replace(response_total, "version", "$1", "deployment", "(.*)"))',
        'sum by (where) (label_join(response_total, "where", "/", "namespace", "pod"))',
        # the name as a matcher
        'sum({__name__="response_total", namespace="a"})',
        'sum({__name__=~"response_total|request_total", direction="inbound"})',
    ],
)
def test_every_metric_prometheus_keeps_can_be_queried(query: str) -> None:
    assert problems(query) == [], query


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("max(queue_depth)", "metric queue_depth is not scraped by the platform"),
        ('{__name__="queue_depth"}', "metric queue_depth is not scraped by the platform"),
        ('{__name__=~"queue_.*"}', "no metric the platform keeps matches __name__=~'queue_.*'"),
        ("sum(http_request_duration_seconds_count)", "not scraped"),  # Flagger's generic one
        ("sum(tcp_connection_duration_ms_bucket)", "no Linkerd proxy of this release exports"),
        ('sum by (nope) (label_replace(up, "x", "$1", "job", "(.*)"))', "up has no label(s) nope"),
        ('label_replace(up, "x", "$1", "nope", "(.*)")', "up has no label(s) nope"),
    ],
)
def test_what_prometheus_does_not_keep_is_still_refused(query: str, expected: str) -> None:
    assert any(expected in p for p in problems(query)), problems(query)


def test_every_name_a_keep_list_keeps_is_known_with_its_own_labels() -> None:
    """The catalogue is made from the keep lists Prometheus is configured with, so the two cannot
    drift; each kept proxy metric has its family's labels, not only the scrape's."""
    from stacks.telemetry import metrics

    for job in ("linkerd-proxy", "kubernetes-nodes-cadvisor", "kubernetes-nodes"):
        names = set(metrics.kept(job)) - metrics.NOT_EMITTED
        assert names and names <= set(metrics.METRICS), (job, names - set(metrics.METRICS))
    for name in set(metrics.kept("linkerd-proxy")) - metrics.NOT_EMITTED:
        assert metrics._proxy_labels(name) is not None, f"{name}: add its labels to metrics.py"
    assert set(metrics.kept("linkerd-proxy")) >= metrics.NOT_EMITTED


def test_dashboards_are_config_maps_the_grafana_sidecar_loads(stack_run: Run) -> None:
    sidecar = stack_run.release("grafana").inputs["values"]["sidecar"]["dashboards"]
    maps = {
        r.inputs["metadata"]["name"]: r.inputs
        for r in stack_run.of_type(CONFIG_MAP)
        if r.inputs["metadata"].get("labels", {}).get(sidecar["label"]) == sidecar["labelValue"]
    }
    assert len(maps) == len(pins.LINKERD_DASHBOARDS) + 1
    grafana_ns = stack_run.release("grafana").inputs["namespace"]
    for config_map in maps.values():
        assert config_map["metadata"]["namespace"] == grafana_ns, "the sidecar watches its own ns"
        (text,) = config_map["data"].values()
        json.loads(text)
        assert len(text.encode()) < 1024 * 1024, "a ConfigMap holds at most 1 MiB"
    folders = {m["metadata"]["annotations"][sidecar["folderAnnotation"]] for m in maps.values()}
    assert folders == {"Linkerd", "Progressive delivery"}
    # The files are the pinned ones, byte for byte.
    top_line = maps["dashboard-linkerd-top-line"]["data"]["linkerd-top-line.json"]
    digest = hashlib.sha256(top_line.encode()).hexdigest()
    assert digest == pins.LINKERD_DASHBOARDS["top-line"].sha256


@pytest.mark.slow  # Helm renders every release of the stack: make test-slow
def test_grafana_downloads_nothing_when_it_starts() -> None:
    sr = committed("dev")
    (grafana,) = [r for r in sr.releases if r.release.name == "grafana"]
    (deployment,) = [o for o in grafana.objects if o.get("kind") == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    init = [c["name"] for c in pod.get("initContainers", [])]
    assert "download-dashboards" not in init, "dashboards from grafana.com need internet egress"
    sidecar = [c for c in pod["containers"] if c["name"].endswith("sc-dashboard")]
    assert sidecar, [c["name"] for c in pod["containers"]]
    env = {e["name"]: e.get("value") for e in sidecar[0]["env"]}
    assert (env["LABEL"], env["LABEL_VALUE"]) == ("grafana_dashboard", "1")


def test_a_file_that_differs_from_its_pin_is_refused(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.json").write_text("{}")
    monkeypatch.setenv(pinned.MIRROR_ENV, str(tmp_path))
    wrong = PinnedFile("https://example.invalid/a.json", "0" * 64, "x/a.json")
    with pytest.raises(PinnedFileError, match=r"has sha256 44136fa3.*pins 0000"):
        pinned.read(wrong)


def test_a_pinned_file_is_downloaded_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv(pinned.MIRROR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    body = b'{"title": "x"}'
    file = PinnedFile("https://example.invalid/x.json", hashlib.sha256(body).hexdigest(), "x.json")
    downloads = []

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *_):
            return False

        def read(self) -> bytes:
            return body

    def urlopen(url: str, timeout: float) -> Response:
        downloads.append(url)
        return Response()

    monkeypatch.setattr(pinned.urllib.request, "urlopen", urlopen)
    assert pinned.read(file) == body
    assert pinned.read(file) == body, "a preview must not download again"
    assert downloads == [file.url]


def test_without_network_or_mirror_the_error_says_what_to_do(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(pinned.MIRROR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def offline(url: str, timeout: float) -> None:
        raise pinned.urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(pinned.urllib.request, "urlopen", offline)
    with pytest.raises(PinnedFileError, match=r"cannot download .*PINNED_FILES_MIRROR"):
        pinned.read(pins.LINKERD_DASHBOARDS["pod"])
