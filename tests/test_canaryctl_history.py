"""canaryctl history: past releases reconstructed from Prometheus's retained series.

The series are Flagger's gauges and counters as Flagger v1.44.0 sets them run by run, the canary
pods' proxies and the platform's threshold rules (tests/flagger_history.py), served in the shape
of Prometheus's API by tests/fake_prometheus.py behind the fake API server's service proxy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from canaryctl import prometheus
from canaryctl.cli import main
from stacks.manifests import MANIFESTS
from stacks.telemetry.layer import PROMETHEUS_URL
from tests.fake_kube_api import FakeKubeApi, Frame
from tests.flagger_history import Flagger, healthy, release

HOUR = 3600.0
FAILING = {"request-volume": 532.0, "success-rate": 93.7, "latency": 12.0}


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    """Three releases of podinfo in the last day, as Prometheus retains them: 6.14.0 promoted
    (judged with an older request-volume minimum of 500), 6.14.1 rolled back on its success
    rate at 20 %, 6.14.2 under way at 30 %."""
    with FakeKubeApi() as fake:
        fake.add_canary([Frame("Progressing", 30)])
        now = time.time()
        flagger = Flagger(fake.prometheus, now=now - 26 * HOUR)
        flagger.thresholds[("request-volume", "min")] = 500.0
        release(flagger, now - 20 * HOUR, "6.14.0", [healthy(k) for k in range(5)])
        flagger.thresholds[("request-volume", "min")] = 65.0
        release(flagger, now - 8 * HOUR, "6.14.1", [healthy(0), *[FAILING] * 5])
        # Under way: run 1 scaled it up, run 2 routed 10 %, two analyses moved it to 30 %.
        start = now - 250
        flagger.until(start)
        flagger.set("flagger_canary_status", 0, name="podinfo")
        flagger.scale("6.14.2", 2)
        flagger.until(start + 60)
        flagger.weights(10)
        for step, weight in ((1, 20), (2, 30)):
            flagger.until(start + 60 * (step + 1))
            flagger.analyse(healthy(step))
            flagger.weights(weight)
        flagger.until(now)
        yield fake


def history(api: FakeKubeApi, tmp_path: Path, capsys, *extra: str) -> tuple[int, str, str]:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    code = main(["history", "podinfo", "-n", "podinfo", "--kubeconfig", str(kubeconfig), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_list_has_every_release_newest_first_with_its_worst_values(api, tmp_path, capsys):
    code, out, err = history(api, tmp_path, capsys, "--since", "1d")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("Releases of podinfo/podinfo in the last 1d, newest first")
    header, *rows = lines[1:4]
    assert header.split() == [
        "#",
        "VERSION",
        "STARTED",
        "(UTC)",
        "TOOK",
        "OUTCOME",
        "REACHED",
        "REQUEST-VOLUME",
        "SUCCESS-RATE",
        "LATENCY",
    ]
    newest, rolled_back = (row.split() for row in rows[:2])
    assert newest[:2] == ["1", "6.14.2"] and "in progress" in rows[0]
    assert "30% (3 of 5 steps)" in rows[0]
    assert rolled_back[:2] == ["2", "6.14.1"]
    assert "rolled back" in rows[1] and "20% (2 of 5 steps)" in rows[1]
    assert "93.70% FAIL" in rows[1], "the success rate that rolled it back"
    assert "12 ms pass" not in rows[1], "latency was never evaluated after the failure"
    oldest = lines[4]
    assert oldest.split()[:2] == ["3", "6.14.0"] and "promoted" in oldest
    assert "50% (5 of 5 steps)" in oldest and "540 pass" in oldest
    assert lines[-1] == "`canaryctl history podinfo -n podinfo --release N` shows one in full."


def test_one_release_in_full_step_by_step(api, tmp_path, capsys):
    code, out, _ = history(api, tmp_path, capsys, "--since", "1d", "--release", "2")
    assert code == 0
    assert out.startswith("Release report: podinfo/podinfo release 2 6.14.1: rolled back after")
    assert "reached 20% (2 of 5 steps)" in out
    assert "thresholds: request-volume >= 65, success-rate >= 99%, latency <= 500 ms" in out
    rows = {
        line.split()[0]: line.split()
        for line in out.splitlines()
        if line.startswith("  1") or line.startswith("  2")
    }
    assert rows["10%"][2:8] == ["540", "pass", "100.00%", "pass", "10", "ms"]
    assert rows["20%"][2:6] == ["532", "pass", "93.70%", "FAIL"]
    assert "not evaluated" in " ".join(rows["20%"])


def test_thresholds_are_those_recorded_at_the_time(api, tmp_path, capsys):
    _, out, _ = history(api, tmp_path, capsys, "--since", "1d", "--release", "3")
    assert "thresholds: request-volume >= 500," in out, "not the Canary's 65 of today"
    # Detection to Succeeded in n + 3 runs of 1 min (stacks/services/rollout_plan.py), n = 5 steps.
    assert "promoted after 8:00" in out


def test_json_lists_every_release(api, tmp_path, capsys):
    code, out, _ = history(api, tmp_path, capsys, "--since", "1d", "-o", "json")
    assert code == 0
    releases = json.loads(out)
    assert [(r["release"], r["version"], r["outcome"]) for r in releases] == [
        (1, "6.14.2", "in progress"),
        (2, "6.14.1", "rolled back"),
        (3, "6.14.0", "promoted"),
    ]
    assert releases[1]["worst"]["success-rate"] == {"value": 93.7, "verdict": "fail"}
    assert releases[0]["endedAt"] is None


def test_a_long_span_is_read_in_two_passes_within_prometheus_limits(api, tmp_path, capsys):
    # 7 days at one sample per scrape would be 60,480 points: Prometheus refuses over 11,000.
    code, out, _ = history(api, tmp_path, capsys)
    assert code == 0
    assert "6.14.0" in out and "6.14.1" in out and "6.14.2" in out
    steps = {q for q in api.requests if "query_range" in q}
    assert steps, "range queries through the service proxy"


def test_an_unknown_release_number_names_the_range(api, tmp_path, capsys):
    code, _, err = history(api, tmp_path, capsys, "--since", "1d", "--release", "9")
    assert code == 3
    assert "has 3 release(s) in the last 1d that Prometheus retains: pick --release 1 to 3" in err


def test_no_release_in_the_span(tmp_path, capsys):
    with FakeKubeApi() as empty:
        empty.add_canary([Frame("Succeeded", revision="rev-1")])
        code, out, _ = history(empty, tmp_path, capsys, "--since", "1h")
    assert code == 0
    assert out.startswith("No release of podinfo/podinfo in the last 1h that Prometheus retains")


def test_canaryctl_asks_the_prometheus_the_platform_installs() -> None:
    host = PROMETHEUS_URL.removeprefix("http://").split(".")
    port = PROMETHEUS_URL.rsplit(":", 1)[1]
    assert (host[1], f"{host[0]}:{port}") == (prometheus.NAMESPACE, prometheus.SERVICE)


def test_the_series_history_reads_are_kept_by_the_scrape() -> None:
    # The proxy's series are cut to what consumers read (proxy-metrics.yaml); history is one.
    kept = yaml.safe_load((MANIFESTS / "telemetry" / "proxy-metrics.yaml").read_text())
    assert "process_start_time_seconds" in kept
