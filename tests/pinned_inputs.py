"""What the tests read from outside the checkout, made available (or found missing) once, up front.

The suite renders the pinned Helm charts (tests/chart_cache.py) and runs the program, which reads
its pinned files: Linkerd's dashboards, the Gateway API and Flagger CRDs
(stacks/components/pinned.py). Both come from ../shared next to the checkout when it is there,
else from this machine's cache (~/.cache/progressive-delivery/); online, whatever is missing is
fetched once into that cache, each file checked against its sha256 in stacks/pins.py.

`problem()` runs before the first test (tests/conftest.py). When something is still missing
(offline, or the first download failed) or differs from its pin, the session stops with one
line naming what and how to provide it. Nearly every test needs these files (each run of the
program reads the dashboards and CRDs), so skipping the tests that need them would skip almost
the whole suite and read as green in CI; one clear stop does not.
"""

from __future__ import annotations

from collections.abc import Iterator

from stacks import pins
from stacks.components import pinned
from tests import chart_cache

_LINKERD_CHARTS = ("linkerd-crds", "linkerd-control-plane", "linkerd-viz")
_OTHER_CHARTS = (
    pins.PROMETHEUS,
    pins.GRAFANA,
    pins.CERT_MANAGER,
    pins.FLAGGER,
    pins.LOADTESTER,
)
SHOWN = 3
"""Missing files named in the line; the rest are counted."""


def charts() -> Iterator[tuple[str, str, str]]:
    """(chart, version, repository) of every pinned chart archive."""
    repos = {chart.name: chart.repo for chart in _OTHER_CHARTS}
    repos |= dict.fromkeys(_LINKERD_CHARTS, pins.LINKERD_REPO)
    for chart, version in pins.CHART_ARCHIVE_SHA256:
        yield chart, version, repos[chart]


def files() -> Iterator[pinned.PinnedFile]:
    """Every file the program downloads itself, at every pinned version."""
    yield from pins.LINKERD_DASHBOARDS.values()
    for crds in pins.GATEWAY_API_CRDS.values():
        yield from crds
    yield from pins.FLAGGER_CRDS.values()


def problem() -> str | None:
    """None when every chart archive and pinned file is here with its pinned digest (fetching
    what is missing first, when online); else one line: what is missing and how to provide it."""
    fetch = not chart_cache.offline()
    errors: list[Exception] = []
    missing: list[str] = []
    wanted = 0
    for chart, version, repo in charts():
        wanted += 1
        try:
            chart_cache.archive(chart, version, repo, pull=fetch)
        except chart_cache.ChartMissing as error:
            missing.append(f"{chart}-{version}.tgz")
            errors.append(error)
            fetch = False  # one failed download is enough: no network, no more timeouts
    for file in files():
        wanted += 1
        try:
            pinned.read(file, download=fetch)
        except pinned.PinnedFileError as error:
            missing.append(file.mirror_path)
            errors.append(error)
            fetch = False
    if not missing:
        return None
    shown = ", ".join(missing[:SHOWN]) + (
        f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
    )
    # The first download that failed or file that differs from its pin says more than "missing".
    failed = [e for e in errors if not isinstance(e, chart_cache.NotFound | pinned.NotCached)]
    reason = (
        str(failed[0]).rstrip(".")
        if failed
        else "nothing is fetched offline (CI or CHARTS_OFFLINE is set)"
    )
    shared = chart_cache.DEFAULT_CACHE.parent
    return (
        f"{len(missing)} of the {wanted} pinned files the tests read are not here ({shown}): "
        f"{reason}. Put the project's shared folder beside the checkout ({shared}), or point "
        f"{chart_cache.CACHE_ENV} at a folder of the chart archives and {pinned.MIRROR_ENV} at "
        "one laid out like ../shared, or run the tests once online (CI and CHARTS_OFFLINE unset) "
        f"to fetch them into {pinned.cache_dir().parent}, checked against stacks/pins.py."
    )
