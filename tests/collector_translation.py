"""What the collector's prometheus exporter would serve for captured OTLP telemetry, by the collector's rules.

The pipeline is components/otel_collector.py's: OTLP metrics go to the ``prometheus`` exporter, and
spans go through the ``span_metrics`` connector (its namespace, histogram buckets and dimensions are
read from the declared collector config) into the same exporter. Naming follows the collector's
Prometheus translator (opentelemetry-collector-contrib pkg/translator/prometheus, default
UnderscoreEscapingWithSuffixes, as in collector 0.158):
- metric names: characters outside ``[a-zA-Z0-9_:]`` become ``_``; the unit's suffix is added unless
  the name already ends with it (``s`` -> ``seconds``, ``ms`` -> ``milliseconds``, ``By`` -> ``bytes``;
  ``1`` and ``{...}`` add nothing, except ``_ratio`` for a gauge in ``1``); monotonic sums end in ``_total``;
- labels: attribute keys with the same escaping; ``job`` from ``service.name`` (``service.namespace/``
  first when set), ``instance`` from ``service.instance.id`` when set; ``otel_scope_name`` and
  ``otel_scope_version``;
- span metrics: ``<namespace>.calls`` (monotonic sum) and ``<namespace>.duration`` (histogram, unit of
  the config), with ``service.name``, ``span.name``, ``span.kind``, ``status.code`` and each configured
  dimension present on the span as attributes; the resource is the span's.

The judge sampler's branch (``traces/judge_sampler``): the spans its filter processor keeps, its OTTL
conditions evaluated by tests/ottl.py, re-encoded as the OTLP export its ``otlp_http`` exporter sends.

The capture is one finished run. ``series(t)`` replays it as a steady rate: every counter, histogram
count and bucket at ``t`` seconds is its captured total scaled by ``t / run_seconds``, so ``rate()`` has
something to see; names, labels, bucket layouts and proportions are the captured ones.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from components import otel_collector
from tests import ottl
from tests.otlp_receiver import SPAN_KINDS, Capture, Point, Span, key_values
from tests.platform_support import values_of

Sample = tuple[str, dict[str, str], float]

UNIT_SUFFIXES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds", "By": "bytes",
                 "KiBy": "kibibytes", "MiBy": "mebibytes", "min": "minutes", "h": "hours", "d": "days",
                 "%": "percent"}
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def escape(name: str) -> str:
    escaped = re.sub(r"[^a-zA-Z0-9_:]", "_", name)
    return f"_{escaped}" if escaped[:1].isdigit() else escaped


def metric_name(name: str, unit: str, kind: str, monotonic: bool) -> str:
    base = escape(name)
    unit = re.sub(r"\{[^}]*\}", "", unit or "")
    suffix = UNIT_SUFFIXES.get(unit, "" if unit in ("", "1") else escape(unit))
    if unit == "1" and kind == "gauge":
        suffix = "ratio"
    counter = kind == "sum" and monotonic
    if counter and base.endswith("_total"):
        base = base[: -len("_total")]
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{suffix}"
    return f"{base}_total" if counter else base


def _labels(attributes: dict[str, Any]) -> dict[str, str]:
    return {escape(key): value if isinstance(value, str) else _text(value) for key, value in attributes.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def resource_labels(resource: dict[str, Any], scope: str, scope_version: str) -> dict[str, str]:
    service = str(resource.get("service.name", ""))
    namespace = resource.get("service.namespace")
    labels = {"job": f"{namespace}/{service}" if namespace else service,
              "otel_scope_name": scope, "otel_scope_version": scope_version}
    if resource.get("service.instance.id"):
        labels["instance"] = str(resource["service.instance.id"])
    return labels


def _le(bound: float) -> str:
    return f"{bound:g}"


def parse_duration(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", text).groups()
    return float(number) * DURATION_UNITS[unit]


@dataclass(frozen=True)
class SpanMetricsConfig:
    """The declared span_metrics connector: its metric namespace, histogram unit and buckets, dimensions."""

    namespace: str
    unit: str
    buckets: tuple[float, ...]
    dimensions: tuple[str, ...]

    @classmethod
    def from_collector(cls, collector_config: dict[str, Any]) -> "SpanMetricsConfig":
        connector = collector_config["connectors"]["span_metrics"]
        histogram = connector["histogram"]
        return cls(namespace=connector["namespace"], unit=histogram.get("unit", "ms"),
                   buckets=tuple(parse_duration(b) for b in histogram["explicit"]["buckets"]),
                   dimensions=tuple(d["name"] for d in connector.get("dimensions") or []))


@dataclass(frozen=True)
class Histogram:
    bounds: tuple[float, ...]
    bucket_counts: tuple[int, ...]
    count: int
    total: float


def _histogram_samples(name: str, labels: dict[str, str], histogram: Histogram) -> list[Sample]:
    out: list[Sample] = []
    cumulative = 0
    # OTLP has one more bucket count than bounds (the overflow): that one is +Inf, the total count.
    for bound, count in zip(histogram.bounds, histogram.bucket_counts[: len(histogram.bounds)], strict=True):
        cumulative += count
        out.append((f"{name}_bucket", {**labels, "le": _le(bound)}, float(cumulative)))
    out.append((f"{name}_bucket", {**labels, "le": "+Inf"}, float(histogram.count)))
    out.append((f"{name}_count", labels, float(histogram.count)))
    out.append((f"{name}_sum", labels, histogram.total))
    return out


def point_samples(point: Point) -> list[Sample]:
    name = metric_name(point.name, point.unit, point.kind, point.monotonic)
    labels = {**_labels(point.attributes), **resource_labels(point.resource, point.scope, point.scope_version)}
    if point.kind == "histogram":
        return _histogram_samples(name, labels, Histogram(point.bounds, point.bucket_counts, point.count, point.total))
    return [(name, labels, point.value)]


def span_metric_samples(spans: Iterable[Span], config: SpanMetricsConfig) -> list[Sample]:
    """The span_metrics connector's calls and duration series for these spans."""
    groups: dict[tuple, list[Span]] = defaultdict(list)
    for span in spans:
        dimensions = tuple((d, _text(span.attributes[d])) for d in config.dimensions if d in span.attributes)
        groups[(tuple(sorted(span.resource.items())), span.name, span.kind, span.status, dimensions)].append(span)
    calls = metric_name(f"{config.namespace}.calls", "", "sum", True)
    duration = metric_name(f"{config.namespace}.duration", config.unit, "histogram", True)
    scale = 1.0 if config.unit == "s" else 1000.0
    out: list[Sample] = []
    for (resource, span_name, kind, status, dimensions), members in sorted(groups.items(), key=lambda g: repr(g[0])):
        resource_map = dict(resource)
        attributes = {"service.name": resource_map.get("service.name", ""), "span.name": span_name,
                      "span.kind": kind, "status.code": status, **dict(dimensions)}
        labels = {**_labels(attributes), **resource_labels(resource_map, "spanmetricsconnector", "")}
        out.append((calls, labels, float(len(members))))
        values = [span.duration_seconds * scale for span in members]
        bounds = tuple(b * scale for b in config.buckets)
        counts = [sum(1 for v in values if (i == 0 or v > bounds[i - 1]) and v <= bound) for i, bound in enumerate(bounds)]
        out += _histogram_samples(duration, labels, Histogram(bounds, tuple(counts), len(values), sum(values)))
    return out


