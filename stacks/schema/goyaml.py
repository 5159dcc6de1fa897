"""YAML as go-yaml v3 reads it: the Pulumi CLI's reading of Pulumi.yaml and the stack files, and
the program's reading of services/*.yaml, so both follow the same rules.

PyYAML follows YAML 1.1: `yes`, `no`, `on`, `off` are booleans, `12:30` is the base-60 number 750,
`2026-01-01` a date object. The Pulumi CLI (pulumi v3.259.0 sdk/go/common/encoding/marshal.go)
reads with gopkg.in/yaml.v3 v3.0.1, whose plain scalars resolve as resolve.go says:
  - booleans are only true/True/TRUE and false/False/FALSE; null is ~, null, Null, NULL or empty;
    yes/no/on/off and everything else that is not a number stay text;
  - numbers: `_` removed, then Go's strconv.ParseInt(text, 0, 64) (so 0x1F, 0o17, 0b101 and the
    old octal 017), ParseUint, then a float if it matches `yamlStyleFloat` (1e3, 1., .5); no
    base 60, so 12:30 is text; .inf, -.inf, .nan are floats;
  - an unquoted YYYY-M-D date, with an optional time (T or space) and zone, is a timestamp;
  - a mapping key given twice is an error ("mapping key ... already defined").
`load` reads that way; timestamps come back as `Timestamp`, text equal to what was written.

The CLI then keeps each config value as Go's `object` and hands the program text
(sdk/go/common/resource/config/object.go, MarshalString and unmarshalObject; the stack file is
read, written back with yaml.v3 and read again, workspace/loaders.go LoadProjectStackBytes):
a float becomes Go's JSON text of it (3.0 is "3", so an integer key accepts it), a timestamp
becomes Go's time.Time.String() ("2026-01-01 00:00:00 +0000 UTC"), a key that is not text is
printed with %v, and NaN or an infinity cannot be stored at all (json: unsupported value).
`as_the_cli_holds` applies that to a stack file's values.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import yaml

_NUMBER_START = "-+0123456789."
_FLOAT_SPECIAL = {
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
    **{
        f"{sign}{inf}": (-math.inf if sign == "-" else math.inf)
        for sign in ("", "+", "-")
        for inf in (".inf", ".Inf", ".INF")
    },
}
_YAML_STYLE_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_DOT_FLOAT = re.compile(r"^\.[0-9]+([eE][-+]?[0-9]+)?$")  # what ParseFloat takes after a '.'
# strconv.ParseInt(s, 0, 64) syntax: sign, then 0x / 0b / 0o / leading-0 octal, or decimal.
_GO_INT = re.compile(
    r"^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[bB]([01]+)|0[oO]([0-7]+)|(0[0-7]*)|([1-9][0-9]*))$"
)
# resolve.go allowedTimestampFormats: 2006-1-2T15:4:5.999999999Z07:00 (T or t),
# "2006-1-2 15:4:5.999999999" and 2006-1-2, as Go's time.Parse reads those layouts.
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d{1,9}))?))?$"
)
_GO_SCALAR = "tag:progressive-delivery,2026:go-yaml-v3-scalar"


class Timestamp(str):
    """A scalar go-yaml resolves as a timestamp: the text as written; `go_string` is how the CLI
    prints the moment it names."""

    go_string: str

    def __new__(cls, text: str, go_string: str) -> Timestamp:
        made = super().__new__(cls, text)
        made.go_string = go_string
        return made

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return (str(self), self.go_string)


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader with go-yaml v3's scalar resolution and duplicate-key refusal (on
    libyaml's parser where PyYAML has it: it asks this class's resolvers for every plain scalar,
    so the rules are the same, four times faster on Pulumi.yaml)."""


Loader.yaml_implicit_resolvers = {}
for _first in "tTfF":
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), [_first]
    )
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
Loader.add_implicit_resolver(_GO_SCALAR, re.compile(r"^[-+0-9.]"), list(_NUMBER_START))


def _bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return loader.construct_scalar(node) in ("true", "True", "TRUE")


def _go_scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    return resolve(str(loader.construct_scalar(node)))


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    # go-yaml compares the keys' kind and text as written (decode.go mapping, uniqueKeys).
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode):
            first = seen.setdefault(key.value, key.start_mark.line + 1)
            if first != key.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"mapping key {key.value!r} already defined at line {first}",
                    key.start_mark,
                )
    return loader.construct_mapping(node)


Loader.add_constructor("tag:yaml.org,2002:bool", _bool)
Loader.add_constructor(_GO_SCALAR, _go_scalar)
Loader.add_constructor("tag:yaml.org,2002:map", _mapping)


def resolve(text: str) -> Any:
    """A plain scalar starting with a sign, a digit or '.', as go-yaml v3 resolves it."""
    if text in _FLOAT_SPECIAL:
        return _FLOAT_SPECIAL[text]
    if text.startswith("."):
        return float(text) if _DOT_FLOAT.match(text) else text
    moment = _timestamp(text)
    if moment is not None:
        return Timestamp(text, moment)
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _YAML_STYLE_FLOAT.match(plain):
        value = float(plain)
        if not math.isinf(value):  # ParseFloat's range error: then it stays text
            return value
    return text


