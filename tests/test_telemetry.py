"""Telemetry layer: one Prometheus address everywhere, Linkerd's labels, storage per stack, Grafana."""

from __future__ import annotations

import re

import pytest

from stacks.components.ownership import OWNER_LABEL, owner_id
from stacks.services import analysis
from stacks.telemetry import layer as telemetry
from tests.harness import Run
from tests.helm_render import declared_releases, kube_version, render

PROMETHEUS_URL = "http://prometheus-server.monitoring.svc.cluster.local:80"


def prometheus_values(run: Run) -> dict:
    return run.release("prometheus").inputs["values"]


def test_one_prometheus_address_everywhere(stack_run: Run) -> None:
    run = stack_run
    prometheus = run.release("prometheus").inputs
    # The chart names its server Service <release>-server, port 80.
    derived = f"http://{prometheus['name']}-server.{prometheus['namespace']}.svc.cluster.local:80"
    assert run.outputs["prometheusUrl"] == derived == PROMETHEUS_URL
    viz = run.release("linkerd-viz").inputs["values"]
    assert viz["prometheusUrl"] == derived
    assert viz["prometheus"] == {"enabled": False}, "viz would run its own 6h Prometheus"
    grafana = run.release("grafana").inputs["values"]
    (source,) = grafana["datasources"]["datasources.yaml"]["datasources"]
    assert source["url"] == derived


def test_monitoring_namespace_is_never_meshed(stack_run: Run) -> None:
    (namespace,) = [
        r
        for r in stack_run.of_type("kubernetes:core/v1:Namespace")
        if r.inputs["metadata"]["name"] == stack_run.release("prometheus").inputs["namespace"]
    ]
    labels = namespace.inputs["metadata"]["labels"]
    assert labels == {
        "config.linkerd.io/admission-webhooks": "disabled",
        OWNER_LABEL: owner_id("progressive-delivery", stack_run.stack),
    }


def test_prometheus_scrapes_every_10s(stack_run: Run) -> None:
    server = prometheus_values(stack_run)["server"]
    # The schema sizes the shortest canary metric window on this interval (stacks/services/analysis.py).
    assert server["global"]["scrape_interval"] == f"{analysis.SCRAPE_INTERVAL_SECONDS}s" == "10s"
    assert server["global"]["scrape_timeout"] == "10s"


def test_linkerd_proxy_job_adds_namespace_and_deployment_labels(stack_run: Run) -> None:
    job = prometheus_values(stack_run)["scrapeConfigs"]["linkerd-proxy"]
    rules = job["relabel_configs"]
    assert rules[0] == {
        "source_labels": ["__meta_kubernetes_pod_phase"],
        "action": "keep",
        "regex": "(Pending|Running)",
    }
    keep = rules[1]
    assert keep["action"] == "keep"
    assert keep["source_labels"] == [
        "__meta_kubernetes_pod_container_name",
        "__meta_kubernetes_pod_container_port_name",
        "__meta_kubernetes_pod_label_linkerd_io_control_plane_ns",
    ]
    # The control-plane namespace in the regex is the one the mesh layer creates.
    assert re.fullmatch(keep["regex"], "linkerd-proxy;linkerd-admin;linkerd")
    assert not re.fullmatch(keep["regex"], "podinfo;http;linkerd")
    targets = {r.get("target_label") for r in rules if r["action"] == "replace"}
    assert {"namespace", "pod"} <= targets
    labelmaps = [r["regex"] for r in rules if r["action"] == "labelmap"]
    # linkerd.io/proxy-deployment=podinfo -> deployment="podinfo", what Flagger queries.
    pod_label = "__meta_kubernetes_pod_label_linkerd_io_proxy_deployment"
    assert any(re.fullmatch(regex, pod_label) for regex in labelmaps)
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]


def test_unused_subcharts_are_off(stack_run: Run) -> None:
    values = prometheus_values(stack_run)
    assert values["alertmanager"]["enabled"] is True, "the platform's own alerts need it"
    for subchart in ("prometheus-node-exporter", "prometheus-pushgateway"):
        assert values[subchart] == {"enabled": False}, subchart
    assert values["scrapeConfigs"]["prometheus-pushgateway"] == {"enabled": False}
    assert values["scrapeConfigs"]["kubernetes-api-servers"] == {"enabled": False}