def exporter_samples(capture: Capture, config: SpanMetricsConfig) -> list[Sample]:
    """Everything the prometheus exporter serves for this capture, as cumulative totals."""
    samples = [sample for point in capture.points.values() for sample in point_samples(point)]
    return samples + span_metric_samples(capture.spans, config)


def is_cumulative(name: str) -> bool:
    return name.endswith(("_total", "_bucket", "_count", "_sum"))


@dataclass(frozen=True)
class Replay:
    """The capture's totals as series that grow at the rate the run produced them."""

    samples: tuple[Sample, ...]
    run_seconds: float

    def series(self, t: float) -> list[Sample]:
        factor = t / self.run_seconds
        return [(name, labels, value * factor if is_cumulative(name) else value)
                for name, labels, value in self.samples]


def replay_of(run) -> Replay:
    """A tests/real_stack.py run's telemetry as its declared collector's prometheus exporter would serve it."""
    collector = values_of(run.program, "opentelemetry-collector")["alternateConfig"]
    return Replay(tuple(exporter_samples(run.capture, SpanMetricsConfig.from_collector(collector))), run.workload_seconds)


def judge_sampler_spans(collector_config: dict[str, Any], spans: Iterable[Span]) -> list[Span]:
    """What the declared ``traces/judge_sampler`` pipeline passes to its exporter: the spans its filter
    processors keep (tests/ottl.py evaluates their OTTL), in order."""
    pipeline = collector_config["service"]["pipelines"][otel_collector.JUDGE_SAMPLER_PIPELINE]
    kept = list(spans)
    for name in pipeline["processors"]:
        if name.split("/")[0] == "filter":
            kept = ottl.kept_by_filter(collector_config["processors"][name], kept)
    return kept


def export_request(spans: Iterable[Span]) -> ExportTraceServiceRequest:
    """The spans as an OTLP export, grouped by resource and scope as the collector's exporters send them."""
    kinds = {name: number for number, name in SPAN_KINDS.items()}
    request = ExportTraceServiceRequest()
    groups: dict[tuple, list[Span]] = defaultdict(list)
    for span in spans:
        groups[(tuple(sorted(span.resource.items(), key=lambda item: item[0])), span.scope)].append(span)
    for (resource, scope), members in groups.items():
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(key_values(dict(resource)))
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = scope
        for span in members:
            scope_spans.spans.add(
                trace_id=bytes.fromhex(span.trace_id), span_id=bytes.fromhex(span.span_id),
                parent_span_id=bytes.fromhex(span.parent_span_id), trace_state=span.trace_state, name=span.name,
                kind=kinds[span.kind], attributes=key_values(span.attributes),
            )
    return request
