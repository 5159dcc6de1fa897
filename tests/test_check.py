"""`canaryctl check` / `make check`: a stack's config judged offline as `pulumi up` judges it.

Runs on a fixture project (a copy of Pulumi.yaml and podinfo's declaration in a temporary
folder), never on the user's own stack files: those are what `make check` is for.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from canaryctl import check
from canaryctl.errors import CanaryctlError
from tests.harness import FIXTURES, NAME, ROOT

PODINFO = yaml.safe_load((FIXTURES / "services" / "podinfo.yaml").read_text())
BASE: dict[str, Any] = {
    "environment": "dev",
    "alertReceiver": "none",
    "services": {"podinfo": {"version": "6.14.1"}},
}
CUSTOM_CHECK = {
    "query": 'sum(rate(response_total{namespace="{{ namespace }}"}[{{ interval }}]))',
    "min": 1,
}

# (stack config on top of BASE, declaration fields on top of podinfo's, what the line says)
MISTAKES = [
    ({"nodeCont": 3}, {}, "nodeCont: not a setting of this project; did you mean nodeCount?"),
    ({"location": "westeurop"}, {}, "location: got 'westeurop'"),
    ({"location": "westeurop"}, {}, "did you mean westeurope?"),
    ({"clusterName": "aks.dev"}, {}, "clusterName: got 'aks.dev'; allowed: 1-63 letters"),
    ({"kubernetesVersion": "1.29"}, {}, "kubernetesVersion: got '1.29'; allowed: 1.31 or newer"),
    (
        {"location": "northcentralus", "availabilityZones": ["1", "2", "3"]},
        {},
        "availabilityZones: got ['1', '2', '3']",
    ),
    ({"skuTier": "free"}, {}, "skuTier: got 'free'; allowed: Free | Standard | Premium"),
    ({"canaryStepWeight": 30}, {}, "canaryStepWeight: got 30; allowed: a divisor"),
    ({"environment": "staging"}, {}, "environment: got 'staging'; allowed: dev | prod | local"),
    ({"alertReceiver": ""}, {}, "alertReceiver: got ''"),
    ({"nodeCount": "three"}, {}, "configuration key 'nodeCount' must be of type 'integer'"),
    (
        {"services": {"podinfo": {"version": "latest"}}},
        {},
        "services.podinfo.version: got 'latest'",
    ),
    ({"services": {"podnfo": {"version": "1.0"}}}, {}, "did you mean podinfo?"),
    ({}, {"port": "http"}, "services/podinfo.yaml: port: got 'http'; allowed: a whole number"),
    ({}, {"replcas": {"min": 2}}, "services/podinfo.yaml: replcas: not a field here; did you"),
    ({}, {"image": "myregistry.azurecr.io/podinfo"}, "may not pull from"),
    (
        {},
        {"checks": {"queue-depth": {**CUSTOM_CHECK, "query": "max(queue_depth)"}}},
        "metric queue_depth is not scraped by the platform",
    ),
    ({}, {"checks": {"queue-depth": {"max": 5}}}, "checks.queue-depth.query: got ''"),
    (
        {},
        {"checks": {"queue-depth": {**CUSTOM_CHECK, "query": '{__name__="queue_depth"}'}}},
        "metric queue_depth is not scraped by the platform",
    ),
    # Flagger v1.44.0 judges these names itself, on metrics the platform does not have.
    (
        {},
        {"checks": {"request-success-rate": CUSTOM_CHECK}},
        "checks.request-success-rate: got 'request-success-rate'; allowed: another check name: "
        "Flagger runs its own built-in request-success-rate",
    ),
    (
        {"services": {"podinfo": {"version": "6.14.1", "checks": {"request-duration": {}}}}},
        {},
        f"{NAME}:services.podinfo.checks.request-duration: got 'request-duration'; allowed: "
        "another check name",
    ),
    # Answers Flagger cannot judge (pkg/metrics/providers/prometheus.go RunQuery).
    (
        {},
        {"checks": {"volume": {**CUSTOM_CHECK, "query": "scalar(sum(up))"}}},
        "this query returns a scalar, which Flagger cannot decode",
    ),
    (
        {},
        {"checks": {"volume": {**CUSTOM_CHECK, "query": "up[5m]"}}},
        "this query returns a range vector",
    ),
    (
        {},
        {
            "checks": {
                "volume": {**CUSTOM_CHECK, "query": "sum by (pod) (rate(response_total[1m]))"}
            }
        },
        "this query returns a vector that may hold several series",
    ),
    (
        {},
        {"checks": {"volume": {**CUSTOM_CHECK, "query": 'sort_by_label(sum(up), "job")'}}},
        "sort_by_label() is experimental",
    ),
    (
        {},
        {"checks": {"volume": {**CUSTOM_CHECK, "query": "limitk(1, up)"}}},
        "limitk() is experimental",
    ),
    ({}, {"checks": {"Queue": CUSTOM_CHECK}}, "checks.Queue: got 'Queue'; allowed: a check name"),
    ({}, {"slo": {"successRate": 99}}, "slo: not a field here; allowed: checks"),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "services").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROGRESSIVE_DELIVERY_SERVICES_DIR", raising=False)
    return tmp_path


def write(project: Path, stack: str, config: dict[str, Any], podinfo: dict[str, Any]) -> None:
    values = {f"{NAME}:{k}": v for k, v in {**BASE, **config}.items()}
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": values}))
    (project / "services" / "podinfo.yaml").write_text(yaml.safe_dump({**PODINFO, **podinfo}))


def run(stack: str) -> tuple[int, str]:
    out = io.StringIO()
    return check.run(stack, out), out.getvalue()


@pytest.mark.parametrize(("config", "podinfo", "says"), MISTAKES, ids=[m[2] for m in MISTAKES])
def test_each_mistake_is_refused_with_one_clear_line(
    project: Path, config: dict[str, Any], podinfo: dict[str, Any], says: str
) -> None:
    write(project, "staging", config, podinfo)
    code, out = run("staging")
    assert code == check.REFUSED, out
    assert out.startswith("Pulumi.staging.yaml: ")
    assert any(says in line for line in out.splitlines()), out


def test_every_mistake_at_once_is_listed_together(project: Path) -> None:
    config: dict[str, Any] = {}
    for mistake, _, _ in MISTAKES:
        if not {"services", "nodeCount", "availabilityZones"} & set(mistake):
            config |= mistake
    write(project, "staging", config, {"port": "http", "replcas": {}})
    code, out = run("staging")
    assert code == check.REFUSED
    for key in ("nodeCont", "location", "clusterName", "kubernetesVersion", "canaryStepWeight"):
        assert f"{NAME}:{key}:" in out, out


def test_an_accepted_stack_names_its_services_and_any_file_name_works(project: Path) -> None:
    write(project, "staging", {}, {})
    for argument in ("staging", "Pulumi.staging.yaml", str(project / "Pulumi.staging.yaml")):
        code, out = run(argument)
        assert code == 0, out
        assert out.startswith("Pulumi.staging.yaml: accepted (dev; services: podinfo)")


def test_a_custom_check_is_accepted(project: Path) -> None:
    write(project, "staging", {}, {"checks": {"volume-total": CUSTOM_CHECK}})
    assert run("staging")[0] == 0


WHERE = 'namespace="{{ namespace }}", deployment="{{ target }}"'
# Real checks on metrics Prometheus keeps beyond the three the built-in checks read: the
# proxies' keep list (manifests/telemetry/proxy-metrics.yaml), cAdvisor's (prometheus-values.yaml).
REAL_CHECKS = {
    "memory": (
        'max(container_memory_working_set_bytes{namespace="{{ namespace }}", '
        'pod=~"{{ target }}-[a-z0-9]+-[a-z0-9]+", container="{{ target }}"})'
    ),
    "denied": f"sum(increase(inbound_http_authz_deny_total{{{WHERE}}}[{{{{ interval }}}}]))"
    " or vector(0)",
    "outbound-p99": (
        "histogram_quantile(0.99, sum by (le) (rate("
        f"outbound_http_route_request_duration_seconds_bucket{{{WHERE}}}[{{{{ interval }}}}])))"
    ),
    "proxy-memory": f"max(process_resident_memory_bytes{{{WHERE}}})",
    # a label made by label_replace, grouped on, then reduced to one series
    "per-version": (
        "max(sum by (version) (label_replace(rate(response_total{"
        f'{WHERE}, direction="inbound"}}[{{{{ interval }}}}]), "version", "$1", '
        '"app_kubernetes_io_version", "(.*)")))'
    ),
    "by-name": f'sum(rate({{__name__="response_total", {WHERE}}}[{{{{ interval }}}}]))',
    "grouped-on-fixed": (
        f"sum by (namespace) (rate(request_total{{{WHERE}}}[{{{{ interval }}}}]))"
    ),
}


def test_custom_checks_on_every_kept_metric_are_accepted(project: Path) -> None:
    checks = {name: {"query": query, "max": 1e9} for name, query in REAL_CHECKS.items()}
    write(project, "staging", {}, {"checks": checks})
    code, out = run("staging")
    assert code == 0, out


def test_a_bad_version_port_and_query_are_reported_together(project: Path) -> None:
    """A failed required field (version, port) stands in as a placeholder in the second pass,
    so the rules across fields (the custom query's) still run: every problem at once."""
    bad_query = {**CUSTOM_CHECK, "query": "max(queue_depth)"}
    write(
        project,
        "staging",
        {"services": {"podinfo": {"version": "latest"}}},
        {"port": 4191, "faults": "errors", "checks": {"queue-depth": bad_query}},
    )
    code, out = run("staging")
    assert code == check.REFUSED
    lines = out.splitlines()
    for says in (
        "services.podinfo.version: got 'latest'",
        "services/podinfo.yaml: port: got 4191",
        "services/podinfo.yaml: checks.queue-depth.query: got 'max(queue_depth)'",
    ):
        assert any(says in line for line in lines), out
    # The stand-in is no real value: no rule judges by it (podinfo's faults need its image).
    assert "faults" not in out, out
    write(project, "staging", {}, {"image": "Not An Image", "faults": "errors"})
    code, out = run("staging")
    assert "image: got 'Not An Image'" in out and "faults" not in out, out


def test_encrypted_values_are_named_as_checked_by_pulumi_up_only(project: Path) -> None:
    write(project, "staging", {}, {})
    stack = project / "Pulumi.staging.yaml"
    document = yaml.safe_load(stack.read_text())
    document["config"][f"{NAME}:alertWebhookUrl"] = {"secure": "v1:AAAA"}
    document["config"][f"{NAME}:alertProvider"] = "slack"
    stack.write_text(yaml.safe_dump(document))
    code, out = run("staging")
    assert code == 0, out
    assert "encrypted, so checked by `pulumi up` only: alertWebhookUrl" in out


def test_the_command_prints_problems_not_a_traceback(project: Path) -> None:
    write(project, "staging", {"nodeCont": 3}, {"replcas": {}})
    result = subprocess.run(
        [sys.executable, "-m", "canaryctl", "check", "staging"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == check.REFUSED
    assert "Traceback" not in result.stdout + result.stderr
    assert "nodeCont: not a setting of this project" in result.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "canaryctl", "check", "nosuch"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 3
    assert missing.stderr.strip() == (
        f"canaryctl: no stack file Pulumi.nosuch.yaml in {project}: pick one of staging"
    )


# ---- stack files and declarations read as the Pulumi CLI reads YAML (go-yaml v3, YAML 1.2) ----


def write_text(project: Path, stack_lines: str, podinfo_lines: str = "") -> None:
    """A stack file and podinfo's declaration with lines exactly as a user types them."""
    base = f"  {NAME}:environment: dev\n  {NAME}:alertReceiver: none\n"
    (project / "Pulumi.staging.yaml").write_text(f"config:\n{base}{stack_lines}")
    given = {line.split(":")[0] for line in podinfo_lines.splitlines() if line[:1].isalpha()}
    declaration = yaml.safe_dump({k: v for k, v in PODINFO.items() if k not in given})
    declaration += podinfo_lines
    (project / "services" / "podinfo.yaml").write_text(declaration)


PODINFO_ENTRY = f"  {NAME}:services:\n    podinfo:\n      version: 6.14.1\n"

YAML_READINGS = [
    # (stack file lines, declaration lines, a line the refusal has; None: accepted)
    (
        f"  {NAME}:autoscaling: yes\n{PODINFO_ENTRY}",
        "",
        "key 'autoscaling' must be of type 'boolean'",
    ),
    (f"  {NAME}:autoscaling: True\n{PODINFO_ENTRY}", "", None),
    # 12:30 is text in YAML 1.2 (no base 60): a valid HH:mm
    (
        f"  {NAME}:autoUpgradeWindow:\n    dayOfWeek: Saturday\n    startTime: 12:30\n"
        f"    durationHours: 4\n{PODINFO_ENTRY}",
        "",
        None,
    ),
    # the CLI stores 3.0 as Go's JSON text "3": an integer
    (f"  {NAME}:nodeCount: 3.0\n{PODINFO_ENTRY}", "", None),
    (f"  {NAME}:nodeCount: 3.5\n{PODINFO_ENTRY}", "", "key 'nodeCount' must be of type 'integer'"),
    (
        f"  {NAME}:services:\n    podinfo:\n      version: 2026-01-01\n",
        "",
        "services.podinfo.version: got '2026-01-01 00:00:00 +0000 UTC'",
    ),
    (
        f"  {NAME}:services:\n    2026-01-01:\n      version: 6.14.1\n",
        "",
        "services.2026-01-01 00:00:00 +0000 UTC: got a service named",
    ),
    (f"  {NAME}:nodeCount: .nan\n{PODINFO_ENTRY}", "", "json: unsupported value: NaN"),
    (
        f"  {NAME}:nodeCount: 3\n  {NAME}:nodeCount: 4\n{PODINFO_ENTRY}",
        "",
        "mapping key 'progressive-delivery:nodeCount' already defined at line",
    ),
    # a declaration reads the same way: `no` is text, not false
    (PODINFO_ENTRY, "faults: no\n", "services/podinfo.yaml: faults: got 'no'; allowed: none |"),
]


@pytest.mark.parametrize(
    ("stack_lines", "podinfo_lines", "says"),
    YAML_READINGS,
    ids=[f"{s.splitlines()[0].strip()}|{p.strip()}" for s, p, _ in YAML_READINGS],
)
def test_files_are_read_as_the_pulumi_cli_reads_yaml(
    project: Path, stack_lines: str, podinfo_lines: str, says: str | None
) -> None:
    write_text(project, stack_lines, podinfo_lines)
    try:
        code, out = run("staging")
    except CanaryctlError as error:  # the file itself is unreadable: canaryctl exits 3 with it
        code, out = 3, str(error)
    assert "Traceback" not in out
    if says is None:
        assert code == 0, out
    else:
        assert code != 0, out
        assert says in out, out


def test_values_keep_the_text_the_cli_hands_the_program(project: Path) -> None:
    from canaryctl.project import stack_settings

    write_text(
        project,
        f"  {NAME}:nodeCount: 3.0\n  {NAME}:autoUpgradeWindow:\n    dayOfWeek: Saturday\n"
        f"    startTime: 12:30\n    durationHours: 4\n{PODINFO_ENTRY}",
        "env:\n  START: 12:30\n  ENABLED: on\nretry: 2026-01-01\n",
    )
    settings = stack_settings(project, "staging")
    assert settings.cluster is not None
    assert settings.cluster.user_pool.count == 3
    assert settings.cluster.auto_upgrade_window.start_time == "12:30"
    (podinfo,) = settings.services
    assert podinfo.env["START"] == "12:30" and podinfo.env["ENABLED"] == "on"
    assert podinfo.retry == "2026-01-01"
