"""Every Helm release is pinned to a repository and version and installed under a fixed name.

Whether the values fit the chart is proven by rendering it (tests/test_render.py) and by the
inert-value analysis (tests/test_inert_values.py), not by lists of keys.
"""

from __future__ import annotations

from stacks import pins
from tests.harness import HELM_RELEASE, Run


def test_every_release_is_pinned_to_a_repository_and_version(stack_run: Run) -> None:
    pinned = {
        (chart.name, chart.repo, chart.version)
        for chart in (
            pins.PROMETHEUS,
            pins.GRAFANA,
            pins.CERT_MANAGER,
            pins.FLAGGER,
            pins.LOADTESTER,
        )
    }
    for release in stack_run.of_type(HELM_RELEASE):
        inputs = release.inputs
        repo = inputs["repositoryOpts"]["repo"]
        assert inputs["version"], f"{release} floats to the newest chart"
        if repo == pins.LINKERD_REPO:
            assert inputs["version"] == pins.LINKERD_VERSION
        else:
            assert (inputs["chart"], repo, inputs["version"]) in pinned, release


def test_release_names_are_fixed(stack_run: Run) -> None:
    for release in stack_run.of_type(HELM_RELEASE):
        assert release.inputs["name"], f"{release} would get a random release name"
        assert release.inputs.get("skipAwait") is not True, f"{release} does not wait"
