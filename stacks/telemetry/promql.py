"""PromQL checked against what the platform's Prometheus keeps and accepts.

`problems(query)` names every metric the query reads that Prometheus does not keep
(stacks/telemetry/metrics.py), every label such a metric does not carry, and every experimental
feature Prometheus v3.14.0 refuses as configured here; `uses(query)` lists what it reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from stacks.telemetry.metrics import METRICS, NOT_EMITTED

# Prometheus v3.14.0 (what prometheus chart 29.27.0 runs) refuses these unless started with
# --enable-feature=promql-experimental-functions, which the platform does not set:
# promql/parser/functions.go (`Experimental: true`), parse.go (limitk, limit_ratio: lex.go
# IsExperimentalAggregator; binop fill modifiers need promql-binop-fill-modifiers).
EXPERIMENTAL_FUNCTIONS = frozenset(
    {
        "double_exponential_smoothing",
        "end",
        "histogram_quantiles",
        "info",
        "mad_over_time",
        "max_of",
        "min_of",
        "range",
        "sort_by_label",
        "sort_by_label_desc",
        "start",
        "start_timestamp",
        "step",
        "ts_of_first_over_time",
        "ts_of_last_over_time",
        "ts_of_max_over_time",
        "ts_of_min_over_time",
    }
)
EXPERIMENTAL_AGGREGATIONS = frozenset({"limitk", "limit_ratio"})

# Grafana variables and Flagger template variables become plain values before parsing.
_GRAFANA_VARIABLE = re.compile(r"\$\{?(__range|__rate_interval|__interval)\}?")
_PLACEHOLDER = re.compile(r"\$\{?\w+\}?|\{\{\s*[\w.]+\s*\}\}")
_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?(\w+)\)$")
_LABEL_FUNCTIONS = ("label_replace", "label_join")


@dataclass(frozen=True)
class Use:
    metric: str
    """The metric's name, or the pattern of a `{__name__=~"..."}` selector (`regex`)."""
    labels: frozenset[str]
    regex: bool = False


def concrete(query: str) -> str:
    """A dashboard or MetricTemplate query with its variables filled in, ready to parse."""
    text = _GRAFANA_VARIABLE.sub("1m", query)
    text = text.replace("[{{ interval }}]", "[1m]")
    return _PLACEHOLDER.sub("x", text)


def parse(query: str) -> object:
    """The query's syntax tree (promql_parser); ValueError when it does not parse."""
    import promql_parser  # only when a query is checked: most runs never need the parser

    return promql_parser.parse(concrete(query).strip())


def uses(query: str) -> list[Use]:
    """Every metric a query reads, with the labels it selects, groups or joins on."""
    text = concrete(query).strip()
    values = _LABEL_VALUES.match(text)
    if values:  # Grafana's label_values(selector, label)
        selector, label = values.group(1) or "", values.group(2)
        found = uses(selector) if selector else []
        return [Use(u.metric, u.labels | {label}, u.regex) for u in found]
    return list(_walk(parse(text), frozenset()))


def problems(query: str) -> list[str]:
    """What in `query` the platform's Prometheus does not have or would refuse (empty when all
    is real)."""
    try:
        found = uses(query)
        tree = None if _LABEL_VALUES.match(concrete(query).strip()) else parse(query)
    except ValueError as error:  # promql_parser's parse error
        return [f"does not parse: {error}"]
    wrong = [] if tree is None else _experimental(tree)
    for use in found:
        known = _known(use)
        if not known:
            wrong.append(
                f"no metric the platform keeps matches __name__=~{use.metric!r}"
                if use.regex
                else f"metric {use.metric} is kept but no Linkerd proxy of this release exports it"
                if use.metric in NOT_EMITTED
                else f"metric {use.metric} is not scraped by the platform"
            )
        elif unknown := sorted(use.labels - frozenset().union(*(METRICS[m] for m in known))):
            wrong.append(f"{use.metric} has no label(s) {', '.join(unknown)}")
    return wrong


def _known(use: Use) -> list[str]:
    if not use.regex:
        return [use.metric] if use.metric in METRICS else []
    pattern = _anchored(use.metric)
    return [m for m in METRICS if pattern is not None and pattern.fullmatch(m)]


