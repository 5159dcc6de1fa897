"""YAML as the Pulumi CLI reads it (stacks/schema/goyaml.py): go-yaml v3.0.1's scalar resolution
(resolve.go) and what the CLI stores of each value (pulumi v3.259.0 sdk/go/common/resource/
config/object.go). Each row is a rule of that source; PyYAML (YAML 1.1) reads most of them
differently, which is why stack files are not read with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.schema import goyaml
from tests.harness import FIXTURES, ROOT

# (plain scalar, what go-yaml v3 resolves it to, what PyYAML's safe_load makes of it)
SCALARS = [
    ("true", True, True),
    ("TRUE", True, True),
    ("yes", "yes", True),
    ("no", "no", False),
    ("on", "on", True),
    ("off", "off", False),
    ("y", "y", "y"),
    ("~", None, None),
    ("Null", None, None),
    ("12:30", "12:30", 750),  # no base 60 in go-yaml
    ("017", 15, 15),  # ParseInt(s, 0, 64): the old octal still reads as octal
    ("0o17", 15, "0o17"),
    ("0x1F", 31, 31),
    ("0b101", 5, 5),
    ("1_000", 1000, 1000),
    ("+12", 12, 12),
    ("08", 8.0, "08"),  # not octal, not an int: yamlStyleFloat takes it
    ("1e3", 1000.0, "1e3"),
    ("1.", 1.0, 1.0),
    (".5", 0.5, 0.5),
    ("1e400", "1e400", "1e400"),  # ParseFloat's range error: text
    ("18446744073709551615", 2**64 - 1, 2**64 - 1),  # ParseUint
    ("6.14.1", "6.14.1", "6.14.1"),
    ("2026-02-30", "2026-02-30", None),  # not a date: text (PyYAML raises)
    ("2026-01-01T10:00:00", "2026-01-01T10:00:00", None),  # a time needs a zone: text
]


@pytest.mark.parametrize(("text", "go", "pyyaml"), SCALARS, ids=[s[0] for s in SCALARS])
def test_plain_scalars_resolve_as_go_yaml_v3_resolves_them(text: str, go: Any, pyyaml: Any) -> None:
    value = goyaml.load(f"key: {text}\n")["key"]
    assert value == go and type(value) is type(go), value
    try:
        theirs = yaml.safe_load(f"key: {text}\n")["key"]
    except ValueError:
        theirs = None
    if pyyaml is not None:
        assert theirs == pyyaml  # how PyYAML differs, where it does
    assert goyaml.load(f'key: "{text}"\n')["key"] == text  # quoted text is always text


@pytest.mark.parametrize(
    ("text", "go_string"),
    [
        ("2026-01-01", "2026-01-01 00:00:00 +0000 UTC"),
        ("2026-1-5 10:20:30.5", "2026-01-05 10:20:30.5 +0000 UTC"),
        ("2026-01-01t01:02:03Z", "2026-01-01 01:02:03 +0000 UTC"),
        ("2026-01-01T10:00:00.123456789+02:00", "2026-01-01 10:00:00.123456789 +0200 +0200"),
    ],
)
def test_dates_are_handed_on_as_go_prints_a_time(text: str, go_string: str) -> None:
    value = goyaml.load(f"key: {text}\n")["key"]
    assert value == text, "the program's own files keep the text written"
    assert goyaml.as_the_cli_holds({"key": value}) == {"key": go_string}
    assert goyaml.as_the_cli_holds({value: 1}) == {go_string: 1}, "a key is printed with %v"


@pytest.mark.parametrize(
    ("value", "json_text", "g_text"),
    [
        (3.0, "3", "3"),
        (3.5, "3.5", "3.5"),
        (1e6, "1000000", "1e+06"),
        (123456789.0, "123456789", "1.23456789e+08"),
        (1e21, "1e+21", "1e+21"),
        (1.5e-7, "1.5e-7", "1.5e-07"),
        (1e-6, "0.000001", "1e-06"),
        (0.0001, "0.0001", "0.0001"),
        (-2.5, "-2.5", "-2.5"),
    ],
)
def test_floats_become_gos_texts(value: float, json_text: str, g_text: str) -> None:
    """encoding/json's float text (what the program receives) and strconv's %g (how yaml.v3
    writes a float, and %v prints a key)."""
    assert goyaml.go_json_number(value) == json_text
    assert goyaml.go_g(value) == g_text


def test_what_the_cli_cannot_store_or_read_is_refused() -> None:
    with pytest.raises(ValueError, match="json: unsupported value: NaN"):
        goyaml.as_the_cli_holds(goyaml.load("a: .nan\n"))
    with pytest.raises(yaml.YAMLError, match="mapping key 'a' already defined at line 1"):
        goyaml.load("a: 1\nb: 2\na: 3\n")
    assert goyaml.as_the_cli_holds(goyaml.load("a: 3.0\nb: [1.0, 2.5]\n")) == {
        "a": 3,
        "b": [1, 2.5],
    }


def _files() -> list[Path]:
    # The project's own files and the suite's, never the user's stack files or services/
    # (`make check` judges those).
    found = [ROOT / "Pulumi.yaml", *FIXTURES.glob("Pulumi.*.yaml")]
    for folder in (ROOT / "examples" / "services", FIXTURES / "services"):
        found += folder.glob("*.yaml")
    return sorted(found)


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_committed_file_reads_the_same_under_both_rules(path: Path) -> None:
    """The mocked runs read these files with PyYAML; what they prove holds for `pulumi up` only
    while both readings agree, as they do for every file in the repository."""
    text = path.read_text()
    assert goyaml.as_the_cli_holds(goyaml.load(text)) == goyaml.as_the_cli_holds(
        yaml.safe_load(text)
    )