def test_kube_state_metrics_exports_only_the_canary_phase(stack_run: Run) -> None:
    ksm = prometheus_values(stack_run)["kube-state-metrics"]
    assert ksm["collectors"] == [] and ksm["extraArgs"] == ["--custom-resource-state-only"]
    (resource,) = ksm["customResourceState"]["config"]["spec"]["resources"]
    assert resource["groupVersionKind"] == {
        "group": "flagger.app",
        "version": "v1beta1",
        "kind": "Canary",
    }
    (metric,) = resource["metrics"]
    # The rules read <metricNamePrefix>_<name> (kube-state-metrics v2.20.0 fullName).
    assert f"{resource['metricNamePrefix']}_{metric['name']}" == "kube_flagger_canary_phase"
    assert metric["each"]["stateSet"]["path"] == ["status", "phase"]
    assert {"Waiting", "WaitingPromotion", "Promoting", "Finalising"} <= set(
        metric["each"]["stateSet"]["list"]
    )
    (rule,) = ksm["rbac"]["extraRules"]
    assert rule == {
        "apiGroups": ["flagger.app"],
        "resources": ["canaries"],
        "verbs": ["list", "watch"],
    }


def test_retention_size_leaves_headroom_below_the_volume(runs: dict[str, Run]) -> None:
    for stack, size, limit in (("prod", "50Gi", "40960MB"), ("dev", "20Gi", "16384MB")):
        server = prometheus_values(runs[stack])["server"]
        assert server["retentionSize"] == limit, stack  # 80%; Prometheus's MB is 2^20 bytes
        assert server["persistentVolume"]["size"] == size
    # No volume: the emptyDir is bounded at the same size, so retentionSize is below it too.
    assert prometheus_values(runs["dev"])["server"]["emptyDir"] == {"sizeLimit": "20Gi"}
    assert "emptyDir" not in prometheus_values(runs["prod"])["server"]
    assert telemetry.retention_size("500Mi") == "400MB"
    assert telemetry.retention_size("1Ti") == "838860MB"


def test_retention_and_storage_per_stack(runs: dict[str, Run]) -> None:
    prod = prometheus_values(runs["prod"])["server"]
    assert prod["retention"] == "15d"
    assert prod["persistentVolume"] == {
        "enabled": True,
        "size": "50Gi",
        "storageClass": "managed-csi-premium-zrs",
    }
    for stack in ("dev", "local"):
        server = prometheus_values(runs[stack])["server"]
        assert server["retention"] == "24h", stack
        assert server["persistentVolume"]["enabled"] is False, stack


def test_grafana_admin_password_is_generated_and_secret(stack_run: Run) -> None:
    run = stack_run
    values = run.release("grafana").inputs["values"]
    secrets = [
        r
        for r in run.of_type("kubernetes:core/v1:Secret")
        if r.inputs["metadata"]["name"] == values["admin"]["existingSecret"]
    ]
    assert len(secrets) == 1, "Grafana's admin Secret is not created by the stack"
    secret = secrets[0]
    assert secret.inputs["metadata"]["namespace"] == run.release("grafana").inputs["namespace"]
    assert set(secret.inputs["stringData"]) == {
        values["admin"]["userKey"],
        values["admin"]["passwordKey"],
    }
    assert secret.is_secret("stringData/admin-password")
    password = secret.inputs["stringData"]["admin-password"]
    assert len(password) >= 24
    assert password not in str(values), "admin password in Helm values"
    assert "grafanaAdminPassword" in run.secret_outputs
    assert run.outputs["grafanaAdminPassword"] == password


