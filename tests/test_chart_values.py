"""Every Helm value the platform sets is a key the pinned chart reads; every release is pinned."""

from __future__ import annotations

from stacks import versions
from tests.chart_keys import unchecked_keys
from tests.harness import HELM_RELEASE, Run


def test_every_value_is_a_checked_chart_key(stack_run: Run) -> None:
    for release in stack_run.of_type(HELM_RELEASE):
        inputs = release.inputs
        unknown = unchecked_keys(inputs["chart"], inputs["version"], inputs["values"])
        assert unknown == [], f"{release}: keys not checked against {inputs['chart']}: {unknown}"


def test_a_misspelled_key_is_caught() -> None:
    assert unchecked_keys("flagger", "0", {}) != []
    assert unchecked_keys("prometheus", "29.27.0", {"server": {"retension": "1d"}}) == [
        "server.retension"
    ]
    assert unchecked_keys("grafana", "12.11.1", {"grafana.ini": {"a": {"b": 1}}}) == []


def test_every_release_is_pinned_to_a_repository_and_version(stack_run: Run) -> None:
    pinned = {
        (chart.name, chart.repo, chart.version)
        for chart in (
            versions.PROMETHEUS,
            versions.GRAFANA,
            versions.CERT_MANAGER,
            versions.FLAGGER,
            versions.LOADTESTER,
        )
    }
    for release in stack_run.of_type(HELM_RELEASE):
        inputs = release.inputs
        repo = inputs["repositoryOpts"]["repo"]
        assert inputs["version"], f"{release} floats to the newest chart"
        if repo == versions.LINKERD_REPO:
            assert inputs["version"] == versions.LINKERD_CHECKED_VERSION
        else:
            assert (inputs["chart"], repo, inputs["version"]) in pinned, release


def test_release_names_are_fixed(stack_run: Run) -> None:
    for release in stack_run.of_type(HELM_RELEASE):
        assert release.inputs["name"], f"{release} would get a random release name"
        assert release.inputs.get("skipAwait") is not True, f"{release} does not wait"