@cache
def _anchored(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _experimental(tree: object) -> list[str]:
    import promql_parser

    found: dict[str, str] = {}  # what -> the feature flag Prometheus would need
    for node in nodes(tree):
        if isinstance(node, promql_parser.Call) and node.func.name in EXPERIMENTAL_FUNCTIONS:
            found[f"{node.func.name}()"] = "promql-experimental-functions"
        elif (
            isinstance(node, promql_parser.AggregateExpr)
            and str(node.op) in EXPERIMENTAL_AGGREGATIONS
        ):
            found[f"{node.op}()"] = "promql-experimental-functions"
        elif isinstance(node, promql_parser.BinaryExpr) and _fill(node):
            found["the fill() modifier"] = "promql-binop-fill-modifiers"
    return [
        f"{what} is experimental: Prometheus v3.14.0 refuses it unless started with "
        f"--enable-feature={flag}, which the platform's Prometheus is not"
        for what, flag in found.items()
    ]


def _fill(node: object) -> bool:
    fill = getattr(getattr(node, "modifier", None), "fill_values", None)
    return fill is not None and (fill.lhs is not None or fill.rhs is not None)


def nodes(node: object) -> Iterator[object]:
    """`node` and every node below it."""
    yield node
    for child in children(node):
        yield from nodes(child)


def children(node: object) -> list[object]:
    """The expressions directly below a node (promql_parser's classes)."""
    import promql_parser

    if isinstance(node, promql_parser.Call):
        return list(node.args)
    if isinstance(node, promql_parser.MatrixSelector):
        return [node.vector_selector]
    if isinstance(node, promql_parser.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, promql_parser.AggregateExpr):
        return [node.expr] if node.param is None else [node.param, node.expr]
    child = getattr(node, "expr", None)
    return [child] if child is not None else []


def _walk(node: object, grouping: frozenset[str]) -> Iterator[Use]:
    import promql_parser

    if isinstance(node, promql_parser.VectorSelector):
        yield from _selector_uses(node, grouping)
        return
    if isinstance(node, promql_parser.AggregateExpr):
        extra = frozenset(node.modifier.labels) if node.modifier is not None else frozenset()
        # count_values("label", v) makes `label`: grouping on it above reads nothing of v.
        yield from _walk(node.expr, (grouping - _created_by(node)) | extra)
        return
    if isinstance(node, promql_parser.BinaryExpr):
        matching = node.modifier.matching if node.modifier is not None else None
        extra = frozenset(matching.labels) if matching is not None else frozenset()
        yield from _walk(node.lhs, grouping | extra)
        yield from _walk(node.rhs, grouping | extra)
        return
    if isinstance(node, promql_parser.Call) and node.func.name in _LABEL_FUNCTIONS:
        # label_replace(v, dst, replacement, src, regex) / label_join(v, dst, sep, src...):
        # dst is made here, so grouping on it reads nothing of v; the sources are read from v.
        texts = [a.val for a in node.args if isinstance(a, promql_parser.StringLiteral)]
        made = {texts[0]} if texts else set()
        sources = texts[2:3] if node.func.name == "label_replace" else texts[2:]
        yield from _walk(node.args[0], (grouping - made) | frozenset(s for s in sources if s))
        return
    for child in children(node):
        yield from _walk(child, grouping)


def _created_by(node: object) -> frozenset[str]:
    import promql_parser

    if str(getattr(node, "op", "")) == "count_values" and isinstance(
        getattr(node, "param", None), promql_parser.StringLiteral
    ):
        return frozenset({node.param.val})  # type: ignore[attr-defined]
    return frozenset()


def _selector_uses(node: object, grouping: frozenset[str]) -> Iterator[Use]:
    import promql_parser

    matchers = node.matchers.matchers  # type: ignore[attr-defined]
    labels = frozenset(m.name for m in matchers if m.name != "__name__") | grouping
    name = node.name  # type: ignore[attr-defined]
    if name:
        yield Use(str(name), labels)
        return
    for m in matchers:  # {__name__="x"} names the metric; {__name__=~"x|y"} a pattern of names
        if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal:
            yield Use(m.value, labels)
            return
        if m.name == "__name__" and m.op == promql_parser.MatchOp.Re:
            yield Use(m.value, labels, regex=True)
            return
