"""Shared by the signals tests and the query-cost benchmark: the rendered bundle for a stack,
PromQL metric-name extraction, and Grafana variable substitution."""

from __future__ import annotations

import re
from typing import Any, Iterator

import promql_parser

import dashboards
from dashboards.config import SignalsSpec, from_stack
from stack.config import parse, raw_from_files

# Grafana's built-in interval variables, as a 24 h range query with a 60 s step would resolve them.
BUILTINS = {"$__rate_interval": "4m", "$__interval": "1m", "$__range": "1d"}


def spec_for(stack: str = "dev", **overrides: Any) -> SignalsSpec:
    return from_stack(parse(stack, {**raw_from_files(stack), **overrides}))


def bundle_for(stack: str = "dev", **overrides: Any) -> dashboards.Bundle:
    return dashboards.build(spec_for(stack, **overrides))


def substitute(expr: str, values: dict[str, str] | None = None) -> str:
    """Grafana variables replaced: built-ins by durations, ours by the given values (else `.*`)."""
    for name, value in BUILTINS.items():
        expr = expr.replace(name, value)
    values = values or {}

    def one(match: re.Match[str]) -> str:
        return values.get(match.group(1) or match.group(2), ".*")

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", one, expr)


def metric_names(expr: str) -> set[str]:
    """Every metric name a PromQL expression reads (parses it: a syntax error raises)."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        kind = type(node).__name__
        if kind == "VectorSelector":
            if node.name:
                names.add(node.name)
            return
        for attr in ("expr", "lhs", "rhs", "param", "vector_selector"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, (str, int, float)):
                walk(child)
        for arg in getattr(node, "args", None) or []:
            walk(arg)

    walk(promql_parser.parse(expr))
    return names


def panel_queries(bundle: dashboards.Bundle) -> Iterator[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr) for every Prometheus target of every panel."""
    for uid, dash in bundle.specs.items():
        for panel in dash.panels:
            for query in panel.queries:
                yield uid, panel.title, query.expr


def rule_exprs(bundle: dashboards.Bundle) -> Iterator[tuple[str, str]]:
    for body in bundle.rules.values():
        for group in body["groups"]:
            for rule in group["rules"]:
                yield rule.get("record") or rule["alert"], rule["expr"]


def recorded_names(bundle: dashboards.Bundle) -> set[str]:
    return {rule["record"] for body in bundle.rules.values() for group in body["groups"]
            for rule in group["rules"] if "record" in rule}


def alert_names(bundle: dashboards.Bundle) -> set[str]:
    return {rule["alert"] for body in bundle.rules.values() for group in body["groups"]
            for rule in group["rules"] if "alert" in rule}
