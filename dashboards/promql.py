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


def quantile(q: float, bucket_rates: str, first_bound: float, by: Iterable[str] | None = ()) -> str:
    """histogram_quantile over rated buckets (summed per ``by`` plus ``le``; ``by=None`` when they are
    already summed), dropped where it falls inside the first bucket: there Prometheus interpolates
    between 0 and the first bound, so 1 ms requests read as 0.285 s under a 0.3 s bucket. A gap says
    "under the first bound" honestly."""
    buckets = bucket_rates if by is None else sum_by([*by, "le"], bucket_rates)
    return f"histogram_quantile({q}, {buckets}) > {first_bound!r}"


def share_of(part: str, whole: str, by: Iterable[str]) -> str:
    """sum(part) / sum(whole) per ``by``, reading 0 (not nothing) when no series of ``part`` exists
    yet, such as an error counter that only appears with the first error."""
    whole_sum = sum_by(by, whole)
    return ratio(f"{sum_by(by, part)} or 0 * {whole_sum}", whole_sum)


def le(bound: float) -> str:
    """A matcher value for the histogram bucket ``bound`` that works whether the exporter wrote
    ``1.0`` (Python clients; Prometheus 2 keeps it) or Prometheus 3 normalised it to ``1``."""
    text = repr(float(bound))
    if text.endswith(".0"):
        return "~" + text[:-2] + "(\\.0)?"
    return text


def le_any(bounds: Iterable[float]) -> str:
    """A matcher value for any of these bucket bounds, each written either way (see ``le``)."""
    parts = []
    for bound in bounds:
        text = repr(float(bound)).replace(".", "\\.")
        parts.append(text[:-3] + "(\\.0)?" if text.endswith("\\.0") else text)
    return "~" + "|".join(parts)


def scalar(expr: str) -> str:
    return f"scalar({expr})"


def constant(value: float) -> str:
    """A rule-generated constant (prices, budgets) as an instant vector."""
    return f"vector({value!r})"
