"""Pinned chart archives for offline rendering: read from the chart cache, or pulled into it.

The cache is `$CHART_CACHE`, by default `../shared/charts` next to the checkout: one
`<chart>-<version>.tgz` per pinned chart, exactly as its repository serves it. A chart missing
there is pulled from its repository (like `helm pull REPO/CHART --version V`) into the cache, or
into `build/charts` when the cache is read-only, so a bumped version renders what it names.
Offline (`CI` or `CHARTS_OFFLINE` set) a missing chart is an error naming chart, version and
repository, never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.harness import ROOT

CACHE_ENV = "CHART_CACHE"
OFFLINE_ENVS = ("CI", "CHARTS_OFFLINE")
DEFAULT_CACHE = ROOT.parent / "shared" / "charts"
PULLED = ROOT / "build" / "charts"


class ChartMissing(Exception):
    """A pinned chart is in no cache and could not (or may not) be pulled."""


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).resolve()


def offline() -> bool:
    return any(os.environ.get(name, "").lower() not in ("", "0", "false") for name in OFFLINE_ENVS)


def archive(chart: str, version: str, repo: str) -> Path:
    """The archive of `chart` at `version`; pulled from `repo` when online and not yet cached."""
    file_name = f"{chart}-{version}.tgz"
    for directory in (cache_dir(), PULLED):
        if (directory / file_name).is_file():
            return directory / file_name
    if offline():
        cache = cache_dir()
        missing = f"has no {file_name}" if cache.is_dir() else "does not exist"
        raise ChartMissing(
            f"chart {chart} {version} (repository {repo}) is missing: the chart cache {cache} "
            f"{missing}, and nothing is pulled offline (CI or CHARTS_OFFLINE is set). Add the "
            f"archive there, or point {CACHE_ENV} at a folder that has it."
        )
    return _pull(chart, version, repo, file_name)


def _pull(chart: str, version: str, repo: str, file_name: str) -> Path:
    import helm_python as helm

    cache = cache_dir()
    destination = cache if cache.is_dir() and os.access(cache, os.W_OK) else PULLED
    destination.mkdir(parents=True, exist_ok=True)
    try:
        helm.pull(chart, repo_url=repo, version=version, destination=destination)
    except helm.HelmError as error:
        raise ChartMissing(
            f"chart {chart} {version} is not in the chart cache {cache} and could not be pulled "
            f"from {repo}: {str(error).strip()}"
        ) from error
    if not (destination / file_name).is_file():
        raise ChartMissing(f"pulling {chart} {version} from {repo} gave no {file_name}")
    return destination / file_name
