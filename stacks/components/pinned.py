"""Building block: a file the platform downloads, pinned by sha256 and cached on this machine.

`pulumi up` (and every preview) reads each pinned file from the first place that has it with the
right digest: a mirror directory laid out like the upstream copies in ../shared
(`$PINNED_FILES_MIRROR`, for offline runs and tests), then this machine's cache, then the network
(once; the cache keeps it). A file whose sha256 differs from its pin is an error naming the file,
the URL and both digests, never silently used.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MIRROR_ENV = "PINNED_FILES_MIRROR"
DOWNLOAD_TIMEOUT_SECONDS = 30


class PinnedFileError(Exception):
    """A pinned file could not be had with its pinned digest."""


class NotCached(PinnedFileError):
    """A pinned file is in neither the mirror nor the cache, and was not to be downloaded."""


@dataclass(frozen=True)
class PinnedFile:
    url: str
    sha256: str
    mirror_path: str
    """Where a mirror keeps the byte-identical copy, e.g. dashboards/linkerd-edge-26.8.3/pod.json."""

    @property
    def name(self) -> str:
        return self.mirror_path.rsplit("/", 1)[-1]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "progressive-delivery" / "pinned"


def read(pinned: PinnedFile, *, download: bool = True) -> bytes:
    """The file's bytes, verified against its pin (mirror, then cache, then one download).

    With `download=False` a file in neither the mirror nor the cache is an error, not a download
    (the tests' offline check)."""
    mirror = os.environ.get(MIRROR_ENV)
    if mirror and (Path(mirror) / pinned.mirror_path).is_file():
        return _verified(pinned, (Path(mirror) / pinned.mirror_path).read_bytes(), "the mirror")
    cached = cache_dir() / pinned.sha256
    if cached.is_file():
        data = cached.read_bytes()
        if hashlib.sha256(data).hexdigest() == pinned.sha256:
            return data
        cached.unlink()  # a damaged cache entry is fetched again
    if not download:
        raise NotCached(
            f"{pinned.mirror_path} is in neither the mirror ({MIRROR_ENV}: {mirror or 'unset'}) "
            f"nor this machine's cache ({cache_dir()})"
        )
    data = _verified(pinned, _download(pinned), pinned.url)
    cached.parent.mkdir(parents=True, exist_ok=True)
    temporary = cached.with_suffix(".partial")
    temporary.write_bytes(data)
    temporary.replace(cached)
    return data


def read_text(pinned: PinnedFile) -> str:
    return read(pinned).decode("utf-8")


def _verified(pinned: PinnedFile, data: bytes, source: str) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    if digest != pinned.sha256:
        raise PinnedFileError(
            f"{pinned.name} from {source} has sha256 {digest}, but stacks/pins.py pins "
            f"{pinned.sha256} for {pinned.url}: the file changed upstream or in the mirror; "
            "nothing was created. Re-check the file and update the pin on purpose."
        )
    return data


def _download(pinned: PinnedFile) -> bytes:
    try:
        with urllib.request.urlopen(pinned.url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            data: bytes = response.read()
            return data
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise PinnedFileError(
            f"cannot download {pinned.url} ({error}); without network, point "
            f"{MIRROR_ENV} at a directory holding {pinned.mirror_path}"
        ) from None
