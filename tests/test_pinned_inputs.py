"""Pinned chart archives and files without ../shared: fetched once (digests checked) when online,
one clear line when offline. Charts are pulled with Helm's own client from a chart repository
served on loopback; the session check runs in a real pytest process."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stacks import pins
from stacks.components import pinned
from tests import chart_cache, pinned_inputs
from tests.harness import HELM_RELEASE, ROOT, STACKS, Run

SHARED = ROOT.parent / "shared"


class Repository:
    """A Helm chart repository (index.yaml + archives) on 127.0.0.1, counting what it serves."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.served: list[str] = []
        repo = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self) -> None:
                repo.served.append(self.path)
                super().do_GET()

            def log_message(self, *_args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def publish(self, chart: str, version: str, data: bytes) -> None:
        """Serves `data` as `chart` `version`, listed in index.yaml as Helm repositories do."""
        file_name = f"{chart}-{version}.tgz"
        (self.root / file_name).write_bytes(data)
        index_file = self.root / "index.yaml"
        index = yaml.safe_load(index_file.read_text()) if index_file.exists() else None
        index = index or {"apiVersion": "v1", "entries": {}}
        index["entries"][chart] = [
            {
                "apiVersion": "v2",
                "name": chart,
                "version": version,
                "digest": hashlib.sha256(data).hexdigest(),
                "urls": [file_name],
            }
        ]
        index_file.write_text(yaml.safe_dump(index))

    def archives_served(self) -> list[str]:
        return [path for path in self.served if path.endswith(".tgz")]


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[Repository]:
    (tmp_path / "repo").mkdir()
    repo = Repository(tmp_path / "repo")
    yield repo
    repo.server.shutdown()
    repo.server.server_close()


@pytest.fixture
def no_shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout without ../shared and an empty cache on this machine; online."""
    monkeypatch.setenv(chart_cache.CACHE_ENV, str(tmp_path / "no-shared" / "charts"))
    monkeypatch.setenv(pinned.MIRROR_ENV, str(tmp_path / "no-shared"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in chart_cache.OFFLINE_ENVS:
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "cache" / "progressive-delivery"


def shared_archive(chart: str, version: str) -> bytes:
    return (SHARED / "charts" / f"{chart}-{version}.tgz").read_bytes()


def test_every_pin_is_the_digest_of_the_shared_copy() -> None:
    for (chart, version), digest in pins.CHART_ARCHIVE_SHA256.items():
        assert hashlib.sha256(shared_archive(chart, version)).hexdigest() == digest, chart


def test_every_chart_a_stack_installs_is_pinned(runs: dict[str, Run]) -> None:
    for stack in STACKS:
        for release in runs[stack].of_type(HELM_RELEASE):
            key = (release.inputs["chart"], release.inputs["version"])
            assert key in pins.CHART_ARCHIVE_SHA256, f"{stack}: {key} has no archive pin"
    pinned_charts = {(c, v) for c, v, _ in pinned_inputs.charts()}
    assert pinned_charts == set(pins.CHART_ARCHIVE_SHA256)


def test_online_a_missing_chart_is_pulled_once_then_read_from_the_cache(
    no_shared: Path, repository: Repository
) -> None:
    data = shared_archive("loadtester", "0.38.0")
    repository.publish("loadtester", "0.38.0", data)
    first = chart_cache.archive("loadtester", "0.38.0", repository.url)
    assert first == no_shared / "charts" / "loadtester-0.38.0.tgz"
    assert first.read_bytes() == data
    again = chart_cache.archive("loadtester", "0.38.0", repository.url)
    assert again == first
    assert repository.archives_served() == ["/loadtester-0.38.0.tgz"], "pulled once"


def test_a_pulled_archive_with_another_digest_is_refused_and_not_kept(
    no_shared: Path, repository: Repository
) -> None:
    # The same chart, compressed again: another archive, as a changed upstream would serve.
    other = gzip.compress(gzip.decompress(shared_archive("loadtester", "0.38.0")), mtime=1)
    repository.publish("loadtester", "0.38.0", other)
    with pytest.raises(chart_cache.ChartMissing) as refused:
        chart_cache.archive("loadtester", "0.38.0", repository.url)
    assert f"has sha256 {hashlib.sha256(other).hexdigest()}" in str(refused.value)
    assert f"pins {pins.CHART_ARCHIVE_SHA256[('loadtester', '0.38.0')]}" in str(refused.value)
    assert list((no_shared / "charts").iterdir()) == [], "nothing refused stays in the cache"


def test_a_shared_copy_with_another_digest_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "flagger-1.44.0.tgz").write_bytes(b"not the chart")
    monkeypatch.setenv(chart_cache.CACHE_ENV, str(tmp_path / "charts"))
    with pytest.raises(chart_cache.ChartMissing, match=r"flagger 1\.44\.0 from .* has sha256"):
        chart_cache.archive("flagger", "1.44.0", "https://flagger.app", pull=False)


def test_a_damaged_cache_entry_is_pulled_again(no_shared: Path, repository: Repository) -> None:
    data = shared_archive("loadtester", "0.38.0")
    repository.publish("loadtester", "0.38.0", data)
    (no_shared / "charts").mkdir(parents=True)
    (no_shared / "charts" / "loadtester-0.38.0.tgz").write_bytes(data[:100])
    assert chart_cache.archive("loadtester", "0.38.0", repository.url).read_bytes() == data


def test_a_version_without_a_pin_names_the_digest_to_check(
    no_shared: Path, repository: Repository
) -> None:
    data = shared_archive("loadtester", "0.38.0")
    repository.publish("loadtester", "0.38.0-bumped", data)
    with pytest.raises(chart_cache.ChartMissing) as refused:
        chart_cache.archive("loadtester", "0.38.0-bumped", repository.url)
    message = str(refused.value)
    assert "no sha256 in stacks/pins.py CHART_ARCHIVE_SHA256" in message
    assert hashlib.sha256(data).hexdigest() in message
    assert "index.yaml" in message


def serve_pinned_files(monkeypatch: pytest.MonkeyPatch, downloads: list[str]) -> None:
    """The upstream URLs of the pinned files answer with ../shared's byte-identical copies."""
    by_url = {file.url: SHARED / file.mirror_path for file in pinned_inputs.files()}

    class Response:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def __enter__(self) -> Response:
            return self

        def __exit__(self, *_args: object) -> bool:
            return False

        def read(self) -> bytes:
            return self.data

    def urlopen(url: str, timeout: float) -> Response:
        downloads.append(url)
        return Response(by_url[url].read_bytes())

    monkeypatch.setattr(pinned.urllib.request, "urlopen", urlopen)


def test_online_the_session_check_fetches_everything_once(
    no_shared: Path, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    for chart, version in pins.CHART_ARCHIVE_SHA256:
        repository.publish(chart, version, shared_archive(chart, version))
    monkeypatch.setattr(
        pinned_inputs,
        "charts",
        lambda: ((c, v, repository.url) for c, v in pins.CHART_ARCHIVE_SHA256),
    )
    downloads: list[str] = []
    serve_pinned_files(monkeypatch, downloads)

    assert pinned_inputs.problem() is None
    files = list(pinned_inputs.files())
    assert len(repository.archives_served()) == len(pins.CHART_ARCHIVE_SHA256)
    assert len(downloads) == len(files)
    assert pinned_inputs.problem() is None
    assert len(repository.archives_served()) == len(pins.CHART_ARCHIVE_SHA256), "fetched once"
    assert len(downloads) == len(files), "fetched once"
    for file in files:
        assert pinned.read(file, download=False) == (SHARED / file.mirror_path).read_bytes()


def test_online_without_network_one_failed_download_ends_the_fetching(
    no_shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = "http://127.0.0.1:9"  # the discard port: nothing answers
    monkeypatch.setattr(
        pinned_inputs,
        "charts",
        lambda: ((c, v, unreachable) for c, v in pins.CHART_ARCHIVE_SHA256),
    )
    downloads: list[str] = []
    serve_pinned_files(monkeypatch, downloads)

    problem = pinned_inputs.problem()
    assert problem is not None
    assert "\n" not in problem
    assert downloads == [], "no download after the first failed one"
    total = len(pins.CHART_ARCHIVE_SHA256) + len(list(pinned_inputs.files()))
    assert problem.startswith(f"{total} of the {total} pinned files the tests read are not here (")
    assert f"could not be pulled from {unreachable}" in problem


def test_offline_without_shared_the_session_stops_with_one_line(tmp_path: Path) -> None:
    """A real pytest run, as `make test` starts it, in a checkout without ../shared."""
    env = {
        **os.environ,
        chart_cache.CACHE_ENV: str(tmp_path / "no-shared" / "charts"),
        pinned.MIRROR_ENV: str(tmp_path / "no-shared"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "CHARTS_OFFLINE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_runbook.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    total = len(pins.CHART_ARCHIVE_SHA256) + len(list(pinned_inputs.files()))
    assert lines[0].startswith(f"ERROR: {total} of the {total} pinned files the tests read")
    assert "nothing is fetched offline (CI or CHARTS_OFFLINE is set)" in lines[0]
    assert f"({SHARED})" in lines[0]
    assert "passed" not in result.stdout and "failed" not in result.stdout