def test_grafana_reads_the_platform_prometheus_and_stays_inside(stack_run: Run) -> None:
    values = stack_run.release("grafana").inputs["values"]
    (source,) = values["datasources"]["datasources.yaml"]["datasources"]
    assert source["url"] == PROMETHEUS_URL
    # Linkerd's dashboards use the default data source; the canary dashboard names it by uid.
    assert source["isDefault"] is True and source["uid"] == "prometheus"
    assert "dashboards" not in values, "gnetId dashboards are downloaded when Grafana starts"
    assert values["service"]["type"] == "ClusterIP", "Grafana must not be exposed by default"


def test_viz_is_meshed_after_the_control_plane_and_labelled(stack_run: Run) -> None:
    run = stack_run
    viz = run.release("linkerd-viz")
    assert run.waits_for(viz, run.release("linkerd-control-plane"))
    (namespace,) = [
        r
        for r in run.of_type("kubernetes:core/v1:Namespace")
        if r.inputs["metadata"]["name"] == viz.inputs["namespace"]
    ]
    metadata = namespace.inputs["metadata"]
    assert metadata["labels"]["linkerd.io/extension"] == "viz"
    assert metadata["annotations"]["viz.linkerd.io/external-prometheus"] == PROMETHEUS_URL


def test_prometheus_and_grafana_do_not_wait_for_the_mesh(stack_run: Run) -> None:
    run = stack_run
    for name in ("prometheus", "grafana"):
        for mesh_release in ("linkerd-crds", "linkerd-control-plane"):
            assert not run.waits_for(run.release(name), run.release(mesh_release)), (
                f"{name} needlessly waits for {mesh_release}"
            )


def test_prod_viz_is_highly_available(runs: dict[str, Run]) -> None:
    prod = runs["prod"].release("linkerd-viz").inputs["values"]
    assert prod["tap"]["replicas"] == 3 and prod["metricsAPI"] == {"replicas": 3}
    assert prod["enablePodDisruptionBudget"] is True
    assert "replicas" not in runs["dev"].release("linkerd-viz").inputs["values"]["tap"]


def test_outputs_say_how_to_open_each_dashboard(stack_run: Run) -> None:
    commands = stack_run.outputs["openDashboards"]
    assert set(commands) == {"linkerd", "grafana", "prometheus", "alertmanager"}
    grafana = stack_run.release("grafana").inputs
    assert f"-n {grafana['namespace']} port-forward svc/{grafana['name']} " in commands["grafana"]
    prometheus = stack_run.release("prometheus").inputs
    assert f"svc/{prometheus['name']}-server 9090:80" in commands["prometheus"]
    assert "-n linkerd-viz port-forward svc/web 8084:8084" in commands["linkerd"]


@pytest.mark.slow  # Helm renders every release of the stack: make test-slow
def test_the_alertmanager_command_names_the_service_the_chart_renders(stack_run: Run) -> None:
    """The port-forward reaches the Service and port the prometheus chart really renders."""
    (release,) = [r for r in declared_releases(stack_run) if r.name == "prometheus"]
    objects = render(release, kube_version(stack_run.stack)).objects
    command = stack_run.outputs["openDashboards"]["alertmanager"]
    match = re.search(r"-n (\S+) port-forward svc/(\S+) (\d+):(\d+)", command)
    assert match, command
    namespace, service, _, port = match.groups()
    found = [
        o
        for o in objects
        if o["kind"] == "Service"
        and o["metadata"]["name"] == service
        and int(port) in [p["port"] for p in o["spec"]["ports"]]
    ]
    assert found and release.namespace == namespace, f"no Service {service}:{port} in {namespace}"


def test_prometheus_volume_is_zone_redundant_across_zones(runs: dict[str, Run]) -> None:
    prod = runs["prod"]
    volume = prod.release("prometheus").inputs["values"]["server"]["persistentVolume"]
    (storage_class,) = prod.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert volume["storageClass"] == storage_class.inputs["metadata"]["name"]
    assert storage_class.inputs["parameters"] == {"skuName": "Premium_ZRS"}
    assert storage_class.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert prod.waits_for(prod.release("prometheus"), storage_class)
    for stack in ("dev", "local"):
        assert not runs[stack].of_type("kubernetes:storage.k8s.io/v1:StorageClass"), stack
