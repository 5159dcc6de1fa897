"""No value the program sets is dead: each changes what its chart renders, or is listed here with
the reason it stays. Slow (one render per value): `make test-slow`, run by CI."""

from __future__ import annotations

import pytest

from tests import render_check
from tests.harness import STACKS
from tests.helm_render import Release
from tests.inert_values import InertValue, inert_values

# (release, value path) -> why it stays although the release renders the same without it.
KNOWN_INERT = {
    ("linkerd-control-plane", "highAvailability"): (
        "read by `linkerd check` (pkg/healthcheck isHA) from linkerd-config, by no template"
    ),
    ("linkerd-control-plane", "controller.podDisruptionBudget.maxUnavailable"): (
        "the chart's default, pinned as the HA guarantee (values-ha.yaml)"
    ),
    ("linkerd-crds", "installGatewayAPI"): (
        "false is the default since Linkerd 2.18; stated so a default change cannot install a "
        "second Gateway API copy next to the pinned one"
    ),
    ("linkerd-viz", "linkerdNamespace"): (
        "the mesh layer's namespace passed on, so viz follows it; equals the default today"
    ),
    ("cert-manager", "crds.keep"): (
        "the default; stated because losing the CRDs on uninstall deletes every Certificate"
    ),
    ("prometheus", "server.global.scrape_timeout"): (
        "the default; stated next to scrape_interval, which it must never exceed"
    ),
    ("prometheus", "server.retention"): "from prometheusRetention; prod's 15d is the default",
    ("prometheus", "server.persistentVolume.enabled"): (
        "from prometheusPersistence; prod's true is the default"
    ),
    ("prometheus", "server.persistentVolume.size"): (
        "from prometheusStorageSize; read only when persistence is on (prod)"
    ),
    ("grafana", "service.type"): "the default; stated because Grafana must never be exposed",
    ("grafana", "service.port"): "the default; the openDashboards port-forward command uses it",
    ("grafana", "admin.userKey"): "the default; names a key of the Secret the stack writes",
    ("grafana", "admin.passwordKey"): "the default; names a key of the Secret the stack writes",
    ("prometheus", "alertmanager.enabled"): (
        "the chart's default; stated because the platform's own alerts need Alertmanager"
    ),
    ("grafana", "sidecar.dashboards.label"): (
        "the default; names the label the dashboard ConfigMaps carry (stacks/telemetry/dashboards.py)"
    ),
    ("flagger", "linkerdAuthPolicy.create"): (
        "the default; stated because Flagger's Linkerd guide sets true, for viz's own Prometheus, "
        "which this platform does not use"
    ),
    ("flagger-loadtester", "replicaCount"): (
        "the default; pinned because gate state lives in one pod's memory"
    ),
    ("flagger-loadtester", "cmd.timeout"): (
        "the default; stated next to namespaceRegexp as the bound on what webhooks may run"
    ),
}


@pytest.fixture(scope="module")
def found() -> dict[str, list[InertValue]]:
    return {
        stack: inert_values(
            render_check.committed(stack).declared, render_check.committed(stack).kube
        )
        for stack in STACKS
    }


@pytest.mark.slow
@pytest.mark.parametrize("stack", STACKS)
def test_every_inert_value_is_known(found: dict[str, list[InertValue]], stack: str) -> None:
    new = [str(v) for v in found[stack] if (v.release, v.path) not in KNOWN_INERT]
    assert new == [], (
        f"{stack}: values that change nothing the chart renders; remove them, or list them in "
        f"KNOWN_INERT with the reason they stay: {new}"
    )


@pytest.mark.slow
def test_every_known_inert_value_is_still_set_and_inert(
    found: dict[str, list[InertValue]],
) -> None:
    seen = {(v.release, v.path) for values in found.values() for v in values}
    assert sorted(set(KNOWN_INERT) - seen) == [], "stale KNOWN_INERT entries: drop them"


@pytest.mark.slow
def test_a_misspelled_key_is_found_inert() -> None:
    sr = render_check.committed("dev")
    (prometheus,) = [r for r in sr.declared if r.name == "prometheus"]
    server = dict(prometheus.values["server"], retension="1d")
    typo = Release(**{**vars(prometheus), "values": {"server": server}})
    found = inert_values([typo], sr.kube)
    assert "server.retension" in {v.path for v in found}
    assert "server.retention" not in {v.path for v in found}
