"""Pinned chart archives for offline rendering, each checked against its sha256 on every read.

Where an archive `<chart>-<version>.tgz` comes from, in this order:
1. the shared copies, `$CHART_CACHE`, by default `../shared/charts` next to the checkout (exactly
   as each repository serves them; only read, never written);
2. this machine's cache, `~/.cache/progressive-delivery/charts/` (under `$XDG_CACHE_HOME` when
   set), beside the pinned files stacks/components/pinned.py keeps in `.../pinned/`;
3. online, the chart's repository (like `helm pull REPO/CHART --version V`), once: the archive is
   kept in the cache only when its digest is the pinned one.
The digests are stacks/pins.py CHART_ARCHIVE_SHA256. An archive with another digest, from any of
the three, is an error naming both digests; a version without a pin is an error naming the
digest of what was found, to be checked and pinned on purpose. Offline (`CI` or `CHARTS_OFFLINE`
set) a missing archive is an error naming chart, version and repository, never a skip.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from stacks.pins import CHART_ARCHIVE_SHA256
from tests.harness import ROOT

CACHE_ENV = "CHART_CACHE"
OFFLINE_ENVS = ("CI", "CHARTS_OFFLINE")
DEFAULT_CACHE = ROOT.parent / "shared" / "charts"


class ChartMissing(Exception):
    """A pinned chart could not be had with its pinned digest (missing, different or unpinned)."""


class NotFound(ChartMissing):
    """A pinned chart is in no cache, and was not to be pulled."""


def cache_dir() -> Path:
    """The shared copies: `$CHART_CACHE`, else ../shared/charts."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).resolve()


def machine_cache() -> Path:
    """Where pulled archives are kept on this machine, as pinned.py keeps its files."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "progressive-delivery" / "charts"


def offline() -> bool:
    return any(os.environ.get(name, "").lower() not in ("", "0", "false") for name in OFFLINE_ENVS)


def archive(chart: str, version: str, repo: str, *, pull: bool | None = None) -> Path:
    """The archive of `chart` at `version`, with its pinned digest; pulled from `repo` when not
    found (`pull`: by default only online) and kept in this machine's cache."""
    file_name = f"{chart}-{version}.tgz"
    shared = cache_dir() / file_name
    if shared.is_file():
        _check(chart, version, shared.read_bytes(), str(shared))
        return shared
    pin = CHART_ARCHIVE_SHA256.get((chart, version))
    cached = machine_cache() / file_name
    if cached.is_file():
        if pin is not None and _sha256(cached.read_bytes()) == pin:
            return cached
        cached.unlink()  # a damaged cache entry is pulled again
    if not (not offline() if pull is None else pull):
        cache = cache_dir()
        where = f"has no {file_name}" if cache.is_dir() else "does not exist"
        raise NotFound(
            f"chart {chart} {version} (repository {repo}) is missing: the chart cache {cache} "
            f"{where}, this machine's cache {machine_cache()} neither, and nothing is pulled "
            f"offline (CI or CHARTS_OFFLINE is set). Add the archive there, or point {CACHE_ENV} "
            "at a folder that has it."
        )
    return _pull(chart, version, repo, file_name)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check(chart: str, version: str, data: bytes, source: str) -> None:
    """Refuses `data` unless it is the pinned archive of `chart` at `version`."""
    digest = _sha256(data)
    pin = CHART_ARCHIVE_SHA256.get((chart, version))
    if pin is None:
        raise ChartMissing(
            f"chart {chart} {version} has no sha256 in stacks/pins.py CHART_ARCHIVE_SHA256; "
            f"{source} has sha256 {digest}: compare it with the `digest` its repository's "
            "index.yaml lists for this version, then pin it"
        )
    if digest != pin:
        raise ChartMissing(
            f"chart {chart} {version} from {source} has sha256 {digest}, but stacks/pins.py pins "
            f"{pin}: the archive changed upstream or in the copy; nothing was rendered from it"
        )


def _pull(chart: str, version: str, repo: str, file_name: str) -> Path:
    import helm_python as helm

    cache = machine_cache()
    cache.mkdir(parents=True, exist_ok=True)
    # Pulled beside the cache, checked, then moved in whole: a failed or foreign pull leaves no
    # file a later run would read.
    with tempfile.TemporaryDirectory(dir=cache, prefix=".pull-") as partial:
        try:
            helm.pull(chart, repo_url=repo, version=version, destination=partial)
        except helm.HelmError as error:
            raise ChartMissing(
                f"chart {chart} {version} is in neither the chart cache {cache_dir()} nor "
                f"{cache}, and could not be pulled from {repo}: {str(error).strip()}"
            ) from None
        pulled = Path(partial) / file_name
        if not pulled.is_file():
            raise ChartMissing(f"pulling {chart} {version} from {repo} gave no {file_name}")
        _check(chart, version, pulled.read_bytes(), f"{repo} (pulled)")
        shutil.move(pulled, cache / file_name)
    return cache / file_name
