"""Custom checks: whether Flagger can read a query's answer, decided from the query alone.

Flagger v1.44.0 sends a check's query to Prometheus's instant-query API and decodes the answer
as a vector (pkg/metrics/providers/prometheus.go, RunQuery and prometheusResponse):
- a scalar or string answer (`scalar(...)`, `1`, `"x"`) does not decode: the check fails with
  "Metric query failed for <check>: error unmarshaling result: ...";
- a range vector (`x[5m]`, a subquery) comes back as a matrix: "query returned multiple values"
  (providers/errors.go ErrMultipleValuesReturned);
- of several series it keeps the value of the last one in the answer and judges that, silently;
- no series, or NaN, is "no values found", which fails the check too.

So a check's query must be an instant vector of at most one series. `problem` refuses what is
certainly not one: the wrong type, or an outermost expression that is not known to reduce to a
single series (the rule below, RULE). It cannot see the data, so it accepts a grouping only by
labels every selector fixes with `=`, and `a or b` only when both sides are single series with
the same labels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

RULE = (
    "an instant vector of one series, which Flagger can judge: make the outermost operation an "
    "aggregation without `by` (sum, avg, min, max, count, quantile, ...) or `by` only labels "
    "every selector fixes with `=`, histogram_quantile over `by (le)`, topk(1, ...), an "
    "arithmetic or comparison of such (`sum(a) / sum(b) * 100`), or `<one series> or on() "
    "vector(0)`"
)
_SAME_VALUE = re.compile(r"^[A-Za-z0-9_:/ .-]*$")
"""A regex matcher value with no special characters matches exactly that text."""


@dataclass(frozen=True)
class Shape:
    """What a (sub)expression returns, as far as the query alone says."""

    kind: str
    """scalar, string, vector or matrix."""
    varying: frozenset[str] | None = None
    """The labels in which its series may differ; empty: at most one series; None: unknown."""
    labels: frozenset[str] | None = None
    """Exactly the labels its series carry (not __name__), when known."""
    pinned: Mapping[str, str] = field(default_factory=dict)
    """Labels every series has with this one value ("" for absent)."""

    @property
    def single(self) -> bool:
        return self.kind == "vector" and self.varying == frozenset()

    def value(self, label: str) -> str | None:
        """The one value `label` has on every series ("" when absent), None when unknown."""
        if label in self.pinned:
            return self.pinned[label]
        if self.labels is not None and label not in self.labels:
            return ""
        return None


def problem(query: str) -> str | None:
    """What Flagger would get from this (rendered, parseable) query when it cannot judge it, to
    follow "this query returns"; None when it can."""
    from stacks.telemetry import promql

    shape = _shape(promql.parse(query))
    if shape.kind in ("scalar", "string"):
        return (
            f'a {shape.kind}, which Flagger cannot decode (the check fails: "error unmarshaling '
            'result")'
        )
    if shape.kind == "matrix":
        return 'a range vector, which Flagger refuses ("query returned multiple values")'
    if not shape.single:
        return "a vector that may hold several series, of which Flagger judges the last, silently"
    return None


def _shape(node: object) -> Shape:
    import promql_parser as p

    if isinstance(node, p.NumberLiteral):
        return Shape("scalar")
    if isinstance(node, p.StringLiteral):
        return Shape("string")
    if isinstance(node, p.VectorSelector):
        return Shape("vector", pinned=_pinned(node))
    if isinstance(node, p.MatrixSelector):
        return _as(_shape(node.vector_selector), "matrix")
    if isinstance(node, p.SubqueryExpr):
        return _as(_shape(node.expr), "matrix")
    if isinstance(node, p.ParenExpr | p.UnaryExpr):
        return _shape(node.expr)
    if isinstance(node, p.Call):
        return _call(node)
    if isinstance(node, p.AggregateExpr):
        return _aggregate(node)
    if isinstance(node, p.BinaryExpr):
        return _binary(node)
    return Shape("vector")


def _as(shape: Shape, kind: str) -> Shape:
    return Shape(kind, shape.varying, shape.labels, shape.pinned)


def _pinned(selector: object) -> dict[str, str]:
    import promql_parser as p

    found = {}
    for m in selector.matchers.matchers:  # type: ignore[attr-defined]
        if m.name == "__name__":
            continue
        if m.op == p.MatchOp.Equal or (m.op == p.MatchOp.Re and _SAME_VALUE.match(m.value)):
            found[m.name] = m.value
    return found


def _call(node: object) -> Shape:
    import promql_parser as p

    name = node.func.name  # type: ignore[attr-defined]
    args = list(node.args)  # type: ignore[attr-defined]
    returns = str(node.func.return_type).rsplit(".", 1)[-1].lower()  # type: ignore[attr-defined]
    if returns != "vector":
        return Shape(returns)
    if name == "vector":
        return Shape("vector", frozenset(), frozenset())
    inner = next(
        (s for s in (_shape(a) for a in args) if s.kind in ("vector", "matrix")), Shape("vector")
    )
    if name in ("absent", "absent_over_time"):
        # Empty, or one series labelled by the selector's `=` matchers.
        return Shape("vector", frozenset(), None, inner.pinned)
    if name in ("label_replace", "label_join"):
        texts = [a.val for a in args if isinstance(a, p.StringLiteral)]
        made = texts[0] if texts else ""
        varying = inner.varying
        if varying:  # a new label's values follow the old ones: series may differ in it too
            varying = varying | {made}
        labels = inner.labels | {made} if inner.labels is not None else None
        return Shape("vector", varying, labels, _without(inner.pinned, {made}))
    if name == "histogram_quantile":
        le = {"le"}
        return Shape(
            "vector",
            inner.varying - le if inner.varying is not None else None,
            inner.labels - le if inner.labels is not None else None,
            _without(inner.pinned, le),
        )
    # Every other function keeps each series (and its labels but the name): rate, increase,
    # abs, clamp_max, sort, *_over_time, ...
    return _as(inner, "vector")


def _aggregate(node: object) -> Shape:
    import promql_parser as p

    inner = _shape(node.expr)  # type: ignore[attr-defined]
    op = str(node.op)  # type: ignore[attr-defined]
    modifier = node.modifier  # type: ignore[attr-defined]
    without = modifier is not None and modifier.type == p.AggModifierType.Without
    listed = frozenset(modifier.labels) if modifier is not None else frozenset()
    if without:
        grouped = Shape(
            "vector",
            inner.varying - listed if inner.varying is not None else None,
            inner.labels - listed if inner.labels is not None else None,
            _without(inner.pinned, listed),
        )
    else:
        by = listed - inner.pinned.keys()
        if inner.varying is not None:
            by &= inner.varying
        grouped = Shape(
            "vector", by, listed, {k: v for k, v in inner.pinned.items() if k in listed}
        )
    if op in ("topk", "bottomk", "limitk", "limit_ratio"):
        # A subset of the input's series, labels and all; k=1 keeps one per group.
        varying: frozenset[str] | None = inner.varying
        k = _literal(node.param)  # type: ignore[attr-defined]
        if op != "limit_ratio" and k == 1 and grouped.varying is not None:
            varying = grouped.varying if varying is None else varying & grouped.varying
        return Shape("vector", varying, inner.labels, inner.pinned)
    if op == "count_values":
        param = node.param  # type: ignore[attr-defined]
        label = param.val if isinstance(param, p.StringLiteral) else ""
        labels = grouped.labels | {label} if grouped.labels is not None else None
        counted = grouped.varying | {label} if grouped.varying is not None else None
        return Shape("vector", counted, labels, grouped.pinned)
    return grouped


def _literal(node: object) -> float | None:
    import promql_parser as p

    while isinstance(node, p.ParenExpr):
        node = node.expr
    return float(node.val) if isinstance(node, p.NumberLiteral) else None


def _binary(node: object) -> Shape:
    import promql_parser as p

    lhs, rhs = _shape(node.lhs), _shape(node.rhs)  # type: ignore[attr-defined]
    if lhs.kind == "scalar" and rhs.kind == "scalar":
        return Shape("scalar")
    if lhs.kind == "scalar":
        return rhs
    if rhs.kind == "scalar":
        return lhs
    op = str(node.op)  # type: ignore[attr-defined]
    modifier = node.modifier  # type: ignore[attr-defined]
    matching = modifier.matching if modifier is not None else None
    on = matching is not None and matching.type == p.LabelModifierType.Include
    listed = frozenset(matching.labels) if matching is not None else frozenset()
    card = modifier.card if modifier is not None else p.VectorMatchCardinality.OneToOne
    if op in ("and", "unless"):
        return lhs  # a subset of the left side's series
    if op == "or":
        return _union(lhs, rhs, on, listed)
    if card == p.VectorMatchCardinality.ManyToOne:  # group_left: one result per left series
        extra = frozenset(modifier.group_labels or ())
        labels = lhs.labels | extra if lhs.labels is not None else None
        return Shape("vector", lhs.varying, labels, _without(lhs.pinned, extra))
    if card == p.VectorMatchCardinality.OneToMany:
        extra = frozenset(modifier.group_labels or ())
        labels = rhs.labels | extra if rhs.labels is not None else None
        return Shape("vector", rhs.varying, labels, _without(rhs.pinned, extra))
    # One-to-one: each result pairs one left with one right series, so there are no more results
    # than either side has; the result keeps the left's labels (only `on`'s, with on()).
    varying = lhs.varying if lhs.varying is not None else rhs.varying
    if frozenset() in (lhs.varying, rhs.varying):
        varying = frozenset()
    if on:
        pinned = {k: v for k in listed if (v := lhs.value(k)) is not None}
        return Shape("vector", varying, listed, pinned)
    labels = lhs.labels - listed if lhs.labels is not None else None
    return Shape("vector", varying, labels, _without(lhs.pinned, listed))


def _union(lhs: Shape, rhs: Shape, on: bool, listed: frozenset[str]) -> Shape:
    """`lhs or rhs`: the left's series, and the right's whose match labels the left lacks. Two
    single series make one exactly when their match labels certainly agree (then the right
    one only fills in for a missing left one, as `or vector(0)` does)."""
    if not (lhs.single and rhs.single):
        return Shape("vector")
    if on:
        compared = listed
    elif lhs.labels is not None and rhs.labels is not None:
        compared = (lhs.labels | rhs.labels) - listed
    else:
        return Shape("vector")
    if any(lhs.value(k) is None or lhs.value(k) != rhs.value(k) for k in compared):
        return Shape("vector")
    labels = lhs.labels if lhs.labels == rhs.labels else None
    pinned = {k: v for k, v in lhs.pinned.items() if rhs.pinned.get(k) == v}
    return Shape("vector", frozenset(), labels, pinned)


def _without(pinned: Mapping[str, str], labels: set[str] | frozenset[str]) -> dict[str, str]:
    return {k: v for k, v in pinned.items() if k not in labels}