def _go_int(plain: str) -> int | None:
    match = _GO_INT.match(plain)
    if match is None:
        return None
    sign, hexa, binary, octal, old_octal, decimal = match.groups()
    if hexa:
        value = int(hexa, 16)
    elif binary:
        value = int(binary, 2)
    elif octal:
        value = int(octal, 8)
    elif old_octal:
        value = int(old_octal, 8)
    else:
        value = int(decimal)
    value = -value if sign == "-" else value
    # ParseInt's int64, else ParseUint's uint64 (which takes no sign).
    if -(2**63) <= value < 2**63 or (not sign and value < 2**64):
        return value
    return None


def _timestamp(text: str) -> str | None:
    """Go's time.Time.String() of the moment `text` names (2006-01-02 15:04:05.999999999 -0700
    MST), or None when it is no timestamp time.Parse accepts. Without a zone it is UTC; with an
    offset Go keeps a zone without a name and prints the offset in its place, except an offset
    equal to the local zone's, which takes that zone's name: +00:00 reads as UTC on a machine
    whose local zone is UTC (CI runners, containers), as assumed here."""
    match = _TIMESTAMP.match(text)
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups()[:3])
    offset = "Z"
    if match[4] is not None:
        clock, fraction, offset = match.groups()[3:6], match[7], match[8]
    elif match[9] is not None:
        clock, fraction = match.groups()[8:11], match[12]
    else:
        clock, fraction = ("0", "0", "0"), None
    hour, minute, second = (int(part) for part in clock)
    try:  # time.Parse's range checks: month, day of that month, hour, minute, second
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    nanos = (fraction or "").ljust(9, "0").rstrip("0")
    text = moment.strftime("%Y-%m-%d %H:%M:%S") + (f".{nanos}" if nanos else "")
    if offset in ("Z", "+00:00", "-00:00"):
        return f"{text} +0000 UTC"
    zone = offset.replace(":", "")
    return f"{text} {zone} {zone}"


def one_line(error: yaml.YAMLError) -> str:
    """A YAML error as one line: what is wrong and where."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(error).split())


def load(text: str) -> Any:
    """`text` read as go-yaml v3 reads it; yaml.YAMLError when it would refuse it."""
    return yaml.load(text, Loader=Loader)


def as_written(value: Any) -> Any:
    """A value read by `load` with each timestamp as the text written (how the program reads
    its own files: services/*.yaml)."""
    if isinstance(value, Timestamp):
        return str(value)
    if isinstance(value, dict):
        return {as_written(k): as_written(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_written(v) for v in value]
    return value


def as_the_cli_holds(value: Any) -> Any:
    """A value read by `load`, as the Pulumi CLI stores it and hands it on: a float as what Go's
    JSON text of it reads back as (3.0 -> 3), timestamps and keys that are not text as Go prints
    them. ValueError for NaN and infinities, which the CLI cannot store."""
    if isinstance(value, Timestamp):
        return value.go_string
    if isinstance(value, float):
        return json.loads(go_json_number(value))
    if isinstance(value, dict):
        return {_key_text(k): as_the_cli_holds(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_the_cli_holds(v) for v in value]
    return value


def _key_text(key: Any) -> str:
    """fmt.Sprintf("%v", key), the CLI's text of a mapping key that is not text
    (object.go unmarshalObject, map[any]any), after its write-and-read-again."""
    if isinstance(key, Timestamp):
        return key.go_string
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "<nil>"
    if isinstance(key, float):
        return go_g(key)
    return str(key)


def go_json_number(value: float) -> str:
    """encoding/json's text of a float64: positional from 1e-6 to below 1e21, else an exponent
    ("1e+21", "1.5e-7": e-09 is shortened to e-9); always the shortest digits that read back
    the same. ValueError for NaN and infinities (json: unsupported value)."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {go_g(value)}")
    if value == 0 or 1e-6 <= abs(value) < 1e21:
        return _positional(value)
    return re.sub(r"e-0(\d)$", r"e-\1", _exponent(value))


def go_g(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 64), how yaml.v3 writes a float and %v prints one:
    an exponent when the decimal exponent is below -4 or 6 and above ("1e+06"), else
    positional; shortest digits."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return _positional(value)
    point = _shortest(value)[2]
    return _positional(value) if -4 <= point - 1 < 6 else _exponent(value)


def _shortest(value: float) -> tuple[bool, str, int]:
    """The sign, the shortest digits that read back as `value`, and where the decimal point
    goes among them (1.5 -> "15", 1; 0.001 -> "1", -2)."""
    exact = Decimal(repr(value)).normalize()
    sign, digits, exponent = exact.as_tuple()
    text = "".join(map(str, digits)) or "0"
    return bool(sign), text, len(text) + int(exponent)


def _positional(value: float) -> str:
    negative, digits, point = _shortest(value)
    if value == 0:
        return "-0" if negative else "0"
    if point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return ("-" if negative else "") + text


def _exponent(value: float) -> str:
    """Go's %e with shortest digits: d.ddde±XX, at least two exponent digits."""
    negative, digits, point = _shortest(value)
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exponent = point - 1
    sign = "-" if exponent < 0 else "+"
    return f"{'-' if negative else ''}{mantissa}e{sign}{abs(exponent):02d}"
