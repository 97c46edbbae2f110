"""The part of OTTL the declared filter conditions use, parsed and evaluated on captured spans as the
contrib collector's filter processor would (opentelemetry-collector-contrib at the collector's pin, 0.158).

From its sources:
- grammar (pkg/ottl/grammar.go): ``booleanExpression := term ("or" term)*``, ``term := value ("and"
  value)*``, ``value := "not"? (comparison | converter | "(" booleanExpression ")")``; comparisons ``==``
  and ``!=``; literals are double-quoted strings (backslash escapes), ``nil``, ``true``, ``false``;
- span paths (pkg/ottl/contexts/internal/ctxspan/span.go): ``name``, ``attributes["k"]`` (nil when the
  key is absent), ``trace_state["k"]`` (exactly one key; the W3C entry's value, "" when absent, as
  go.opentelemetry.io/otel/trace.TraceState.Get), ``resource.attributes["k"]``;
- comparison (pkg/ottl/compare.go): nil equals only nil; strings compare by value;
- ``IsMatch(target, "re2")``: false for a nil target (ottlfuncs/func_is_match.go);
- the filter processor drops a span when any of its ``traces.span`` conditions is true; with
  ``error_mode: ignore`` a condition that fails to evaluate counts as false.
Anything else raises: a condition this parser does not know has not been checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from tests.otlp_receiver import Span

TOKEN = re.compile(r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>==|!=|\(|\)|\[|\]|,|\.)|(?P<word>[A-Za-z_][A-Za-z0-9_]*))')
KEYED_PATHS = {("attributes",), ("trace_state",), ("resource", "attributes")}
PLAIN_PATHS = {("name",)}
CONVERTERS = {"IsMatch"}

Evaluator = Callable[[Span], Any]


def tokens(condition: str) -> list[tuple[str, str]]:
    found, position = [], 0
    while position < len(condition.rstrip()):
        match = TOKEN.match(condition, position)
        if not match or match.end() == position:
            raise ValueError(f"OTTL: cannot read {condition[position:]!r} in {condition!r}")
        kind = match.lastgroup
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


def _trace_state(span: Span) -> dict[str, str]:
    entries = (entry.strip().partition("=") for entry in span.trace_state.split(",") if entry.strip())
    return {key: value for key, _, value in entries}


@dataclass
class _Parser:
    items: list[tuple[str, str]]
    at: int = 0

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def take(self, expected: str | None = None) -> str:
        item = self.peek()
        if item is None or (expected is not None and item[1] != expected):
            raise ValueError(f"OTTL: expected {expected or 'more'}, found {item}")
        self.at += 1
        return item[1]

    def expression(self) -> Evaluator:
        terms = [self.term()]
        while self.peek() == ("word", "or"):
            self.take()
            terms.append(self.term())
        return lambda span: any(term(span) for term in terms)

    def term(self) -> Evaluator:
        values = [self.boolean()]
        while self.peek() == ("word", "and"):
            self.take()
            values.append(self.boolean())
        return lambda span: all(value(span) for value in values)

    def boolean(self) -> Evaluator:
        if self.peek() == ("word", "not"):
            self.take()
            inner = self.boolean()
            return lambda span: not inner(span)
        if self.peek() == ("op", "("):
            self.take()
            inner = self.expression()
            self.take(")")
            return inner
        left = self.value()
        if self.peek() in (("op", "=="), ("op", "!=")):
            operator = self.take()
            right = self.value()
            if operator == "==":
                return lambda span: left(span) == right(span)
            return lambda span: left(span) != right(span)
        return lambda span: left(span) is True

    def value(self) -> Evaluator:
        kind, text = self.peek() or ("", "")
        if kind == "string":
            self.take()
            literal = re.sub(r"\\(.)", r"\1", text[1:-1])
            return lambda span: literal
        if kind != "word":
            raise ValueError(f"OTTL: a value expected, found {text!r}")
        if text in ("nil", "true", "false"):
            self.take()
            constant = {"nil": None, "true": True, "false": False}[text]
            return lambda span: constant
        if text in CONVERTERS:
            return self.converter()
        return self.path()

    def converter(self) -> Evaluator:
        self.take("IsMatch")
        self.take("(")
        target = self.value()
        self.take(",")
        kind, pattern = self.peek() or ("", "")
        if kind != "string":
            raise ValueError("OTTL: IsMatch's pattern must be a string literal here")
        self.take()
        regex = re.compile(re.sub(r"\\(.)", r"\1", pattern[1:-1]))
        self.take(")")
        return lambda span: isinstance(target(span), str) and regex.search(target(span)) is not None

    def path(self) -> Evaluator:
        parts = [self.take()]
        while self.peek() == ("op", "."):
            self.take()
            parts.append(self.take())
        names = tuple(parts)
        if names in PLAIN_PATHS:
            return lambda span: span.name
        if names not in KEYED_PATHS:
            raise ValueError(f"OTTL: span path {'.'.join(names)} is not one this parser knows")
        self.take("[")
        kind, key = self.peek() or ("", "")
        if kind != "string":
            raise ValueError("OTTL: a map key must be a string literal here")
        self.take()
        self.take("]")
        if self.peek() == ("op", "["):
            raise ValueError("OTTL: trace_state takes exactly one key" if names == ("trace_state",) else
                             "OTTL: nested keys are not read here")
        key = key[1:-1]
        if names == ("trace_state",):
            return lambda span: _trace_state(span).get(key, "")
        if names == ("attributes",):
            return lambda span: span.attributes.get(key)
        return lambda span: span.resource.get(key)


def condition(text: str) -> Evaluator:
    parser = _Parser(tokens(text))
    evaluate = parser.expression()
    if parser.peek() is not None:
        raise ValueError(f"OTTL: unexpected {parser.peek()} in {text!r}")
    return evaluate


def kept_by_filter(processor: dict[str, Any], spans: list[Span]) -> list[Span]:
    """The spans a filter processor with ``traces.span`` conditions passes on (the rest it drops)."""
    assert set(processor) <= {"error_mode", "traces"} and set(processor["traces"]) == {"span"}, processor
    drops = [condition(text) for text in processor["traces"]["span"]]
    return [span for span in spans if not any(drop(span) for drop in drops)]
