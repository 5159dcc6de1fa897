"""canaryctl wait against the fake API server: every way a release can end, and when it starts."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from canaryctl.cli import main
from tests.canary_recordings import (
    NEW,
    NOT_READY,
    SCALED_DOWN,
    deadline,
    failed_between_polls,
    manual,
    new_version_after_failure,
    new_version_after_success,
    progressing,
    promoted,
    promotion,
    quick_release,
    reverted_after_failure,
    rollback,
    route_stall,
)
from tests.fake_kube_api import FakeKubeApi, Frame


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi() as fake:
        yield fake


def wait(api: FakeKubeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str):
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    code = main(
        [
            "wait",
            "podinfo",
            "-n",
            "podinfo",
            "--poll",
            "0.01",
            "--kubeconfig",
            str(kubeconfig),
            *extra,
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_promotion_exits_0_with_progress_and_events(api, tmp_path, capsys):
    api.add_canary(promotion())
    code, out, err = wait(api, tmp_path, capsys)
    assert (code, err) == (0, "")
    assert "PROMOTED podinfo/podinfo after" in out.splitlines()[-1]
    assert "Progressing      [#####]  50/50%  passed 5/5  failed 0/5" in out
    assert "Progressing      [#....]  10/50%  passed 1/5" in out
    assert "Advance podinfo.podinfo canary weight 50" in out
    assert "Promotion completed! Scaling down podinfo.podinfo" in out
    assert "\r" not in out, "a CI log gets plain lines, not a redrawn one"


def test_default_timeout_comes_from_the_live_analysis_settings(api, tmp_path, capsys):
    api.add_canary(promotion())
    _, out, _ = wait(api, tmp_path, capsys)
    # 1m to notice + 600 s deadline + slowest promotion ((5+3) runs + 4 failed checks on the
    # way, stacks/services/rollout_plan.py) + 1m = 24 min.
    intro = out.splitlines()[0]
    assert "5 steps to 50% every 1:00" in intro
    assert "promotion planned ~8:00" in intro
    assert "timeout 24:00" in intro


def test_rollback_exits_1_with_the_reason(api, tmp_path, capsys):
    api.add_canary(rollback())
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 1
    assert "Progressing      [##...]  20/50%  passed 2/5  failed 5/5" in out
    verdict = out[out.index("ROLLED BACK") :]
    assert verdict.startswith("ROLLED BACK podinfo/podinfo after")
    assert "Canary analysis failed, Deployment scaled to zero." in verdict
    assert "why: Rolling back podinfo.podinfo failed checks threshold reached 5" in verdict
    assert "failed checks reached 5/5" in verdict
    assert "Halt podinfo.podinfo advancement success-rate 71.43 < 99 (x5)" in out
    assert out.count("means  the canary missed its SLO") == 1, "each meaning is printed once"


def test_stuck_release_times_out_with_2(api, tmp_path, capsys):
    api.add_canary([Frame("Progressing", 20)])  # Flagger never moves on
    code, out, _ = wait(api, tmp_path, capsys, "--timeout", "0.2")
    assert code == 2
    assert "TIMED OUT after 0:00 following podinfo/podinfo (phase Progressing, weight 20/50%" in out
    assert "slower than planned" in out


def test_progress_deadline_rolls_back_with_the_deadline_explained(api, tmp_path, capsys):
    api.add_canary([Frame("Succeeded", revision="rev-1"), *deadline()])
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 1
    assert "ROLLED BACK podinfo/podinfo after" in out
    assert "Canary analysis failed, Deployment scaled to zero." in out
    verdict = out[out.index("ROLLED BACK") :]
    assert (
        'why: canary deployment podinfo.podinfo not ready: deployment "podinfo" exceeded its progress deadline'
        in verdict
    )
    assert "means  the new pods did not become ready within progressDeadlineSeconds" in verdict
    assert "failed checks reached" not in verdict, "a deadline is no failed check"


def test_a_stalled_route_is_named_as_the_cause(api, tmp_path, capsys):
    api.add_canary(route_stall())
    code, out, _ = wait(api, tmp_path, capsys, "--timeout", "0.3")
    assert code == 2
    timed_out = out[out.index("TIMED OUT") :]
    assert (
        "Flagger reports: HTTPRoute podinfo.podinfo parent podinfo is not ready (status: True, observed generation: 0, current generation: 3)"
        in timed_out
    )
    assert "gatewayapi:v1beta1" in timed_out
    assert "did the Deployment's pod template change" not in timed_out


def test_started_before_flagger_noticed_waits_past_the_old_succeeded(api, tmp_path, capsys):
    api.add_canary([Frame("Succeeded", revision="rev-1")] * 4 + promotion()[1:])
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 0
    assert "still shows the previous release (Succeeded)" in out
    assert "previous release; waiting for Flagger to start the new one" in out
    assert out.index("New revision detected!") < out.index("PROMOTED")
    assert api.gets() >= 4 + len(promotion()) - 1


def test_release_that_began_and_ended_between_polls_counts_by_its_event(api, tmp_path, capsys):
    api.add_canary(quick_release())
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 0
    assert "PROMOTED podinfo/podinfo" in out


def test_reverting_after_a_failure_is_no_release_not_a_rollback(api, tmp_path, capsys):
    # While Failed, Flagger re-syncs lastAppliedSpec every run (scheduler.go shouldAdvance) and
    # starts nothing for the primary's own template (spec.go hasSpecChanged).
    api.add_canary(reverted_after_failure())
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 0
    assert "ROLLED BACK" not in out
    assert out.splitlines()[-1].startswith(
        "NO RELEASE for podinfo/podinfo: its Deployment is back at the version the primary runs"
    )


def test_a_new_version_after_a_failure_is_followed_to_its_end(api, tmp_path, capsys):
    # The run that notices rev-3 re-syncs lastAppliedSpec while still Failed, records "New
    # revision detected!", and only then sets Progressing: a poll sees the event next to rev-2's
    # Failed, which is the previous release's end, not this one's.
    frames = new_version_after_failure()
    api.add_canary(frames)
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 0, out
    assert "ROLLED BACK" not in out
    assert out.index("New revision detected!") < out.index(
        "Advance podinfo.podinfo canary weight 50"
    )
    assert out.splitlines()[-1].startswith("PROMOTED podinfo/podinfo")
    assert api.gets() >= len(frames)
    # The poll in between shows the release as starting, not as Failed.
    assert "starting         [.....]   0/50%" in out


def test_a_new_version_after_a_promotion_is_followed_to_its_end(api, tmp_path, capsys):
    # The same span after a success: Succeeded is never re-synced, so the poll between the
    # event and Progressing sees rev-1's Succeeded, which must not promote rev-2.
    frames = new_version_after_success()
    api.add_canary(frames)
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 0
    assert out.index("New revision detected!") < out.index(
        "Advance podinfo.podinfo canary weight 50"
    )
    assert out.splitlines()[-1].startswith("PROMOTED podinfo/podinfo")
    assert api.gets() >= len(frames)


def test_a_release_that_failed_between_polls_is_rolled_back_by_its_status(api, tmp_path, capsys):
    # No active phase seen, but Flagger wrote Failed after the release's new-revision event.
    api.add_canary(failed_between_polls())
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 1
    assert "ROLLED BACK podinfo/podinfo" in out
    assert "why: Rolling back podinfo.podinfo failed checks threshold reached 5" in out


def test_the_promotion_gate_shows_the_routed_traffic_awaiting_promotion(api, tmp_path, capsys):
    # status.go: WaitingPromotion has canaryWeight 0 and iterations -1, yet 50% is routed.
    api.add_canary(manual()[-5:-3], manual_promotion=True)
    code, out, _ = wait(api, tmp_path, capsys, "--timeout", "0.3")
    assert code == 2
    assert "awaiting promotion [#####]  50/50%  passed 5/5  failed 0/5" in out
    assert " 0/50%" not in out and "passed 0/5" not in out
    assert (
        "TIMED OUT after 0:00 following podinfo/podinfo (phase WaitingPromotion, weight 50/50%"
        in out
    )


def test_no_new_revision_times_out_and_says_flagger_never_started(api, tmp_path, capsys):
    api.add_canary([Frame("Succeeded", revision="rev-1")])
    code, out, _ = wait(api, tmp_path, capsys, "--timeout", "0.2")
    assert code == 2
    assert "Flagger never started a release" in out


def test_joining_a_release_under_way_shows_its_story_so_far(api, tmp_path, capsys):
    api.add_canary(progressing() + promoted())
    for _ in range(4):  # Flagger got to 20% before wait started
        api.serve_canary(api.canaries[("podinfo", "podinfo")], advance=True)
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 0
    assert (
        out.index("New revision detected!") < out.index("canary weight 20") < out.index("PROMOTED")
    )


def test_first_deployment_ends_at_initialized(api, tmp_path, capsys):
    api.add_canary([Frame(""), Frame("Initializing"), Frame("Initialized", revision="rev-1")])
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 0
    assert "INITIALIZED podinfo/podinfo: first deployment" in out


def test_manual_gate_times_out_with_the_promote_command(api, tmp_path, capsys):
    api.add_canary(manual()[-4:], manual_promotion=True)  # at the gate, which stays closed
    code, out, _ = wait(api, tmp_path, capsys, "--timeout", "0.2")
    assert code == 2
    assert "then a manual promotion gate" in out.splitlines()[0]
    assert (
        "waits at the promotion gate: approve it with `canaryctl promote podinfo -n podinfo`" in out
    )


def test_api_outage_during_wait_is_retried(api, tmp_path, capsys):
    api.add_canary(promotion())
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    api.unavailable = {3, 4, 5}
    code = main(["wait", "podinfo", "--poll", "0.01", "--kubeconfig", str(kubeconfig)])
    out = capsys.readouterr().out
    assert code == 0
    assert "warning: the Kubernetes API at" in out
    assert "answered 503" in out
    assert "the Kubernetes API answers again" in out


def test_terminal_gets_one_redrawn_line(api, tmp_path, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    api.add_canary(promotion())
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    assert main(["wait", "podinfo", "--poll", "0.01", "--kubeconfig", str(kubeconfig)]) == 0
    assert "\r\x1b[K" in terminal.getvalue()
    assert terminal.getvalue().rstrip().endswith(")."), "the verdict is the last line"


def test_namespace_defaults_to_the_contexts(api, tmp_path, capsys):
    api.add_canary(promotion(), namespace="shop")
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", namespace="shop")
    assert main(["wait", "podinfo", "--poll", "0.01", "--kubeconfig", str(kubeconfig)]) == 0
    assert "PROMOTED shop/podinfo" in capsys.readouterr().out


def test_plan_and_timeout_follow_the_live_canary_not_a_stack_file(api, tmp_path, capsys):
    api.add_canary(quick_release(), manual_promotion=True, step_weight=5)  # prod's analysis
    _, out, _ = wait(api, tmp_path, capsys)
    # 1m + 600 s + slowest promotion ((10+3) runs + 4 failed checks = 17 min) + 1m = 29 min.
    assert out.splitlines()[0] == (
        "Following podinfo/podinfo: 10 steps to 50% every 1:00, then a manual promotion gate; "
        "promotion planned ~13:00 after Flagger notices; timeout 29:00."
    )


def test_events_client_go_combined_are_still_recognised(api, tmp_path, capsys):
    # client-go's correlator prefixes the 11th and later similar events within 10 minutes
    # (tools/record/events_cache.go); a long release's final event arrives that way.
    frames = rollback()
    final = frames[-1]
    combined = tuple(
        e.replace("Warning: ", "Warning: (combined from similar events): ") for e in final.events
    )
    frames[-1] = Frame(final.phase, events=combined)
    api.add_canary(frames)
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 1
    verdict = out[out.index("ROLLED BACK") :]
    assert "why: Rolling back podinfo.podinfo failed checks threshold reached 5" in verdict
    assert "combined from similar events" not in out


def test_a_dropped_final_event_points_at_flaggers_log(api, tmp_path, capsys):
    frames = rollback()
    frames[-1] = Frame("Failed")  # the spam filter dropped "Rolling back ..." and "Canary failed!"
    api.add_canary(frames)
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 1
    verdict = out[out.index("ROLLED BACK") :]
    assert "failed checks reached 5/5" in verdict
    assert "`kubectl -n flagger-system logs deploy/flagger` has every one" in verdict


def test_pods_unavailable_past_the_deadline_are_named_as_the_cause(api, tmp_path, capsys):
    # deployment_ready.go:82-86: MinimumReplicasUnavailable past the deadline turns the same
    # "waiting for rollout to finish" error non-retriable, and Flagger rolls back.
    api.add_canary(
        [
            Frame("Progressing", events=(NEW,)),
            Frame("Progressing", events=(f"Warning: {NOT_READY}",)),
            Frame("Failed", events=(f"Warning: {NOT_READY}", SCALED_DOWN)),
        ]
    )
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 1
    verdict = out[out.index("ROLLED BACK") :]
    assert f"why: {NOT_READY}" in verdict
    assert "unavailable for progressDeadlineSeconds, then rolls back" in verdict


# ---- the checks and the release report, from Prometheus (tests/fake_prometheus.py) ----


def test_each_analysis_shows_every_check_against_its_threshold(api, tmp_path, capsys):
    api.add_canary(promotion())
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 0
    # Values Flagger recorded in the run that moved from 10% to 20% judge the 10% step.
    assert (
        "  checks at 10%  request-volume 181 (>= 100) pass · success-rate 100.00% (>= 99%) pass"
        " · latency 8.3 ms (<= 500 ms) pass" in out
    )
    assert "  checks at 50%  request-volume 189 (>= 100) pass" in out
    # Asked through the API server's service proxy, never a port-forward.
    assert (
        "GET /api/v1/namespaces/monitoring/services/prometheus-server:80/proxy/api/v1/query"
        in api.requests
    )
    assert set(api.prometheus.queries) == {'flagger_canary_metric_analysis{namespace="podinfo"}'}


def test_the_release_report_lists_each_step_with_its_checks(api, tmp_path, capsys):
    api.add_canary(promotion())
    _, out, _ = wait(api, tmp_path, capsys)
    report = out[out.index("Release report:") : out.index("PROMOTED")]
    assert report.startswith("Release report: podinfo/podinfo: promoted after")
    assert "reached 50% (5 of 5 steps)" in report
    assert "thresholds: request-volume >= 100, success-rate >= 99%, latency <= 500 ms" in report
    rows = [line.split() for line in report.splitlines() if line.strip()[:3] in ("10%", "50%")]
    assert rows[0][0] == "10%" and rows[0][2:] == [
        "181",
        "pass",
        "100.00%",
        "pass",
        "8.3",
        "ms",
        "pass",
        "0",
    ]
    assert rows[-1][0] == "50%"
    assert out.splitlines()[-1].startswith("PROMOTED"), "the verdict stays the last line"


def test_a_rollback_report_shows_the_failing_check_and_what_was_not_evaluated(
    api, tmp_path, capsys
):
    api.add_canary(rollback())
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 1
    assert (
        "checks at 20%  request-volume 176 (>= 100) pass · success-rate 71.43% (>= 99%) FAIL · "
        "latency 8.3 ms (<= 500 ms) not evaluated" in out
    )
    report = out[out.index("Release report:") : out.index("ROLLED BACK")]
    (row,) = [line.split() for line in report.splitlines() if line.strip().startswith("20%")]
    # Five failed checks at 20%, Flagger's status.failedChecks rising there.
    assert row[2:] == ["176", "pass", "71.43%", "FAIL", "8.3", "ms", "not", "evaluated", "5"]
    assert "worst: request-volume 176 pass, success-rate 71.43% FAIL" in report


def test_output_json_is_the_report_alone_on_stdout(api, tmp_path, capsys):
    api.add_canary(rollback())
    code, out, err = wait(api, tmp_path, capsys, "--output", "json")
    assert code == 1
    report = json.loads(out)
    assert "ROLLED BACK podinfo/podinfo" in err, "progress and verdict go to stderr"
    assert report["outcome"] == "rolled back"
    assert report["canary"] == "podinfo/podinfo"
    assert (report["failedChecks"], report["threshold"]) == (5, 5)
    assert report["reason"] == "Rolling back podinfo.podinfo failed checks threshold reached 5"
    assert [c["name"] for c in report["checks"]] == ["request-volume", "success-rate", "latency"]
    assert report["checks"][0] == {
        "name": "request-volume",
        "min": 100.0,
        "max": None,
        "window": "30s",
    }
    assert [s["step"] for s in report["steps"]] == ["10%", "20%"]
    assert report["steps"][1]["checks"] == {
        "request-volume": {"value": 176.0, "verdict": "pass"},
        "success-rate": {"value": 71.4285, "verdict": "fail"},
        "latency": {"value": 8.3, "verdict": "not evaluated"},
    }
    assert report["steps"][1]["failedChecks"] == 5
    assert report["worst"]["success-rate"] == {"value": 71.4285, "verdict": "fail"}


def test_the_gate_report_shows_the_last_step_at_the_routed_weight(api, tmp_path, capsys):
    api.add_canary(manual(), manual_promotion=True)
    code, out, _ = wait(api, tmp_path, capsys, "--timeout", "0.5")
    assert code == 2
    assert "checks at 50%  request-volume 189 (>= 100) pass" in out
    assert "awaiting promotion [#####]  50/50%  passed 5/5" in out


def test_without_prometheus_wait_still_follows_the_release(api, tmp_path, capsys):
    api.forbidden.add("services/proxy")
    api.add_canary(promotion())
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 0
    assert (
        out.count(
            "checks not shown: forbidden (403): user ci-bot may not get services/proxy in namespace monitoring"
        )
        == 1
    )
    assert "kubectl auth can-i get services/proxy -n monitoring" in out
    assert "PROMOTED podinfo/podinfo" in out


def test_a_broken_prometheus_is_named(api, tmp_path, capsys):
    api.prometheus.broken = 'invalid parameter "query": 1:1: parse error'
    api.add_canary(promotion())
    code, out, _ = wait(api, tmp_path, capsys)
    assert code == 0
    assert (
        "checks not shown: Prometheus monitoring/prometheus-server refused the query (400): "
        'bad_data: invalid parameter "query": 1:1: parse error' in out
    )
