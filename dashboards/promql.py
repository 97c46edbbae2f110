"""A small PromQL builder: selectors, rates, aggregations, safe ratios and quantiles, without string soup.

Every function returns a plain PromQL string, so rules and panels stay readable in review and any
expression can be parsed and checked on its own. Grafana variables (``$namespace``) pass through
untouched inside matchers.
"""

from __future__ import annotations

from typing import Iterable, Mapping

Matchers = Mapping[str, str]


def _matcher(label: str, value: str) -> str:
    """``label="v"`` for plain values; ``=~`` when the value is a regex or a Grafana variable;
    ``!=``/``!~`` when the value starts with ``!``."""
    negate = value.startswith("!")
    if negate:
        value = value[1:]
    regex = value.startswith("~") or "$" in value or any(c in value for c in "|*+()[]")
    if value.startswith("~"):
        value = value[1:]
    op = ("!" if negate else "") + ("~" if regex else "=")
    if op == "~":
        op = "=~"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{label}{op}"{escaped}"'


def selector(metric: str, matchers: Matchers | None = None, **extra: str) -> str:
    """``metric{a="b",c=~"$var"}``; matchers come from the config, ``extra`` from the caller."""
    merged = {**(matchers or {}), **extra}
    if not merged:
        return metric
    return metric + "{" + ",".join(_matcher(k, v) for k, v in merged.items()) + "}"


def rate(series: str, window: str) -> str:
    return f"rate({series}[{window}])"


def increase(series: str, window: str) -> str:
    return f"increase({series}[{window}])"


def sum_by(labels: Iterable[str], expr: str, op: str = "sum") -> str:
    labels = list(labels)
    if not labels:
        return f"{op}({expr})"
    return f"{op} by ({', '.join(labels)}) ({expr})"


def ratio(numerator: str, denominator: str, on: Iterable[str] | None = None) -> str:
    """numerator / denominator, leaving gaps instead of NaN/Inf where the denominator is zero."""
    matching = "" if on is None else f" on({', '.join(on)})"
    return f"({numerator}) /{matching} ({denominator} > 0)"


def share(part: str, whole: str) -> str:
    """part / whole like ``ratio``, but 0 where ``part`` has no series: no failed calls is a 0 % error rate,
    not a gap. Both sides must keep the same labels."""
    return ratio(f"{part} or ({whole}) * 0", whole)


def quantile(q: float, bucket_rates: str, by: Iterable[str] = ()) -> str:
    """histogram_quantile over already-rated buckets, kept per ``by`` plus ``le``."""
    labels = [*by, "le"]
    return f"histogram_quantile({q}, {sum_by(labels, bucket_rates)})"


def le(bound: float) -> str:
    """A matcher value for the histogram bucket ``bound`` that works whether the exporter wrote
    ``1.0`` (Python clients; Prometheus 2 keeps it) or Prometheus 3 normalised it to ``1``."""
    text = repr(float(bound))
    if text.endswith(".0"):
        return "~" + text[:-2] + "(\\.0)?"
    return text


def scalar(expr: str) -> str:
    return f"scalar({expr})"


def constant(value: float) -> str:
    """A rule-generated constant (prices, budgets) as an instant vector."""
    return f"vector({value!r})"
